//go:build tools

// Package tools pins crd-ref-docs, which `make api-docs` builds to write
// docs/api-reference.md from the Election's Go types, so that `go mod tidy` keeps
// its dependencies in go.sum.
package tools

import (
	_ "github.com/elastic/crd-ref-docs"
)
