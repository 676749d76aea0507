"""Which Go, golangci-lint and govulncheck the test action uses, and the key of the cache that holds them."""

from __future__ import annotations

import platform
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, gotools
from gatewayd_plugin_actions.checks import golangci, govulncheck


def tools_plan(project: Path, golangci_lint_version: str, report_dir: Path) -> dict[str, str]:
    """The plan as the action's outputs: versions, the tools dir, and a cache key keyed by the Go version,
    both tool versions and go.sum (prefix = the restore key)."""
    goversion = gotools.go_version(project)
    lint = golangci.plan(project, goversion, golangci_lint_version)
    tools = gotools.tools_root() / goversion
    system = f"{platform.system()}-{platform.machine()}".lower()
    prefix = (f"gatewayd-plugin-actions-test-{system}-{goversion}-golangci-lint-{lint.version}-"
              f"govulncheck-{govulncheck.GOVULNCHECK.version}-")
    go_sum = project / "go.sum"
    key = prefix + (contract.sha256_file(go_sum)[:16] if go_sum.is_file() else "none")
    actions_io.progress(f"Go: {goversion}")
    actions_io.progress(f"golangci-lint: {lint.version} ({lint.reason})")
    actions_io.progress(f"govulncheck: {govulncheck.GOVULNCHECK.version}")
    actions_io.progress(f"tools cache: {tools} (key {key})")
    return {
        "go-version": goversion,
        "golangci-lint-version": lint.version,
        "golangci-lint-config": str(lint.config or ""),
        "govulncheck-version": govulncheck.GOVULNCHECK.version,
        "cache-path": str(tools),
        "cache-key": key,
        "cache-restore-key": prefix,
        "report-dir": str(report_dir),
    }
