//go:build tools

// Package toolpins holds the version of each Go tool the test action builds with the project's own Go
// (`go install pkg@version`, gotools.pinned_version reads it from go.mod here), so that Dependabot's
// gomod ecosystem bumps it like any other dependency. Nothing builds this package.
package toolpins

import _ "golang.org/x/vuln/cmd/govulncheck"
