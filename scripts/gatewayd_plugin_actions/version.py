"""Stage ``version``: which tag is being released, and semver facts about it.

The version comes from an explicit ``--version``, else ``GITHUB_REF_NAME`` on a tag push, else the
highest semver tag on HEAD (never ``git describe`` of some other commit: that is how today's Makefiles
name assets after the wrong tag). Snapshots without a tag get ``<last tag>-snapshot.g<sha>``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import total_ordering
from pathlib import Path

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.errors import Problem, UserError


@total_ordering
@dataclass(frozen=True)
class Version:
    tag: str  # with the leading "v"
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]

    @classmethod
    def parse(cls, tag: str) -> Version:
        match = contract.SEMVER_RE.match(tag[1:]) if tag.startswith("v") else None
        if match is None:
            raise UserError(
                f"version {tag!r} is not a tag `gatewayd plugin install github.com/<o>/<r>@<tag>` can resolve: "
                "it must be 'v' + semver, e.g. v1.2.3 or v1.2.3-rc.1",
                [Problem(f"invalid version tag {tag!r}: expected v<major>.<minor>.<patch>[-prerelease]")])
        pre = tuple(match["pre"].split(".")) if match["pre"] else ()
        return cls(tag, int(match["major"]), int(match["minor"]), int(match["patch"]), pre)

    @property
    def number(self) -> str:
        """The tag without its ``v``: what ``-X …Version=`` injects and GatewayD reports."""
        return self.tag[1:]

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # semver precedence: a release sorts after its prereleases; numeric identifiers before alphanumerics.
        ids = tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, ids)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()


def _git(project: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def tags_on_head(project: Path) -> list[Version]:
    out = _git(project, "tag", "--points-at", "HEAD") or ""
    return sorted(Version.parse(t) for t in out.split() if contract.is_valid_tag(t))


def resolve_version(project: Path, explicit: str | None, snapshot: bool) -> Version:
    if explicit:
        return Version.parse(explicit)
    if os.environ.get("GITHUB_REF_TYPE") == "tag" and os.environ.get("GITHUB_REF_NAME"):
        return Version.parse(os.environ["GITHUB_REF_NAME"])
    on_head = tags_on_head(project)
    if on_head:
        return on_head[-1]
    if not snapshot:
        raise UserError("no version: pass --version vX.Y.Z, push a tag, or tag HEAD (git tag v0.1.0)")
    last = _git(project, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*")
    base = last if last and contract.is_valid_tag(last) else "v0.0.0"
    base = base.split("-")[0].split("+")[0]
    sha = _git(project, "rev-parse", "--short=7", "HEAD")
    return Version.parse(f"{base}-snapshot.g{sha}" if sha else f"{base}-snapshot")


def source_date_epoch(project: Path) -> int:
    """Timestamp stamped into archives: $SOURCE_DATE_EPOCH, else the commit time, else 0 (reproducible)."""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    out = _git(project, "log", "-1", "--format=%ct")
    return int(out) if out and out.isdigit() else 0


def head_commit(project: Path) -> str | None:
    return _git(project, "rev-parse", "HEAD")
