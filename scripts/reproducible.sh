#!/usr/bin/env bash
# Builds the release of HEAD twice, from copies of the tree in two
# different directories (each with `make package`), and compares every
# file byte for byte: the same commit must give the same binaries and
# the same .deb. Usage: scripts/reproducible.sh [ARCH] (default: this
# machine's). The second build gets a Go build cache of its own (set
# SHARED_CACHE=1 to skip that and save minutes of CPU), so a compiler
# result cached by the first cannot hide a difference.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-$(go env GOARCH)}
rev=$(git rev-parse --short HEAD)
version=$(git describe --tags --always "$rev")
epoch=$(git log -1 --format=%ct "$rev")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in one two-in-another-dir; do
	mkdir -p "$tmp/$d"
	git archive "$rev" | tar -x -C "$tmp/$d"
done
make -C "$tmp/one" package ARCH="$arch" VERSION="$version" SOURCE_DATE_EPOCH="$epoch"
if [ -z "${SHARED_CACHE:-}" ]; then
	export GOCACHE="$tmp/gocache"
fi
make -C "$tmp/two-in-another-dir" package ARCH="$arch" VERSION="$version" SOURCE_DATE_EPOCH="$epoch"
(cd "$tmp/one/dist" && find . -type f | sort | xargs sha256sum) > "$tmp/one.sums"
(cd "$tmp/two-in-another-dir/dist" && find . -type f | sort | xargs sha256sum) > "$tmp/two.sums"
if ! diff -u "$tmp/one.sums" "$tmp/two.sums"; then
	echo "reproducible: two builds of $rev differ" >&2
	exit 1
fi
echo "reproducible: two builds of $version ($rev) are identical:"
cat "$tmp/one.sums"
