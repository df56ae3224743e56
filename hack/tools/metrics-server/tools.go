//go:build tools

// Package tools pins metrics-server, which hack/build-addons.sh builds,
// so that `go mod tidy` keeps its dependencies in go.sum.
package tools

import (
	_ "sigs.k8s.io/metrics-server/cmd/metrics-server"
)
