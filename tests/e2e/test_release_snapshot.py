"""`release --snapshot` end to end: real Go builds, real archives, the real GatewayD installer."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from gatewayd_plugin_actions.gatewayd import postgres
from tests.conftest import EXAMPLE_PLUGIN, RunCli, copy_plugin, git_init

EXAMPLE_MODULE = "github.com/gatewayd-plugin-actions/gatewayd-plugin-example"
EXAMPLE_NAME = "gatewayd-plugin-example"


def tree_digest(dist: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dist.iterdir()) if p.is_file()}


def make_unseen_plugin(dest: Path, owner: str = "acme-labs", name: str = "pg-audit-trail") -> Path:
    """A plugin we have not seen: another module path and name, main package at the root, a
    `plugin.Version` variable, and runtime files it ships next to the binary."""
    project = copy_plugin(EXAMPLE_PLUGIN, dest / name)
    module = f"github.com/{owner}/{name}"
    for path in [*project.rglob("*.go"), project / "go.mod", project / "gatewayd_plugin.yaml",
                 project / "README.md", project / "Makefile"]:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            text = text.replace(EXAMPLE_MODULE, module).replace(EXAMPLE_NAME, name)
            text = text.replace("gatewayd-plugin-actions/", f"{owner}/")
            path.write_text(text, encoding="utf-8")
    (project / "rules").mkdir()
    (project / "rules" / "deny.txt").write_text("DROP TABLE\n", encoding="utf-8")
    script = project / "hooks.sh"
    script.write_text("#!/bin/sh\necho audit\n", encoding="utf-8")
    script.chmod(0o755)
    return project


def snapshot(run_cli: RunCli, project: Path, dist: Path, *extra: str | Path) -> subprocess.CompletedProcess[str]:
    result = run_cli("release", "--snapshot", "--project", project, "--dist", dist, *extra)
    assert result.returncode == 0, result.stderr
    return result


def test_example_snapshot_is_verified_and_byte_identical(run_cli: RunCli, example_project: Path,
                                                         tmp_path: Path) -> None:
    first = snapshot(run_cli, example_project, tmp_path / "a", "--version", "v0.1.0")
    snapshot(run_cli, example_project, tmp_path / "b", "--version", "v0.1.0")
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    names = sorted(tree_digest(tmp_path / "a"))
    assert names == sorted([f"{EXAMPLE_NAME}-{goos}-{arch}-v0.1.0.{'zip' if goos == 'windows' else 'tar.gz'}"
                            for goos in ("linux", "darwin", "windows") for arch in ("amd64", "arm64")]
                           + ["checksums.txt", "metadata.json"])
    assert re.search(r"built +linux/amd64", first.stderr), "one progress line per target"
    verified = run_cli("verify", "--dist", tmp_path / "a")
    assert verified.returncode == 0, verified.stderr
    assert "installable (6 targets)" in verified.stderr


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_unseen_prerelease_plugin_installs_with_real_gatewayd(run_cli: RunCli, tmp_path: Path,
                                                              gatewayd_binaries: dict[str, Path]) -> None:
    project = make_unseen_plugin(tmp_path)
    git_init(project, tag="v2.1.0-rc.1")  # the default version is the tag on HEAD
    extra = ("--extra-files", "rules", "hooks.sh", "--targets", "linux/amd64,linux/arm64,darwin/arm64,windows/amd64")
    for version, gatewayd in sorted(gatewayd_binaries.items()):
        dist = tmp_path / f"dist-{version}"
        result = snapshot(run_cli, project, dist, *extra, "--gatewayd-binary", gatewayd)
        assert "answered the go-plugin handshake" in result.stderr
        # the real installer took the archive and GatewayD reported the injected version through GetPlugins
        assert (f"installed pg-audit-trail-linux-amd64-v2.1.0-rc.1.tar.gz with `gatewayd plugin install` and "
                f"loaded it in GatewayD {version}") in result.stderr, result.stderr
        assert re.search(r"loaded it in GatewayD .*: pg-audit-trail 2\.1\.0-rc\.1,", result.stderr), result.stderr
    dists = [tmp_path / f"dist-{v}" for v in sorted(gatewayd_binaries)]
    assert tree_digest(dists[0]) == tree_digest(dists[1]), "two snapshots of one commit are byte-identical"
    meta = json.loads((dists[0] / "metadata.json").read_text())
    assert meta["version"] == "v2.1.0-rc.1" and meta["prerelease"] is True
    assert meta["version_variable"] == "github.com/acme-labs/pg-audit-trail/plugin.Version"
    with tarfile.open(dists[0] / "pg-audit-trail-linux-amd64-v2.1.0-rc.1.tar.gz") as archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        assert names[0] == "pg-audit-trail" and members[0].mode == 0o755
        assert {"rules", "rules/deny.txt", "hooks.sh", "checksum.txt", "gatewayd_plugin.yaml"} <= set(names)
        assert names.index("rules") < names.index("rules/deny.txt")
        binary = archive.extractfile(members[0])
        assert binary is not None
        assert b"2.1.0-rc.1" in binary.read(), "the injected version is in the host binary"


def test_untagged_snapshot_gets_a_snapshot_version(run_cli: RunCli, example_project: Path, tmp_path: Path) -> None:
    result = snapshot(run_cli, example_project, tmp_path / "d", "--targets", "linux/amd64")
    meta = json.loads((tmp_path / "d" / "metadata.json").read_text())
    assert re.fullmatch(r"v0\.0\.0-snapshot\.g[0-9a-f]{7}", meta["version"]), meta["version"]
    assert "(prerelease)" in result.stderr


def test_release_without_tag_or_snapshot_is_refused(run_cli: RunCli, example_project: Path) -> None:
    result = run_cli("build", "--project", example_project, "--targets", "linux/amd64")
    assert result.returncode == 1
    assert "no version: pass --version" in result.stderr


@pytest.mark.parametrize(("variable", "message"), [
    ("https://github.com/x/y/plugin.Version", "contains a URL scheme"),
    (f"{EXAMPLE_MODULE}/plugin.Missing", "no string variable Missing"),
    ("github.com/elsewhere/mod/plugin.Version", "outside this module"),
])
def test_bad_version_variable_is_refused_before_building(run_cli: RunCli, example_project: Path, tmp_path: Path,
                                                         variable: str, message: str) -> None:
    result = run_cli("release", "--snapshot", "--project", example_project, "--dist", tmp_path / "d",
                     "--version", "v1.0.0", "--version-variable", variable)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "d").exists(), "nothing is built when the version cannot be injected"


def test_bad_tag_is_refused(run_cli: RunCli, example_project: Path, tmp_path: Path) -> None:
    result = run_cli("release", "--snapshot", "--project", example_project, "--version", "1.2.3")
    assert result.returncode == 1
    assert "not a tag `gatewayd plugin install" in result.stderr


def test_foreign_dist_directory_is_never_deleted(run_cli: RunCli, example_project: Path, tmp_path: Path) -> None:
    dist = tmp_path / "precious"
    dist.mkdir()
    (dist / "notes.txt").write_text("keep me")
    result = run_cli("release", "--snapshot", "--project", example_project, "--dist", dist, "--version", "v1.0.0")
    assert result.returncode == 1
    assert "was not made by gatewayd-plugin-actions" in result.stderr
    assert (dist / "notes.txt").read_text() == "keep me"


def test_broken_go_code_reports_the_compiler_error(run_cli: RunCli, example_project: Path, tmp_path: Path) -> None:
    (example_project / "broken.go").write_text("package main\n\nfunc broken() { undefinedThing() }\n")
    result = run_cli("release", "--snapshot", "--project", example_project, "--dist", tmp_path / "d",
                     "--version", "v1.0.0", "--targets", "linux/amd64")
    assert result.returncode == 1
    assert "go build failed for linux/amd64" in result.stderr
    assert "undefinedThing" in result.stderr


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_unseen_plugin_reports_its_injected_version_to_gatewayd(run_cli: RunCli, tmp_path: Path,
                                                                 gatewayd_binaries: dict[str, Path],
                                                                 postgres_server: postgres.LocalServer) -> None:
    """The version the release injects is the one GatewayD's GetPlugins shows for the loaded plugin."""
    project = make_unseen_plugin(tmp_path)
    git_init(project, tag="v2.1.0-rc.1")
    result = run_cli("test-plugin", "--project", project, "--gatewayd-binary", gatewayd_binaries["v0.11.1"],
                     "--postgres-url", postgres_server.target.url(), "--health-check-period", "500ms")
    assert result.returncode == 0, result.stderr
    assert re.search(r"loaded: pg-audit-trail 2\.1\.0-rc\.1, hooks ", result.stderr), result.stderr
