"""Fixtures for the GitHub side: the fake GitHub, and installable dists to publish without compiling Go.

``fake_github`` is a started :class:`tests.fake_github.FakeGitHub` (function-scoped, stopped afterwards).
``publish_dist`` makes (once per session and version) a dist exactly like ``release --snapshot`` would:
archives written by the real ``package`` module around tiny fake ELF / Mach-O / PE binaries, so the
``verify`` stage accepts them; each test gets its own copy.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gatewayd_plugin_actions import dist
from gatewayd_plugin_actions.contract import sha256_file
from gatewayd_plugin_actions.manifest import load_manifest
from gatewayd_plugin_actions.release import package, stages
from gatewayd_plugin_actions.release.context import Binary, Options, ReleaseContext
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS, Target
from tests.fake_github import FakeGitHub

OWNER = "gatewayd-plugin-actions"
REPO = "gatewayd-plugin-example"
REPOSITORY = f"{OWNER}/{REPO}"
# A canary: it must never show up in anything the CLI prints or writes.
TOKEN = "ghs_CanaryToken0123456789abcdefXYZ"
READ_TOKEN = "ghs_ReadOnlyCanary0123456789abcdef"

MANIFEST = f"""plugins:
  - name: {REPO}
    enabled: true
    url: github.com/{REPOSITORY}@latest
    localPath: ../{REPO}/{REPO}
    args: ["--log-level", "info"]
    env:
      - MAGIC_COOKIE_KEY=GATEWAYD_PLUGIN
      - MAGIC_COOKIE_VALUE=5712b87aa5d7e9f9e9ab643e6603181c5b796015cb1c09d6f5ada882bf2a1872
    checksum: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""

_ELF = {"amd64": 0x3E, "arm64": 0xB7, "386": 0x03, "riscv64": 0xF3}
_MACHO = {"amd64": 0x01000007, "arm64": 0x0100000C, "386": 0x7}
_PE = {"amd64": 0x8664, "arm64": 0xAA64, "386": 0x14C}


def fake_executable(target: Target, padding: int = 4096) -> bytes:
    """The smallest bytes ``contract.executable_kind`` recognises as an executable for ``target``."""
    if target.goos == "darwin":
        head = b"\xcf\xfa\xed\xfe" + struct.pack("<I", _MACHO[target.goarch])
    elif target.goos == "windows":
        head = b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x40) + b"PE\0\0" + struct.pack("<H", _PE[target.goarch])
    else:
        head = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + struct.pack("<H", _ELF[target.goarch])
    # Distinct content per target, deterministic.
    body = (f"{target} fake plugin binary\n".encode() * (padding // 24 + 1))[:padding]
    return head + b"\0" * (64 - len(head)) + body


def make_dist(dest: Path, tag: str, targets: list[Target] | None = None, *, padding: int = 4096,
              flavour: str = "") -> Path:
    """Write a complete, installable dist for ``tag`` into ``dest`` (with metadata.json)."""
    targets = targets or list(DEFAULT_TARGETS)
    project = dest.parent / f"{dest.name}-project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "gatewayd_plugin.yaml").write_text(MANIFEST, encoding="utf-8")
    (project / "README.md").write_text(f"# {REPO}\n{flavour}\n", encoding="utf-8")
    (project / "LICENSE").write_text("Apache-2.0\n", encoding="utf-8")
    ctx = ReleaseContext(Options(project=project, dist=dest, targets=targets, repository=REPOSITORY))
    ctx.manifest, _ = load_manifest(project / "gatewayd_plugin.yaml", REPOSITORY)
    ctx.version = Version.parse(tag)
    ctx.source_date_epoch = 1_767_323_045
    dist.prepare(dest)
    staging = dest / ".build"
    for target in targets:
        path = staging / target.slug / REPO
        path.parent.mkdir(parents=True)
        path.write_bytes(fake_executable(target, padding) + flavour.encode())
        path.chmod(0o755)
        ctx.binaries.append(Binary(target, path, sha256_file(path), path.stat().st_size, 0.0))
    ctx.archives = [package.package_target(ctx, b) for b in ctx.binaries]
    stages.write_checksums(ctx)
    shutil.rmtree(staging)
    ctx.binaries = []
    stages.write_metadata(ctx)
    shutil.rmtree(project)
    return dest


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A started fake GitHub (no repositories yet); stopped after the test."""
    fake = FakeGitHub().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def publish_dist_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    return {}


PublishDist = Callable[..., Path]


@pytest.fixture
def publish_dist(publish_dist_cache: dict[tuple[str, str], Path], tmp_path_factory: pytest.TempPathFactory,
                 tmp_path: Path) -> PublishDist:
    """``publish_dist("v1.2.3")`` → a private copy of a valid dist for that tag (built once per session)."""

    def get(tag: str, *, flavour: str = "", targets: list[Target] | None = None, name: str = "dist") -> Path:
        key = (tag, flavour + "|" + ",".join(map(str, targets or [])))
        if key not in publish_dist_cache:
            base = tmp_path_factory.mktemp("dists")
            publish_dist_cache[key] = make_dist(base / "dist", tag, targets, flavour=flavour)
        copy = tmp_path / name
        shutil.copytree(publish_dist_cache[key], copy)
        return copy

    return get
