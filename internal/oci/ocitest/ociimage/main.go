// Command ociimage writes a docker-archive of a test image for scripts
// (scripts/bench-image.sh): the host's static busybox, optionally a layer
// of -mib MiB of random files, and ARG... as its entrypoint.
//
//	go run ./internal/oci/ocitest/ociimage [-mib N] OUT.tar ARG...
package main

import (
	"flag"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/oci/ocitest"
)

func main() {
	mib := flag.Int("mib", 0, "MiB of random files in a second layer")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: ociimage [-mib N] OUT.tar ARG...")
		os.Exit(2)
	}
	if err := write(flag.Arg(0), flag.Args()[1:], *mib); err != nil {
		fmt.Fprintf(os.Stderr, "ociimage: %v\n", err)
		os.Exit(1)
	}
}

func write(out string, args []string, mib int) error {
	entries, err := ocitest.Busybox(guest.DefaultBusybox)
	if err != nil {
		return err
	}
	base, err := ocitest.Layer(entries...)
	if err != nil {
		return err
	}
	layers := []v1.Layer{base}
	if mib > 0 {
		l, err := ocitest.Layer(ocitest.RandomFiles(mib)...)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	img, err := ocitest.Image(v1.Config{Entrypoint: args}, layers...)
	if err != nil {
		return err
	}
	return ocitest.WriteArchive(out, "bench:latest", img)
}
