# The two commands a new user needs: `make demo` and `make test`.
GO ?= go
BIN := bin/microvm

.PHONY: all build test test-systemd test-debian test-package test-kube demo bench fmt clean package release reproducible

all: build

# microvm-init, the init of image VMs, goes next to microvm, where builds
# look for it; static, as it runs in an initramfs without libc.
build:
	$(GO) build -o $(BIN) ./cmd/microvm
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/microvm-init ./cmd/microvm-init

# vet, then every test with the race detector. Root-only tests skip with a
# reason when not run as root; the systemd tier (internal/systemdtest)
# also needs systemd-nspawn, which install-deps.sh installs. The timeout
# leaves room for the Debian tier's first build of its image
# (debootstrap, minutes; cached after).
test:
	./scripts/install-deps.sh || echo "continuing without them: the boot tests will skip"
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 45m ./...
	cd tools/package && $(GO) vet . && $(GO) test -count=1 .

# The distribution tier alone: a debootstrap'd Debian guest (its image
# cached in /var/cache/microvm-test) boots from an overlay, gets its
# hostname and SSH key from cloud-init, and is logged into over SSH on the
# default network. Root only; skips when the Debian mirror is unreachable.
test-debian:
	./scripts/install-deps.sh
	$(GO) test -count=1 -timeout 45m -run 'TestScripts/boot_debian$$' -v ./internal/cli/

# The systemd tier alone: microvm's units under a real systemd, booted by
# systemd-nspawn from an overlay of this machine's root (root only).
test-systemd:
	./scripts/install-deps.sh || echo "continuing without them: the tier will skip"
	$(GO) test -count=1 -v ./internal/systemdtest/

# The cluster tier alone: microvm kubelet on three hosts against a real
# control plane (etcd, kube-apiserver, scheduler, controller-manager),
# built from Go modules by scripts/build-kube.sh into a per-machine cache
# (/var/cache/microvm-test/kube; about 15 minutes the first time). Root
# only; skips when the control plane cannot be built.
test-kube:
	./scripts/install-deps.sh || echo "continuing without them: the real VM scenario will skip"
	$(GO) test -count=1 -timeout 45m -v ./internal/kubetest/

# Boot a real guest under qemu in a throwaway state directory and shut it
# down gracefully; installs the Debian packages it needs when missing.
demo: build
	./scripts/install-deps.sh
	./scripts/demo.sh $(BIN)

bench:
	./scripts/bench-list.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

# Release builds (tools/package, a module of its own so nfpm stays out of
# go.mod, and so out of `go test ./...`: its own tests run first here):
# static binaries, the version stamped in, reproducible. VERSION
# and SOURCE_DATE_EPOCH come from git; outside a checkout pass both.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
ARCH ?= $(shell $(GO) env GOARCH)
PACKAGE = cd tools/package && $(GO) test -count=1 . && $(GO) run . -src $(CURDIR) -out $(CURDIR)/dist \
	-version '$(VERSION)' -epoch '$(SOURCE_DATE_EPOCH)'

# The Debian package for this machine's architecture (or ARCH=arm64),
# with its binaries: dist/microvm_VERSION_ARCH.deb, dist/linux-ARCH/.
package:
	$(PACKAGE) -arch $(ARCH)

# Every release architecture, and the checksums of what was built (into
# a clean dist/).
release:
	rm -rf dist
	$(PACKAGE) -arch amd64,arm64
	cd dist && sha256sum microvm_*.deb linux-*/microvm* > SHA256SUMS

# The package test alone (root, systemd tier): install, run the demo
# guest through microvm@, remove and purge, reinstall; its transcript in
# dist/package-test.txt.
test-package:
	./scripts/install-deps.sh || echo "continuing without them: the test will skip"
	mkdir -p dist
	MICROVM_PACKAGE_TRANSCRIPT=$(CURDIR)/dist/package-test.txt \
		$(GO) test -count=1 -v -timeout 20m -run 'TestPackage$$' ./internal/systemdtest/

# Build the package twice from the same commit in two directories and
# compare the bytes.
reproducible:
	./scripts/reproducible.sh $(ARCH)

clean:
	rm -rf bin dist
