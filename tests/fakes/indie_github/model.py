"""The state and the rules of the independent fake: repositories, tokens, releases, assets, and what GitHub
accepts or refuses. No HTTP here (see ``server.py``); every method is called with the store's lock held.

Sources for each rule (docs.github.com REST pages unless marked):

* *Documented*: get-by-tag returns published releases only; drafts are listed only to users with push access;
  ``make_latest`` is a string enum ``"true" | "false" | "legacy"`` defaulting to ``"true"`` for newly
  published releases, and drafts and prereleases cannot be latest; ``/releases/latest`` is the most recent
  non-prerelease, non-draft release; an asset name is unique in a release (422 ``already_exists``); a 502 on
  upload may leave an empty asset in state ``starter`` that can be deleted; assets carry ``digest``
  ``sha256:<hex>``; list endpoints take ``per_page`` (default 30, max 100) and ``page``; generate-notes needs
  contents write and ``target_commitish`` when the tag does not exist yet; immutable releases refuse uploads
  ("Cannot upload assets to an immutable release"); a release body is at most 125 000 characters.
* *Observed in public issue threads*: the exact 422 shapes (``{"resource": "Release", "code":
  "already_exists", "field": "tag_name"}``, ``ReleaseAsset``/``name``), the schema-validation message for a
  boolean ``make_latest`` (``For 'properties/make_latest', true is not a string.``), "tag_name was used by an
  immutable release" for a tag once held by an immutable release, and GitHub's "Immutable release. Only
  release title and notes can be modified." banner.
* *Guesses* (marked ``GUESS`` where they are made): creating a *draft* for a tag that a published release
  holds is refused like a published one; publishing a second release for a tag already published is refused
  with the same 422; deleting an immutable release is allowed and burns its tag; an asset PATCH or DELETE on an
  immutable release is a 422; when the release marked latest disappears, latest falls back to the legacy rule
  (creation date, then semver); an unknown ``previous_tag_name`` is a 422; the status codes for a missing
  ``name`` query parameter, ``Content-Type`` or ``Content-Length`` on upload.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

DOCS = "https://docs.github.com/rest"
BODY_LIMIT = 125_000
ASSET_LIMIT = 1000
MAKE_LATEST_VALUES = ("true", "false", "legacy")

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


class ApiError(Exception):
    """An HTTP error answer, shaped like GitHub's JSON error body."""

    def __init__(self, status: int, message: str, *, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None, doc: str = DOCS) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.doc = doc

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "documentation_url": self.doc, "status": str(self.status)}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def validation_failed(resource: str, code: str, field_name: str, message: str | None = None) -> ApiError:
    error = {"resource": resource, "code": code, "field": field_name}
    if message:
        error["message"] = message
    return ApiError(422, "Validation Failed", errors=[error])


def semver_key(tag: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Sort key for ``v1.2.3[-pre]`` (a release sorts after its prereleases); non-semver tags sort first."""
    match = _SEMVER.match(tag)
    if not match:
        return (-1, -1, -1, -1, ())
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts: list[tuple[int, int | str]] = [(0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")]
    return (int(major), int(minor), int(patch), 0, tuple(parts))


def iso(ts: float | None) -> str | None:
    """GitHub's timestamp format: UTC, whole seconds."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def normalise_asset_name(name: str) -> str:
    """GitHub rewrites unusual characters in asset names. GUESS at the exact rule: anything outside
    ``[A-Za-z0-9._+@-]`` becomes ``.``, and leading/trailing dots are dropped."""
    cleaned = re.sub(r"[^A-Za-z0-9._+@-]", ".", name).strip(".")
    return cleaned or "default"


@dataclass
class Token:
    value: str
    access: str  # "write" (contents: write) or "read" (contents: read)
    login: str = "github-actions[bot]"
    # documented: may change workflow files (classic `workflow` scope, or Workflows: write); GITHUB_TOKEN never
    workflows: bool = False


@dataclass
class Asset:
    id: int
    release_id: int
    name: str
    label: str | None
    content_type: str
    # "starter" while the bytes are not all there, then "uploaded"; "open" (documented, the description's enum):
    # an upload that was interrupted, holding the bytes received so far (GUESS: size counts them, no digest)
    state: str
    created_at: float
    updated_at: float
    visible_at: float  # eventual consistency: reads before this time do not see it
    uploader: str
    object_key: str
    data: bytes = b""
    expected_size: int = 0
    download_count: int = 0

    @property
    def size(self) -> int:
        return len(self.data) if self.state in ("uploaded", "open") else 0

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.data).hexdigest() if self.state == "uploaded" else None


@dataclass
class Release:
    id: int
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    immutable: bool
    created_at: float
    updated_at: float
    published_at: float | None
    visible_at: float
    published_visible_at: float  # get-by-tag / latest see the publication only from this time
    author: str
    untagged: str
    assets: dict[int, Asset] = field(default_factory=dict)


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    private: bool = False
    immutable_releases: bool = False  # the repository setting: publishing makes a release immutable
    default_branch: str = "main"
    tags: dict[str, str] = field(default_factory=dict)
    releases: dict[int, Release] = field(default_factory=dict)
    burned_tags: set[str] = field(default_factory=set)
    # commits (branch names or SHAs) whose change adds or modifies files under .github/workflows/
    workflow_commits: set[str] = field(default_factory=set)
    # (effective time, release id or None=legacy rule): the latest pointer, with eventual consistency.
    latest_history: list[tuple[float, int | None]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class AssetView:
    """An asset as the test sees it (true state, no eventual consistency)."""

    id: int
    name: str
    label: str | None
    state: str
    size: int
    content_type: str
    sha256: str | None


@dataclass(frozen=True)
class ReleaseView:
    """A release as the test sees it (true state)."""

    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    immutable: bool
    latest: bool
    assets: tuple[AssetView, ...]

    def asset(self, name: str) -> AssetView | None:
        return next((a for a in self.assets if a.name == name), None)


# --- rules ------------------------------------------------------------------------------------------------


def check_types(payload: dict[str, Any], *, strings: tuple[str, ...], booleans: tuple[str, ...]) -> None:
    """Schema validation as GitHub's REST layer does it (422 "Invalid request." before any business rule)."""
    for key in strings:
        value = payload.get(key)
        if value is not None and not isinstance(value, str):
            shown = "true" if value is True else "false" if value is False else repr(value)
            raise ApiError(422, f"Invalid request.\n\nFor 'properties/{key}', {shown} is not a string.")
    for key in booleans:
        value = payload.get(key)
        if value is not None and not isinstance(value, bool):
            raise ApiError(422, f"Invalid request.\n\nFor 'properties/{key}', {value!r} is not a boolean.")
    make_latest = payload.get("make_latest")
    if make_latest is not None and make_latest not in MAKE_LATEST_VALUES:
        raise ApiError(422, f"Invalid request.\n\nFor 'properties/make_latest', {make_latest!r} is not one of "
                            "[\"true\", \"false\", \"legacy\"].")
    body = payload.get("body")
    if isinstance(body, str) and len(body) > BODY_LIMIT:
        raise validation_failed("Release", "custom", "body", f"body is too long (maximum is {BODY_LIMIT} characters)")


def published_holder(repo: Repo, tag: str, *, exclude: int | None = None) -> Release | None:
    for release in repo.releases.values():
        if release.tag_name == tag and not release.draft and release.id != exclude:
            return release
    return None


def check_tag_free(repo: Repo, tag: str, *, exclude: int | None = None) -> None:
    """A tag can hold one published release; a tag once used by an immutable release is burned for good."""
    if tag in repo.burned_tags:
        raise validation_failed("Release", "custom", "tag_name", "tag_name was used by an immutable release")
    if published_holder(repo, tag, exclude=exclude) is not None:
        raise validation_failed("Release", "already_exists", "tag_name")


def legacy_latest(repo: Repo, *, exclude: int | None = None, now: float | None = None) -> Release | None:
    """Legacy rule: newest published full release by creation date, then by semver."""
    candidates = [r for r in repo.releases.values() if not r.draft and not r.prerelease and r.id != exclude
                  and (now is None or r.published_visible_at <= now)]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (int(r.created_at), semver_key(r.tag_name), r.id))


def latest_pointer(repo: Repo, now: float | None) -> int | None:
    """The latest pointer as seen at ``now`` (None = as a fully consistent read)."""
    pointer: int | None = None
    for effective, value in repo.latest_history:
        if now is None or effective <= now:
            pointer = value
    return pointer


def latest_release(repo: Repo, now: float | None = None) -> Release | None:
    """``/releases/latest``: the release marked latest if it is still a published full release, else (GUESS)
    the legacy rule. ``now`` applies eventual consistency; None reads the true state."""
    pointer = latest_pointer(repo, now)
    if pointer is not None:
        release = repo.releases.get(pointer)
        if release and not release.draft and not release.prerelease:
            return release
    return legacy_latest(repo, now=now)


def apply_make_latest(repo: Repo, release: Release, make_latest: str | None, *, newly_published: bool,
                      effective: float) -> None:
    """Move the latest pointer after a create/update. ``make_latest`` defaults to "true" for a release that
    becomes published by this call; on an update of an already published release an absent value changes
    nothing. Drafts and prereleases cannot be latest (an explicit "true" on them is ignored: GUESS)."""
    if make_latest is None:
        if not newly_published:
            return
        make_latest = "true"
    current = latest_pointer(repo, None)
    if release.draft:
        return
    if make_latest == "legacy":
        repo.latest_history.append((effective, None))
    elif make_latest == "true":
        if not release.prerelease:
            repo.latest_history.append((effective, release.id))
    elif current is None and not newly_published:
        return
    elif current == release.id or (current is None and not release.prerelease):
        # "false" for the release currently latest (or that the legacy rule would pick): pin the legacy
        # choice among the others (GUESS).
        other = legacy_latest(repo, exclude=release.id)
        repo.latest_history.append((effective, other.id if other else None))
    if release.prerelease and latest_pointer(repo, None) == release.id:
        other = legacy_latest(repo, exclude=release.id)
        repo.latest_history.append((effective, other.id if other else None))
