//go:build tools

// Package tools pins github.com/nektos/act (the version go.mod requires; Dependabot bumps it) for tools/gobin.py, which builds github.com/nektos/act
// from this directory with -mod=readonly. Regenerate go.mod/go.sum with go get, not go mod tidy
// (see tools/gobin.py).
package tools

import _ "github.com/nektos/act"
