# The two commands a new user needs: `make demo` and `make test`.
GO ?= go
BIN := bin/microvm

.PHONY: all build test test-systemd demo bench fmt clean

all: build

# microvm-init, the init of image VMs, goes next to microvm, where builds
# look for it; static, as it runs in an initramfs without libc.
build:
	$(GO) build -o $(BIN) ./cmd/microvm
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/microvm-init ./cmd/microvm-init

# vet, then every test with the race detector. Root-only tests skip with a
# reason when not run as root; the systemd tier (internal/systemdtest)
# also needs systemd-nspawn, which install-deps.sh installs.
test:
	./scripts/install-deps.sh || echo "continuing without them: the boot tests will skip"
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# The systemd tier alone: microvm's units under a real systemd, booted by
# systemd-nspawn from an overlay of this machine's root (root only).
test-systemd:
	./scripts/install-deps.sh || echo "continuing without them: the tier will skip"
	$(GO) test -count=1 -v ./internal/systemdtest/

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
