"""Stage ``version``: which tag is being released, and semver facts about it.

The version comes from an explicit ``--version``, else ``GITHUB_REF_NAME`` on a tag push, else the
highest semver tag on HEAD (never ``git describe`` of some other commit: that is how today's Makefiles
name assets after the wrong tag). Snapshots without a tag get ``<last tag>-snapshot.g<sha>``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.semver import Version


def _git_raw(project: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return result.stdout if result.returncode == 0 else None


def _git(project: Path, *args: str) -> str | None:
    out = _git_raw(project, *args)
    return out.strip() if out is not None else None


def tags_on_head(project: Path) -> list[Version]:
    return sorted(Version.parse(t) for t in _head_tags(project) if contract.is_valid_tag(t))


def _head_tags(project: Path) -> list[str]:
    return (_git(project, "tag", "--points-at", "HEAD") or "").split()


def ignored_tags_on_head(project: Path) -> list[str]:
    """Tags on HEAD that are not ``v`` + semver: never a release version (``9.9.9``, ``release-1``)."""
    return [t for t in _head_tags(project) if not contract.is_valid_tag(t)]


# Untracked files count only when `go build` would read them: a coverage profile or a log that an earlier
# step (the test action's profile.cov) left in the work tree changes nothing in the dist.
_BUILD_INPUT = re.compile(r"(\.(go|s|c|h|cc|cpp|syso)|(^|/)go\.(mod|sum|work))$")


def is_build_input(path: str) -> bool:
    """Whether ``go build`` reads this file (a Go source, assembly, cgo source or module file)."""
    return bool(_BUILD_INPUT.search(path))


def uncommitted_paths(project: Path, dist: Path) -> list[str]:
    """Tracked changes under the project and untracked Go build inputs, minus the dist itself: what makes a
    build differ from the one CI makes of the same commit. Empty outside a git repository."""
    out = _git_raw(project, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    if not out:
        return []
    try:
        inside = dist.resolve().relative_to(Path(_git(project, "rev-parse", "--show-toplevel") or project).resolve())
    except ValueError:
        inside = None
    paths = []
    records = iter(out.split("\0"))
    for record in records:
        status, path = record[:2], record[3:]
        if status[:1] in ("R", "C"):
            next(records, None)  # a rename's or copy's second record is its source path
        if status == "??" and not is_build_input(path):
            continue
        if not path or (inside is not None and (path == inside.as_posix() or path.startswith(f"{inside.as_posix()}/"))):
            continue
        paths.append(path)
    return sorted(set(paths))


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
