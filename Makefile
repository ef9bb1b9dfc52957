# The two commands a new user needs: `make demo` and `make test`.
GO ?= go
BIN := bin/microvm

.PHONY: all build test demo bench vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/microvm

# vet, then every test with the race detector. Root-only tests skip with a
# reason when not run as root.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# Create a VM from the example runner in a throwaway state directory, list
# it, run it until it powers off, and remove it.
demo: build
	./scripts/demo.sh $(BIN)

bench:
	./scripts/bench-list.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
