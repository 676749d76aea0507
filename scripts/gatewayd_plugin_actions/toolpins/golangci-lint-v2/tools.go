//go:build tools

// Package golangcilintv2 holds the golangci-lint v2 release the test action builds on the newest Go this
// module's `go` directive names (checks/golangci.py reads both from go.mod here). Dependabot's gomod ecosystem
// bumps the release, and `go get` raises the `go` directive with it. Nothing builds this package.
package golangcilintv2

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
