// Command microvm-init is the init of image VMs (package ociinit). Build
// it static — CGO_ENABLED=0 go build ./cmd/microvm-init — and install it
// next to the microvm binary, where `microvm build` looks for it.
package main

import (
	"fmt"
	"os"

	"github.com/microvm-host/microvm/internal/guest/ociinit"
)

func main() {
	err := ociinit.Main()
	fmt.Fprintf(os.Stderr, "microvm-init: %v\n", err)
	os.Exit(1)
}
