// Command etcd is the etcd server that envtest starts, built from the etcd module
// because no prebuilt binary can be downloaded.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
