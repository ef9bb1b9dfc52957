package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// versionVar is the variable the linker stamps the version into (see
// internal/cli/version.go).
const versionVar = "github.com/microvm-host/microvm/internal/cli.buildVersion"

// binaries are the commands the release ships, side by side: the OCI
// image code looks for microvm-init next to microvm.
var binaries = []string{"microvm", "microvm-init"}

// buildArgs is the go build command line of a release binary: static
// (no cgo: os/user then reads /etc/passwd and /etc/group itself, so users
// only NSS knows, LDAP for example, are not found), without the build
// machine's paths (-trimpath), without the build ID (it hashes the
// inputs' paths and the toolchain's files, not only their content) and
// without VCS stamps (a dirty tree would differ by its mtime), so the
// same source and version give the same bytes.
func buildArgs(out, pkg, version string) []string {
	return []string{"build", "-o", out, "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid= -X " + versionVar + "=" + version, pkg}
}

// buildEnv is the environment of a release build for arch.
func buildEnv(arch string) []string {
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch, "GOFLAGS="}
	if arch == "arm64" {
		env = append(env, "GOARM64=v8.0")
	}
	if arch == "amd64" {
		env = append(env, "GOAMD64=v1")
	}
	return env
}

// buildBinaries builds the release binaries for arch into dir.
func buildBinaries(ctx context.Context, src, dir, arch, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if strings.ContainsAny(version, " '\"\\\n") {
		return fmt.Errorf("version %q: no spaces, quotes or backslashes", version)
	}
	for _, name := range binaries {
		argv := buildArgs(filepath.Join(dir, name), "./cmd/"+name, version)
		cmd := exec.CommandContext(ctx, "go", argv...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), buildEnv(arch)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s for %s: go %s: %w\n%s", name, arch, strings.Join(argv, " "), err, out)
		}
	}
	return nil
}
