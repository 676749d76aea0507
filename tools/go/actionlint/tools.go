//go:build tools

// Package tools pins github.com/rhysd/actionlint (the version go.mod requires; Dependabot bumps it) for tools/gobin.py, which builds github.com/rhysd/actionlint/cmd/actionlint
// from this directory with -mod=readonly. Regenerate go.mod/go.sum with go get, not go mod tidy
// (see tools/gobin.py).
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
