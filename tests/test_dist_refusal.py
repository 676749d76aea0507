"""Publish what was verified: a dist that is not exactly the verified archives plus ``checksums.txt`` is refused
by ``verify`` and by ``publish`` alike, naming the file and the fault, and the fake GitHub records no write.

Each case breaks one thing in a valid dist (``tests/fixtures/dist_factory.py``) and runs both real CLI commands on it.
The fake binaries cannot start, so both run with ``--no-gate``; the gate has its own tests with real builds
(``tests/verify/test_gate.py``).
"""

from __future__ import annotations

import gzip
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.release.package import Entry
from gatewayd_plugin_actions.targets import Target
from tests.conftest import RunCli
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.dist_factory import (
    Dist,
    fake_executable,
    make_dist,
    standard_entries,
    standard_tar_members,
    tar_gz_writer,
    tar_member,
)
from tests.fixtures.github import OWNER, REPO, TOKEN
from tests.publish.test_publish import collect, publish_env, releases_for, writes

LINUX_AMD64 = Target("linux", "amd64")
WINDOWS_AMD64 = Target("windows", "amd64")
TARGETS = [LINUX_AMD64, Target("darwin", "arm64"), WINDOWS_AMD64]


@dataclass(frozen=True)
class Damage:
    """One way a dist can be wrong: ``apply`` breaks it; the error must name ``file`` and say ``fault``."""

    id: str
    apply: Callable[[Dist], None]
    file: Callable[[Dist], str]
    fault: str


def _archive(target: Target) -> Callable[[Dist], str]:
    return lambda dist: dist.name(target)


def _truncate_gzip(dist: Dist) -> None:
    path = dist.archive(LINUX_AMD64)
    path.write_bytes(path.read_bytes()[:-40])
    dist.write_checksums()


def _garbage_after_tar(dist: Dist) -> None:
    # A valid gzip stream whose tar ends in a block that is not a header: Python's tarfile stops quietly,
    # Go's reader (and so the installer) fails.
    path = dist.archive(LINUX_AMD64)
    raw = gzip.decompress(path.read_bytes())
    end = raw.rstrip(b"\0")
    padded = len(end) + (-len(end) % 512)
    path.write_bytes(gzip.compress(raw[:padded] + b"not a tar header".ljust(512, b"!") + bytes(1024), mtime=0))
    dist.write_checksums()


def _rewrite(target: Target, change: Callable[[list[Entry]], list[Entry]]) -> Callable[[Dist], None]:
    return lambda dist: dist.rewrite(target, change(dist.entries(target)))


def _raw(members: Callable[[], list[tuple[tarfile.TarInfo, bytes | None]]]) -> Callable[[Dist], None]:
    return lambda dist: dist.rewrite_raw(LINUX_AMD64, tar_gz_writer(members()))


def _binary_not_executable(entries: list[Entry]) -> list[Entry]:
    return [Entry(entries[0].name, data=entries[0].data, executable=False), *entries[1:]]


def _wrong_cpu(entries: list[Entry]) -> list[Entry]:
    return standard_entries(LINUX_AMD64, binary=fake_executable("elf", "arm64", b"wrong cpu"))


def _stale_checksums(dist: Dist) -> None:
    # The archive changed after checksums.txt was written (a re-run build, a hand edit).
    dist.rewrite(LINUX_AMD64, standard_entries(LINUX_AMD64, binary=fake_executable("elf", "amd64", b"rebuilt")),
                 update_checksums=False)


DAMAGES = [
    Damage("truncated-gzip", _truncate_gzip, _archive(LINUX_AMD64), "cannot be extracted"),
    Damage("non-header-block", _garbage_after_tar, _archive(LINUX_AMD64), "invalid tar header"),
    Damage("symlink-member", _raw(lambda: [*standard_tar_members(LINUX_AMD64),
                                          tar_member("docs", None, kind=tarfile.SYMTYPE, linkname="/etc")]),
           _archive(LINUX_AMD64), "member type the installer refuses"),
    Damage("escaping-path", _raw(lambda: [*standard_tar_members(LINUX_AMD64), tar_member("../evil", b"x\n")]),
           _archive(LINUX_AMD64), "'..' component"),
    # The installer takes the first file whose path contains the plugin name as the binary.
    Damage("plugin-named-file-first", _rewrite(LINUX_AMD64, lambda e: [Entry(f"README-{REPO}.md", data=b"# r\n"),
                                                                       *e]),
           _archive(LINUX_AMD64), f"takes 'README-{REPO}.md' as the binary"),
    Damage("binary-not-executable", _rewrite(LINUX_AMD64, _binary_not_executable), _archive(LINUX_AMD64),
           "exec"),
    Damage("wrong-cpu", _rewrite(LINUX_AMD64, _wrong_cpu), _archive(LINUX_AMD64), "arm64"),
    Damage("no-manifest-inside", _rewrite(WINDOWS_AMD64, lambda e: [x for x in e
                                                                    if x.name != contract.MANIFEST_FILE]),
           _archive(WINDOWS_AMD64), contract.MANIFEST_FILE),
    Damage("stale-checksums", _stale_checksums, lambda dist: contract.CHECKSUMS_ASSET, "hash"),
    Damage("undeclared-file", lambda dist: dist.add_asset("release-notes.md", b"# notes\n"),
           lambda dist: "release-notes.md", "not the archive of a declared target"),
    Damage("undeclared-target", lambda dist: dist.add_asset(dist.name(Target("linux", "386")), b"x"),
           lambda dist: dist.name(Target("linux", "386")), "not the archive of a declared target"),
    Damage("signature-sidecar", lambda dist: dist.add_asset(dist.name(LINUX_AMD64) + ".sig", b"sig"),
           lambda dist: dist.name(LINUX_AMD64) + ".sig", "installer"),
]


@pytest.fixture
def dist(tmp_path: Path, run_cli: RunCli) -> Dist:
    """A valid three-target dist (with metadata.json, as publish needs), checked clean by the CLI first."""
    made = make_dist(tmp_path, plugin=REPO, owner=OWNER, targets=TARGETS)
    made.write_metadata()
    clean = run_cli(*made.cli_args())
    assert clean.returncode == 0, clean.stderr
    return made


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    return fake_github


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.id)
def test_verify_and_publish_refuse_a_damaged_dist(damage: Damage, dist: Dist, repo: FakeGitHub, run_cli: RunCli,
                                                  tmp_path: Path) -> None:
    damage.apply(dist)
    name = damage.file(dist)

    verified = run_cli(*dist.cli_args())
    assert verified.returncode == 1, f"{damage.id}: verify passed:\n{verified.stderr}"
    named = [line for line in error_lines(verified.stderr) if name in line and damage.fault in line]
    assert named, f"{damage.id}: no error line names {name!r} and {damage.fault!r}:\n{verified.stderr}"
    assert "NOT installable" in verified.stderr

    result = run_cli("publish", "--dist", dist.path, "--version", dist.tag, "--no-gate",
                     env=publish_env(repo, tmp_path), timeout=300)
    run = collect(result, tmp_path)
    assert run.code != 0, f"{damage.id}: published:\n{run.text}"
    assert [line for line in error_lines(result.stderr) if name in line and damage.fault in line], result.stderr
    assert "nothing was published" in result.stderr
    assert writes(repo) == [], f"{damage.id}: GitHub was written to"
    assert repo.requests("POST", "upload") == []
    assert releases_for(repo, dist.tag) == []


def test_a_failed_verification_is_not_overruled_by_a_weaker_one(dist: Dist, repo: FakeGitHub, run_cli: RunCli,
                                                                tmp_path: Path) -> None:
    """``release`` recorded that the plugin failed to start; publishing without the gate must not ship it."""
    meta_path = dist.path / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["verification"] = {"passed": False, "checks": ["local", "gate"],
                            "errors": [f"{dist.name(LINUX_AMD64)}: {REPO} does not start as a plugin: it panicked"]}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")

    verified = run_cli(*dist.cli_args())
    assert verified.returncode == 1, verified.stderr
    assert "failed an earlier verification" in verified.stderr and "does not start as a plugin" in verified.stderr

    result = run_cli("publish", "--dist", dist.path, "--version", dist.tag, "--no-gate",
                     env=publish_env(repo, tmp_path), timeout=300)
    run = collect(result, tmp_path)
    assert run.code != 0, run.text
    assert "failed an earlier verification" in result.stderr
    assert writes(repo) == []
    # The weaker runs did not clear the record either.
    assert json.loads(meta_path.read_text(encoding="utf-8"))["verification"]["passed"] is False


def test_a_failed_verify_is_recorded_and_blocks_publish(dist: Dist, repo: FakeGitHub, run_cli: RunCli,
                                                        tmp_path: Path) -> None:
    """``verify`` writes its outcome into the dist: the failure stays with the dist after the cause is hidden."""
    path = dist.archive(LINUX_AMD64)
    good = path.read_bytes()
    _truncate_gzip(dist)
    assert run_cli(*dist.cli_args()).returncode == 1
    record = json.loads((dist.path / "metadata.json").read_text(encoding="utf-8"))["verification"]
    assert record["passed"] is False and record["checks"] == ["local"]
    assert any(dist.name(LINUX_AMD64) in e for e in record["errors"]), record

    path.write_bytes(good)  # repaired: the same checks now pass, and a pass of the same strength clears it
    dist.write_checksums()
    assert run_cli(*dist.cli_args()).returncode == 0
    result = run_cli("publish", "--dist", dist.path, "--version", dist.tag, "--no-gate",
                     env=publish_env(repo, tmp_path), timeout=300)
    assert collect(result, tmp_path).code == 0, result.stderr
    assert {a.name for a in releases_for(repo, dist.tag)[0].assets} == {*dist.archives(), "checksums.txt"}


def test_two_problems_are_two_annotations(dist: Dist, repo: FakeGitHub, run_cli: RunCli, tmp_path: Path) -> None:
    """Each problem is reported once, by the one reporter: two faults → exactly two ``::error`` lines."""
    _truncate_gzip(dist)
    dist.add_asset("release-notes.md", b"# notes\n")

    verified = run_cli(*dist.cli_args(), env=publish_env(repo, tmp_path, GITHUB_ACTIONS="true"))
    annotations = [line for line in verified.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 2, verified.stdout
    assert any(dist.name(LINUX_AMD64) in a for a in annotations) and any("release-notes.md" in a
                                                                         for a in annotations)

    result = run_cli("publish", "--dist", dist.path, "--version", dist.tag, "--no-gate",
                     env=publish_env(repo, tmp_path, GITHUB_ACTIONS="true"), timeout=300)
    collect(result, tmp_path)
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 2, result.stdout
    assert writes(repo) == []


def test_publish_uploads_exactly_what_was_verified(dist: Dist, repo: FakeGitHub, run_cli: RunCli,
                                                   tmp_path: Path) -> None:
    """The release's assets are the verified archives and checksums.txt, byte for byte; metadata.json and
    dot-files in the dist never travel."""
    (dist.path / ".DS_Store").write_bytes(b"finder")
    result = run_cli("publish", "--dist", dist.path, "--version", dist.tag, "--no-gate",
                     env=publish_env(repo, tmp_path), timeout=300)
    assert collect(result, tmp_path).code == 0, result.stderr
    [release] = releases_for(repo, dist.tag)
    uploaded = {a.name: a.sha256 for a in release.assets}
    expected = {n: contract.sha256_file(dist.path / n) for n in [*dist.archives(), contract.CHECKSUMS_ASSET]}
    assert uploaded == expected
