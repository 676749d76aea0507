//go:build tools

// Package tools pins github.com/gatewayd-io/gatewayd v0.10.3 for tools/gobin.py, which builds github.com/gatewayd-io/gatewayd
// from this directory with -mod=readonly. Regenerate go.mod/go.sum with go get, not go mod tidy
// (see tools/gobin.py).
package tools

import _ "github.com/gatewayd-io/gatewayd"
