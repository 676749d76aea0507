"""Stage ``version``: which tag is being released, and semver facts about it.

The version comes from an explicit ``--version``, else ``GITHUB_REF_NAME`` on a tag push, else the
highest semver tag on HEAD (never ``git describe`` of some other commit: that is how today's Makefiles
name assets after the wrong tag). Snapshots without a tag get ``<last tag>-snapshot.g<sha>``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.semver import Version


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
