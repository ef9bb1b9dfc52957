package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/microvm-host/microvm/internal/guest"
)

// debianCacheDir is where the Debian tier keeps its base image between
// runs, per machine; MICROVM_TEST_CACHE moves it.
func debianCacheDir() string {
	if d := os.Getenv("MICROVM_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/microvm-test"
}

var debianMirror = sync.OnceValue(func() error {
	return guest.DefaultDebian.MirrorReachable(context.Background(), 15*time.Second)
})

// condDebianMirror: the Debian base image is cached, or debootstrap's
// mirror answers, so the tier can build it.
func condDebianMirror() bool {
	if _, err := os.Stat(guest.DefaultDebian.ImagePath(debianCacheDir())); err == nil {
		return true
	}
	return debianMirror() == nil
}

// debianimage: build the Debian base image, or find it cached, and name
// it in $DEBIAN_BASE. The first build takes minutes (debootstrap).
func cmdDebianImage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 {
		ts.Fatalf("usage: debianimage")
	}
	start := time.Now()
	log := slog.New(slog.NewTextHandler(ts.Stderr(), nil))
	path, err := guest.DefaultDebian.Build(context.Background(), debianCacheDir(), log)
	ts.Check(err)
	ts.Logf("Debian base image %s ready after %s", path, time.Since(start).Round(time.Second))
	ts.Setenv("DEBIAN_BASE", path)
}

// waitlong FILE REGEXP SECONDS: waitfor with a timeout of its own, for
// guests slower than the demo one (a distribution under TCG).
func cmdWaitLong(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: waitlong FILE REGEXP SECONDS")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	secs, err := strconv.Atoi(args[2])
	ts.Check(err)
	start := time.Now()
	for time.Since(start) < time.Duration(secs)*time.Second {
		if b, err := os.ReadFile(ts.MkAbs(args[0])); err == nil && re.Match(b) {
			ts.Logf("%q after %s", args[1], time.Since(start).Round(100*time.Millisecond))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(ts.MkAbs(args[0]))
	// What usually explains a guest that did not get there, then the end.
	notable := regexp.MustCompile(`(?m)^.*(Failed|Timed out|Dependency failed|microvm|cidata|Datasource).*$`).FindAll(b, 100)
	if len(b) > 8192 {
		b = b[len(b)-8192:]
	}
	ts.Fatalf("%s has no line matching %q after %d s; notable lines:\n%s\nit ends:\n%s", args[0], args[1], secs, bytes.Join(notable, []byte("\n")), b)
}
