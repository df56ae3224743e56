//go:build tools

// Package tools pins CoreDNS, the local cluster's DNS (hack/local-cluster.sh builds
// its main package), so that `go mod tidy` keeps its dependencies in go.sum.
package tools

import (
	_ "github.com/coredns/coredns"
)
