// Command microvm runs MicroVM runner packages on any Linux host.
package main

import (
	"os"

	"github.com/microvm-host/microvm/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
