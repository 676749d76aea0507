"""``package``: deterministic, installable archives, and the extra files a plugin may ship.

The binaries are tiny fake executables (``tests/fixtures/dist_factory.py``), so these tests need no Go toolchain; the
real builds are covered by the release tests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import stat
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from gatewayd_plugin_actions import contract, verify
from gatewayd_plugin_actions import dist as dist_layout
from gatewayd_plugin_actions.dist import Archive
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.manifest import load_manifest
from gatewayd_plugin_actions.release import package, stages
from gatewayd_plugin_actions.release.context import Binary, Options, ReleaseContext
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS, Target
from tests.conftest import RunCli
from tests.fixtures.dist_factory import MTIME, PLUGIN, TAG, binary_for, manifest_text

LINUX_AMD64 = Target("linux", "amd64")
WINDOWS_AMD64 = Target("windows", "amd64")
STANDARD_ORDER = [PLUGIN, "LICENSE", "README.md", contract.BINARY_CHECKSUM_FILE, contract.MANIFEST_FILE]

# The fake binaries here cannot start; the gate has its own tests with real builds (test_release_gate).
NO_GATE = verify.GateOptions(enabled=False)


@dataclass
class Setup:
    project: Path
    ctx: ReleaseContext
    binaries: dict[Target, Binary]

    def package(self, target: Target) -> Archive:
        return package.package_target(self.ctx, self.binaries[target])

    def package_all(self) -> list[Archive]:
        self.ctx.archives = [self.package(t) for t in self.ctx.options.targets]
        stages.write_checksums(self.ctx)
        return self.ctx.archives

    def entries(self, target: Target = LINUX_AMD64) -> list[str]:
        return [e.name for e in package.archive_entries(self.ctx, self.binaries[target])]


def make_project(root: Path) -> Path:
    project = root / PLUGIN
    project.mkdir(parents=True)
    (project / contract.MANIFEST_FILE).write_text(manifest_text(), encoding="utf-8")
    (project / "README.md").write_text(f"# {PLUGIN}\n", encoding="utf-8")
    (project / "LICENSE").write_text("Apache License 2.0\n", encoding="utf-8")
    return project


def setup_in(root: Path, extra_files: list[Path] | None = None, mtime: int = MTIME) -> Setup:
    project = root / PLUGIN if (root / PLUGIN).is_dir() else make_project(root)
    dist = root / "dist"
    manifest, _ = load_manifest(project / contract.MANIFEST_FILE)
    options = Options(project=project, dist=dist, extra_files=list(extra_files or []))
    ctx = ReleaseContext(options, manifest=manifest, version=Version.parse(TAG), source_date_epoch=mtime)
    binaries: dict[Target, Binary] = {}
    for target in options.targets:
        path = dist / dist_layout.BUILD_DIR / target.slug / PLUGIN
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(binary_for(target))
        path.chmod(0o700)
        binaries[target] = Binary(target, path, contract.sha256_file(path), path.stat().st_size, 0.0)
    return Setup(project, ctx, binaries)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return setup_in(tmp_path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- deterministic bytes ---------------------------------------------------------------------------------------

def test_same_inputs_give_identical_archives(tmp_path: Path) -> None:
    first = setup_in(tmp_path / "a")
    second = setup_in(tmp_path / "b")
    # Things that must not leak into the bytes: file mtimes, permissions beyond the exec bit, the directory.
    for path in (second.project / "README.md", second.project / "LICENSE", *(b.path for b in
                                                                              second.binaries.values())):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (second.project / "README.md").chmod(0o600)
    a = {x.name: x.sha256 for x in first.package_all()}
    b = {x.name: x.sha256 for x in second.package_all()}
    assert a == b
    assert len(a) == 6
    assert first.ctx.checksums is not None and second.ctx.checksums is not None
    assert first.ctx.checksums.read_bytes() == second.ctx.checksums.read_bytes()


def test_packaging_twice_into_the_same_dist_is_identical(setup: Setup) -> None:
    before = {a.name: sha256(a.path) for a in setup.package_all()}
    time.sleep(0.01)
    after = {a.name: sha256(a.path) for a in setup.package_all()}
    assert before == after
    assert not list(setup.ctx.options.dist.glob("*.partial"))


def test_gzip_header_has_no_mtime_and_no_name(setup: Setup) -> None:
    raw = setup.package(LINUX_AMD64).path.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] == 0  # FLG: no FNAME, no FCOMMENT, no FEXTRA
    assert raw[4:8] == b"\x00\x00\x00\x00"  # MTIME 0


def test_tar_members_order_owner_mtime_and_modes(setup: Setup) -> None:
    archive = setup.package(LINUX_AMD64)
    with tarfile.open(archive.path, "r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == STANDARD_ORDER
        for member in members:
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
            assert member.mtime == MTIME
            assert member.isreg()
            assert member.mode == (0o755 if member.name == PLUGIN else 0o644), member.name
        checksum = tar.extractfile(contract.BINARY_CHECKSUM_FILE)
        assert checksum is not None
        assert checksum.read().decode() == f"{setup.binaries[LINUX_AMD64].sha256}  {PLUGIN}\n"
        binary = tar.extractfile(PLUGIN)
        assert binary is not None and binary.read() == binary_for(LINUX_AMD64)
    assert archive.binary_sha256 == setup.binaries[LINUX_AMD64].sha256
    assert archive.sha256 == sha256(archive.path)


def test_zip_members_order_modes_and_dates(setup: Setup) -> None:
    archive = setup.package(WINDOWS_AMD64)
    assert archive.name == f"{PLUGIN}-windows-amd64-{TAG}.zip"
    with zipfile.ZipFile(archive.path) as zipped:
        infos = zipped.infolist()
        assert [i.filename for i in infos] == STANDARD_ORDER
        for info in infos:
            mode = info.external_attr >> 16
            assert info.create_system == 3
            assert stat.S_ISREG(mode)
            assert stat.S_IMODE(mode) == (0o755 if info.filename == PLUGIN else 0o644), info.filename
            stamp = time.gmtime(MTIME)
            assert info.date_time == (*stamp[:5], stamp.tm_sec // 2 * 2)  # DOS time: 2-second steps
            assert info.compress_type == zipfile.ZIP_DEFLATED
        assert zipped.read(PLUGIN) == binary_for(WINDOWS_AMD64)
        assert zipped.testzip() is None


def test_zip_dates_before_1980_are_clamped(tmp_path: Path) -> None:
    early = setup_in(tmp_path, mtime=0)
    with zipfile.ZipFile(early.package(WINDOWS_AMD64).path) as zipped:
        assert {i.date_time for i in zipped.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    with tarfile.open(early.package(LINUX_AMD64).path) as tar:
        assert {m.mtime for m in tar.getmembers()} == {0}


def test_checksums_txt_is_gnu_sorted_lf(setup: Setup) -> None:
    archives = setup.package_all()
    assert setup.ctx.checksums == setup.ctx.options.dist / contract.CHECKSUMS_ASSET
    text = setup.ctx.checksums.read_bytes().decode()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert lines == [f"{a.sha256}  {a.name}" for a in sorted(archives, key=lambda a: a.name)]
    assert all(contract.CHECKSUM_LINE_RE.match(line) for line in lines)


def test_packaged_dist_satisfies_every_local_invariant(setup: Setup) -> None:
    setup.package_all()
    report = verify.verify_dist(setup.ctx.options.dist, PLUGIN, TAG, list(DEFAULT_TARGETS), f"gatewayd-io/{PLUGIN}",
                                gate=NO_GATE)
    assert [str(p) for p in report.problems] == []


def test_windows_binary_with_exe_suffix(tmp_path: Path) -> None:
    setup = setup_in(tmp_path)
    old = setup.binaries[WINDOWS_AMD64]
    exe = old.path.with_name(PLUGIN + ".exe")
    old.path.rename(exe)
    setup.binaries[WINDOWS_AMD64] = Binary(WINDOWS_AMD64, exe, old.sha256, old.size, 0.0)
    with zipfile.ZipFile(setup.package(WINDOWS_AMD64).path) as zipped:
        assert zipped.namelist()[0] == PLUGIN + ".exe"
        assert zipped.read(contract.BINARY_CHECKSUM_FILE).decode() == f"{old.sha256}  {PLUGIN}.exe\n"


def test_oversized_member_is_refused(setup: Setup) -> None:
    binary = setup.binaries[LINUX_AMD64]
    with binary.path.open("r+b") as handle:  # sparse: no 100 MiB on disk or in memory
        handle.truncate(contract.MAX_MEMBER_BYTES + 1)
    expected = f"{PLUGIN} exceed 100 MiB; `gatewayd plugin install` truncates"
    with pytest.raises(UserError, match="^" + re.escape(expected)):
        setup.package(LINUX_AMD64)
    assert not list(setup.ctx.options.dist.glob("*.tar.gz*"))


# --- extra files ---------------------------------------------------------------------------------------------------

def _tree(project: Path) -> None:
    (project / "run.sh").write_text("#!/bin/sh\n", encoding="utf-8")
    (project / "run.sh").chmod(0o755)
    (project / "config.json").write_text("{}\n", encoding="utf-8")
    models = project / "models"
    (models / "sub").mkdir(parents=True)
    (models / "empty").mkdir()
    (models / "a.bin").write_bytes(b"\x00\x01")
    (models / "sub" / "b.txt").write_text("b\n", encoding="utf-8")
    (models / "sub-c.txt").write_text("c\n", encoding="utf-8")


def test_extra_files_and_trees(tmp_path: Path) -> None:
    _tree(make_project(tmp_path))
    setup = setup_in(tmp_path, [Path("run.sh"), Path("config.json"), tmp_path / PLUGIN / "models"])
    names = setup.entries()
    assert names[0] == PLUGIN
    assert names[1:] == sorted(names[1:])
    assert set(names) == {*STANDARD_ORDER, "run.sh", "config.json", "models/", "models/a.bin", "models/empty/",
                          "models/sub/", "models/sub/b.txt", "models/sub-c.txt"}
    for name in names:  # every directory entry comes before the files inside it
        parent = name.rstrip("/").rpartition("/")[0]
        if parent:
            assert names.index(parent + "/") < names.index(name), name
    with tarfile.open(setup.package(LINUX_AMD64).path) as tar:
        modes = {m.name: (m.type, m.mode) for m in tar.getmembers()}
    assert modes["run.sh"] == (tarfile.REGTYPE, 0o755)
    assert modes["config.json"] == (tarfile.REGTYPE, 0o644)
    assert modes["models"] == (tarfile.DIRTYPE, 0o755)
    assert modes["models/empty"] == (tarfile.DIRTYPE, 0o755)
    assert modes["models/sub/b.txt"] == (tarfile.REGTYPE, 0o644)
    with zipfile.ZipFile(setup.package(WINDOWS_AMD64).path) as zipped:
        dirs = [i.filename for i in zipped.infolist() if i.is_dir()]
        assert dirs == ["models/", "models/empty/", "models/sub/"]
        assert stat.S_IMODE(zipped.getinfo("run.sh").external_attr >> 16) == 0o755
    setup.package_all()
    report = verify.verify_dist(setup.ctx.options.dist, PLUGIN, TAG, list(DEFAULT_TARGETS), gate=NO_GATE)
    assert [str(p) for p in report.problems] == []


def test_extra_files_are_deterministic_too(tmp_path: Path) -> None:
    for side in ("a", "b"):
        _tree(make_project(tmp_path / side))
    a = setup_in(tmp_path / "a", [Path("models"), Path("run.sh")])
    b = setup_in(tmp_path / "b", [Path("models"), Path("run.sh")])
    os.utime(b.project / "models" / "a.bin", (1, 1))
    assert [x.sha256 for x in a.package_all()] == [x.sha256 for x in b.package_all()]


@pytest.mark.parametrize("name", [f"{PLUGIN}.md", f"docs-{PLUGIN}", f"README-{PLUGIN}.md"])
def test_extra_file_named_after_the_plugin_is_refused(tmp_path: Path, name: str) -> None:
    project = make_project(tmp_path)
    (project / name).write_text("x\n", encoding="utf-8")
    setup = setup_in(tmp_path, [Path(name)])
    expected = f"contain the plugin name '{PLUGIN}'; the installer takes the first"
    with pytest.raises(UserError, match=re.escape(expected)):
        setup.entries()


def test_file_named_after_the_plugin_inside_an_extra_tree_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "docs").mkdir()
    (project / "docs" / f"{PLUGIN}.png").write_bytes(b"png")
    with pytest.raises(UserError, match=re.escape(f"docs/{PLUGIN}.png contain the plugin name")):
        setup_in(tmp_path, [Path("docs")]).entries()


@pytest.mark.parametrize("extras", [["extra/README.md"], ["extra/LICENSE"], ["a/notes.txt", "b/notes.txt"],
                                    ["notes.txt", "notes.txt"], ["extra/checksum.txt"]])
def test_duplicate_archive_names_are_refused(tmp_path: Path, extras: list[str]) -> None:
    project = make_project(tmp_path)
    for extra in extras:
        (project / extra).parent.mkdir(parents=True, exist_ok=True)
        (project / extra).write_text("x\n", encoding="utf-8")
    name = Path(extras[-1]).name
    with pytest.raises(UserError, match=re.escape(f"archive would contain {name} twice")):
        setup_in(tmp_path, [Path(e) for e in extras]).entries()


def test_symlinked_extra_file_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "link.txt").symlink_to(project / "README.md")
    expected = "extra file link.txt is a symlink; the installer cannot extract links"
    with pytest.raises(UserError, match=re.escape(expected)):
        setup_in(tmp_path, [Path("link.txt")]).entries()


def test_symlink_inside_an_extra_tree_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "data").mkdir()
    (project / "data" / "real.txt").write_text("x\n", encoding="utf-8")
    (project / "data" / "alias.txt").symlink_to("real.txt")
    with pytest.raises(UserError, match=re.escape("alias.txt is a symlink; the installer cannot extract links")):
        setup_in(tmp_path, [Path("data")]).entries()


def test_missing_extra_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=re.escape("extra file nope.txt does not exist")):
        setup_in(tmp_path, [Path("nope.txt")]).entries()


# --- the package command, end to end on fake binaries ------------------------------------------------------------

def _built_dist(root: Path) -> Path:
    """What `build` leaves behind: binaries under dist/.build and a metadata.json naming them."""
    setup = setup_in(root)
    dist = setup.ctx.options.dist
    meta = {"plugin": PLUGIN, "version": TAG, "commit": None, "source_date_epoch": MTIME,
            "version_variable": None, "targets": [str(t) for t in DEFAULT_TARGETS],
            "binaries": [{"target": str(t), "path": str(b.path.relative_to(dist)), "sha256": b.sha256,
                          "size": b.size} for t, b in setup.binaries.items()]}
    (dist / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return dist


def test_package_command_then_verify_command(tmp_path: Path, run_cli: RunCli) -> None:
    digests = []
    for side in ("a", "b"):
        dist = _built_dist(tmp_path / side)
        project = tmp_path / side / PLUGIN
        result = run_cli("package", "--project", project, "--dist", dist, cwd=project)
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("  packaged ") == 6
        checked = run_cli("verify", "--dist", dist, "--no-gate", cwd=project)
        assert checked.returncode == 0, checked.stderr
        assert f"{dist}: installable (6 targets)" in checked.stderr
        digests.append((dist / contract.CHECKSUMS_ASSET).read_text(encoding="utf-8"))
    assert digests[0] == digests[1]
    assert len(digests[0].splitlines()) == 6


def test_package_command_without_a_build_says_what_to_do(tmp_path: Path, run_cli: RunCli) -> None:
    project = make_project(tmp_path)
    result = run_cli("package", "--project", project, cwd=project)
    assert result.returncode == 1
    assert "has no built binaries; run `gatewayd-plugin-actions build` first" in result.stderr


def test_gzip_module_agrees_the_archive_is_one_clean_stream(setup: Setup) -> None:
    raw = setup.package(LINUX_AMD64).path.read_bytes()
    tar_bytes = gzip.decompress(raw)
    assert len(tar_bytes) % 512 == 0
    assert tar_bytes.endswith(bytes(1024))  # the two zero blocks that end a tar
