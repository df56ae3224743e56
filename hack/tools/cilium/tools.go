//go:build tools

// Package tools pins the Cilium commands that hack/build-addons.sh builds,
// so that `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "github.com/cilium/cilium/daemon"
	_ "github.com/cilium/cilium/plugins/cilium-cni"
)
