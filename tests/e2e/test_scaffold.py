"""A plugin made by GatewayD's own `gatewayd plugin scaffold` goes through validate, release and test-plugin.

This is the plugin most authors start from, so it must work with the templates unchanged (after the
`go mod tidy` the scaffold itself asks for: its go.sum is incomplete as generated)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gatewayd_plugin_actions.gatewayd import postgres
from tests.conftest import RunCli, git_init
from tests.fixtures.plugin_repos import SCAFFOLD_NAME as NAME


@pytest.fixture(scope="module")
def scaffolded(fresh_scaffold: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("scaffold") / NAME
    shutil.copytree(fresh_scaffold, project)
    subprocess.run(["go", "mod", "tidy"], cwd=project, check=True, capture_output=True)
    git_init(project, tag="v0.2.0")
    return project


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_scaffolded_plugin_validates_and_releases(run_cli: RunCli, scaffolded: Path, tmp_path: Path,
                                                  gatewayd_binaries: dict[str, Path]) -> None:
    validated = run_cli("validate", "--project", scaffolded)
    assert validated.returncode == 0, validated.stderr
    result = run_cli("release", "--snapshot", "--project", scaffolded, "--dist", tmp_path / "dist",
                     "--targets", "linux/amd64,windows/arm64", "--gatewayd-binary",
                     gatewayd_binaries["v0.11.1"])
    assert result.returncode == 0, result.stderr
    assert (f"installed {NAME}-linux-amd64-v0.2.0.tar.gz with `gatewayd plugin install` and loaded it in "
            "GatewayD v0.11.1") in result.stderr, result.stderr
    # The scaffold has no `var Version`, only a literal in its PluginID: say so rather than inject into nothing.
    assert "no -X" in result.stderr and "no plugin.Version variable found" in result.stderr


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_scaffolded_plugin_loads_in_gatewayd(run_cli: RunCli, scaffolded: Path, gatewayd_binaries: dict[str, Path],
                                             postgres_server: postgres.LocalServer) -> None:
    result = run_cli("test-plugin", "--project", scaffolded, "--gatewayd-binary", gatewayd_binaries["v0.10.3"],
                     "--postgres-url", postgres_server.target.url(), "--health-check-period", "500ms")
    assert result.returncode == 0, result.stderr
    assert re.search(rf"loaded: {NAME} 0\.1\.0, hooks OnConfigLoaded, .*, OnTick, custom hook 1000 \(",
                     result.stderr), result.stderr
    # The scaffold lists HookName(1000) "for testing purposes"; GatewayD skips numbers outside the enum.
    assert ("lists hook 1000, which the SDK's HookName enum does not name: GatewayD v0.10.3 (v0.10.3, "
            in result.stderr), result.stderr
    # Its env names METRICS_UNIX_DOMAIN_SOCKET=/tmp/<name>.sock, a file the plugin creates: not a missing path.
    assert "METRICS_UNIX_DOMAIN_SOCKET=/tmp/" in (scaffolded / "gatewayd_plugin.yaml").read_text()
    assert "no such file" not in result.stderr, result.stderr


def test_untidy_module_gets_a_go_mod_tidy_hint(run_cli: RunCli, scaffolded: Path, tmp_path: Path) -> None:
    (scaffolded / "go.sum").rename(tmp_path / "go.sum")
    try:
        result = run_cli("release", "--snapshot", "--project", scaffolded, "--dist", tmp_path / "dist",
                         "--targets", "linux/amd64")
    finally:
        (tmp_path / "go.sum").rename(scaffolded / "go.sum")
    assert result.returncode == 1
    assert "go.mod/go.sum are not tidy: run `go mod tidy`" in result.stderr
    assert "Traceback" not in result.stderr
