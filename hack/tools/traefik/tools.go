//go:build tools

// Package tools pins the Traefik command that hack/build-addons.sh builds,
// so that `go mod tidy` keeps its dependencies in go.sum.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
