# The two commands a new user needs: `make demo` and `make test`.
GO ?= go
BIN := bin/microvm

.PHONY: all build test test-systemd test-debian test-kube demo bench fmt clean

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

clean:
	rm -rf bin
