#!/usr/bin/env bash
# The demo: one VM's life in a throwaway state directory, timed.
set -euo pipefail
microvm=$(realpath "${1:-bin/microvm}")
here=$(cd "$(dirname "$0")/.." && pwd)
export MICROVM_STATE_DIR=$(mktemp -d /tmp/microvm-demo.XXXXXX)
trap 'rm -rf "$MICROVM_STATE_DIR"' EXIT

step() {
	local t0=${EPOCHREALTIME/./}
	echo "\$ microvm $*"
	"$microvm" "$@"
	echo "  ($(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms)"
	echo
}

step create hello --from "$here/examples/hello"
step list
HELLO_SECONDS=2 step run hello
step list --json
step remove hello
echo "demo done; state directory was $MICROVM_STATE_DIR"
