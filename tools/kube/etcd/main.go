// Command etcd is etcd's own server main, built from the module pinned in
// ../go.mod: Debian's etcd-server (3.4) is older than Kubernetes 1.37
// supports.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
