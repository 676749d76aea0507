"""Version integrity of the released binary: the release gate loads the host build in a real GatewayD and the
version the plugin reports there (GetPlugins' ``id.version``, which GatewayD takes verbatim from the plugin's
GetPluginConfig) must be the tag's. Through the real CLI, with the example plugin and its ``literal-version``
variant (PluginID's Version is the literal "9.9.9", not the injected variable)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd_plugin_actions.gatewayd import postgres
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.verify.gate import version_mismatch
from tests.conftest import RunCli, clean_env
from tests.fixtures.go import LITERAL_VERSION
from tests.verify.test_gate import cli_env, timed

GATEWAYD = "v0.11.1"
MISMATCH = (f"gatewayd-plugin-example reports {LITERAL_VERSION} but the tag is {{tag}}; set PluginID's Version "
            "from the `Version` variable the release injects")


def release_snapshot(run_cli: RunCli, project: Path, dist: Path, *extra: str | Path) -> tuple[int, str]:
    result, _ = timed(lambda: run_cli("release", "--snapshot", "--project", project, "--targets", "linux/amd64",
                                      "--dist", dist, *extra, env=cli_env(clean_env()), timeout=300))
    return result.returncode, result.stderr


@pytest.fixture
def in_gatewayd(gatewayd_binaries: dict[str, Path], postgres_server: postgres.LocalServer) -> list[str | Path]:
    """The options that load the host build in a real GatewayD, against a real PostgreSQL."""
    return ["--gatewayd-binary", gatewayd_binaries[GATEWAYD], "--postgres-url", postgres_server.target.url()]


def problem_lines(stderr: str, text: str) -> list[str]:
    """The stderr lines that report a problem saying ``text``: outside Actions a problem is printed as
    ``<file>: <message>`` (the ``::error`` annotation goes to stdout, on Actions only)."""
    return [line for line in stderr.splitlines() if text in line]


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_the_example_reports_the_tag_and_is_released(run_cli: RunCli, example_project: Path, tmp_path: Path,
                                                     in_gatewayd: list[str | Path]) -> None:
    code, stderr = release_snapshot(run_cli, example_project, tmp_path / "dist", "--version", "v1.2.3", *in_gatewayd)
    assert code == 0, stderr
    assert re.search(rf"loaded it in GatewayD {GATEWAYD} .*?: gatewayd-plugin-example 1\.2\.3,", stderr), stderr
    assert "reports 9.9.9" not in stderr and "but the tag is" not in stderr


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_a_plugin_reporting_another_version_is_not_released(run_cli: RunCli, broken_plugin: Callable[..., Path],
                                                            tmp_path: Path, in_gatewayd: list[str | Path]) -> None:
    dist = tmp_path / "dist"
    code, stderr = release_snapshot(run_cli, broken_plugin("literal-version"), dist, "--version", "v1.2.3",
                                    *in_gatewayd)
    assert code != 0, f"a binary that reports {LITERAL_VERSION} was released as v1.2.3:\n{stderr}"
    assert re.search(rf"loaded it in GatewayD {GATEWAYD} .*?: gatewayd-plugin-example {re.escape(LITERAL_VERSION)},",
                     stderr), "it loads fine: only the version is wrong"
    wanted = MISMATCH.format(tag="v1.2.3")
    mismatches = problem_lines(stderr, wanted)
    assert len(mismatches) == 1, f"want the mismatch once, as one line:\n{stderr}"
    assert mismatches[0].startswith("gatewayd-plugin-example-linux-amd64-v1.2.3.tar.gz: release gate in GatewayD: ")
    assert stderr.rstrip().splitlines()[-1].startswith("error: "), "the closing line says nothing was published"
    assert "-X github.com/gatewayd-plugin-actions/gatewayd-plugin-example/plugin.Version=1.2.3" in mismatches[0]
    assert "--version-variable" in mismatches[0]
    record = json.loads((dist / "metadata.json").read_text(encoding="utf-8"))["verification"]
    assert record["passed"] is False and "install" in record["checks"], record


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_verify_checks_a_snapshot_version_recorded_in_the_dist(run_cli: RunCli, broken_plugin: Callable[..., Path],
                                                               tmp_path: Path, in_gatewayd: list[str | Path]) -> None:
    """Untagged: a snapshot version is injected, and `verify` of that dist later reads it from metadata.json."""
    dist = tmp_path / "dist"
    code, stderr = release_snapshot(run_cli, broken_plugin("literal-version"), dist)
    assert code == 0, f"without GatewayD only the handshake runs, and it passes:\n{stderr}"
    tag = json.loads((dist / "metadata.json").read_text(encoding="utf-8"))["version"]
    assert re.fullmatch(r"v0\.0\.0-snapshot\.g[0-9a-f]{7}", tag), tag
    result = run_cli("verify", "--dist", dist, *in_gatewayd, env=cli_env(clean_env()), timeout=300)
    assert result.returncode != 0, result.stderr
    assert len(problem_lines(result.stderr, MISMATCH.format(tag=tag))) == 1, result.stderr


def test_the_reported_version_is_the_injected_number_or_the_tag() -> None:
    """GatewayD shows the plugin's own id.version verbatim: "1.2.3" (what -X injects) or "v1.2.3" both name the
    tag v1.2.3; anything else does not, and the message then names the variable when one was injected."""
    tag = Version.parse("v1.2.3-rc.1")
    assert tag.is_reported_as("1.2.3-rc.1") and tag.is_reported_as("v1.2.3-rc.1")
    assert not any(tag.is_reported_as(other) for other in ("", "1.2.3", "V1.2.3-rc.1", " 1.2.3-rc.1", "0.0.0-dev"))
    line = version_mismatch("p", "", tag, None)
    assert line.startswith("release gate in GatewayD: p reports no version but the tag is v1.2.3-rc.1; ")
    assert "-X" not in line and "\n" not in line
