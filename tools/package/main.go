// Command package builds microvm's release: static binaries for each
// architecture and a Debian package of them (nfpm, as a library), into
// dist/. It is its own module so that nfpm and its dependencies stay out
// of the product's go.mod; `make package` and `make release` run it:
//
//	go run . -src ../.. -out ../../dist -version "$(git describe --tags --always --dirty)" \
//		-epoch "$(git log -1 --format=%ct)" -arch amd64,arm64
//
// The same source, version and epoch give the same bytes
// (scripts/reproducible.sh checks it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "package: %v\n", err)
		if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	src := fs.String("src", "../..", "the microvm source tree (the root of its module)")
	out := fs.String("out", "../../dist", "where the binaries and packages go")
	version := fs.String("version", "", "the version to stamp in (git describe --tags --always --dirty)")
	epoch := fs.String("epoch", "", "the time of every file, in seconds since 1970 (git log -1 --format=%ct: the commit's time)")
	arches := fs.String("arch", runtime.GOARCH, "comma-separated architectures: amd64, arm64")
	noDeb := fs.Bool("no-deb", false, "build the binaries only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *version == "" {
		return fmt.Errorf("%w: -version is required (make passes git describe's; outside a git checkout pass VERSION=…)", errUsage)
	}
	debVer, err := debianVersion(*version)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil || secs <= 0 {
		return fmt.Errorf("%w: -epoch %q: expected seconds since 1970, like git log -1 --format=%%ct prints", errUsage, *epoch)
	}
	mtime := time.Unix(secs, 0).UTC()
	srcDir, err := filepath.Abs(*src)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(srcDir, "cmd", "microvm")); err != nil {
		return fmt.Errorf("%w: -src %q: not the microvm source tree (no cmd/microvm)", errUsage, *src)
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	var archList []string
	for _, a := range strings.Split(*arches, ",") {
		if _, ok := debArch[a]; !ok {
			return fmt.Errorf("%w: -arch %q: expected amd64 or arm64", errUsage, a)
		}
		archList = append(archList, a)
	}

	for _, arch := range archList {
		binDir := filepath.Join(outDir, "linux-"+arch)
		if err := buildBinaries(ctx, srcDir, binDir, arch, *version); err != nil {
			return err
		}
		fmt.Printf("built %s\n", binDir)
		if *noDeb {
			continue
		}
		deb, err := writeDeb(debInput{
			Arch: arch, Version: debVer, StampedVersion: *version, MTime: mtime,
			BinDir: binDir, SrcDir: srcDir, OutDir: outDir,
		})
		if err != nil {
			return fmt.Errorf("packaging for %s: %w", arch, err)
		}
		fmt.Printf("wrote %s\n", deb)
	}
	return nil
}
