"""In-memory state of the fake GitHub: repositories, tags, releases, assets and tokens.

Every mutation goes through :class:`State`, whose methods take ``State.lock``; the HTTP layer never
changes the dataclasses directly.  Errors are raised as :class:`ApiError`, which carries the exact
status code and JSON body GitHub would send.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

JSON = dict[str, Any]

Permission = Literal["read", "write"]
# "open" (listed by GitHub's description): an upload that was interrupted, holding the bytes received so far, with
# no digest; which failures leave it is a GUESS (here: a connection dropped mid-body, see Faults.drop_connection).
AssetState = Literal["starter", "uploaded", "open"]
MAKE_LATEST_VALUES = ("true", "false", "legacy")
MAX_BODY_CHARS = 125_000
MAX_ASSETS_PER_RELEASE = 1000
MAX_ASSET_SIZE = 2 * 1024**3 - 1  # GitHub: "each file must be under 2 GiB"

DOCS = "https://docs.github.com/rest"
DOC_RELEASES = "https://docs.github.com/rest/releases/releases"
DOC_ASSETS = "https://docs.github.com/rest/releases/assets"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: dt.datetime | str | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


class ApiError(Exception):
    """An HTTP error response in GitHub's JSON error format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[JSON] | None = None,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = dict(headers or {})

    def body(self) -> JSON:
        out: JSON = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.documentation_url
        out["status"] = str(self.status)
        return out


def not_found(doc: str = DOCS) -> ApiError:
    return ApiError(404, "Not Found", documentation_url=doc)


def validation_failed(
    resource: str, code: str, field_name: str, message: str | None = None, doc: str = DOC_RELEASES
) -> ApiError:
    err: JSON = {"resource": resource, "code": code, "field": field_name}
    if message is not None:
        err["message"] = message
    return ApiError(422, "Validation Failed", errors=[err], documentation_url=doc)


def invalid_request(detail: str, doc: str = DOC_RELEASES) -> ApiError:
    """GitHub's JSON-schema failure: 422 ``Invalid request.\\n\\n<detail>``."""
    return ApiError(422, f"Invalid request.\n\n{detail}", documentation_url=doc)


# --------------------------------------------------------------------------------------------------
# Asset name normalisation
# --------------------------------------------------------------------------------------------------

_ALLOWED_NAME_CHARS = re.compile(r"[^A-Za-z0-9._+-]+")
_DOTS = re.compile(r"\.{2,}")


def normalize_asset_name(name: str) -> str:
    """Rename an asset the way GitHub does (approximation, see the package docstring).

    * every run of characters outside ``[A-Za-z0-9._+-]`` (spaces, brackets, non-ASCII, ...) becomes
      one ``.``; runs of dots collapse to one ``.``;
    * trailing dots are dropped; a leading dot gets the prefix ``default`` (``.env`` -> ``default.env``);
    * an empty result becomes ``default``.
    """
    out = _ALLOWED_NAME_CHARS.sub(".", name)
    out = _DOTS.sub(".", out)
    out = out.rstrip(".")
    if out.startswith("."):
        out = "default" + out
    return out or "default"


_BAD_REF = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]")


def valid_tag_name(tag: str) -> bool:
    """A loose ``git check-ref-format`` for tag names."""
    if not tag or tag.startswith(("/", "-", ".")) or tag.endswith(("/", ".", ".lock")):
        return False
    if ".." in tag or "//" in tag or "@{" in tag or tag == "@":
        return False
    return _BAD_REF.search(tag) is None


# --------------------------------------------------------------------------------------------------
# Dataclasses
# --------------------------------------------------------------------------------------------------


@dataclass
class Token:
    value: str
    permissions: Permission
    login: str = "github-actions[bot]"
    user_id: int = 41898282
    rate_limit: int = 5000
    #: authorised to change workflow files (a classic token's `workflow` scope, an App's Workflows: write);
    #: a job's GITHUB_TOKEN never is
    workflows: bool = False


@dataclass
class Asset:
    id: int
    release_id: int
    name: str
    label: str | None
    content_type: str
    state: AssetState
    size: int
    sha256: str | None
    path: Path | None
    owned: bool
    uploader: str
    created_at: dt.datetime
    updated_at: dt.datetime
    download_count: int = 0
    object_key: str = field(default_factory=lambda: secrets.token_hex(12))

    @property
    def digest(self) -> str | None:
        return None if self.sha256 is None else f"sha256:{self.sha256}"

    def read_bytes(self) -> bytes:
        """The stored content (test helper; b"" for a ``starter`` asset)."""
        return b"" if self.path is None else self.path.read_bytes()


@dataclass
class Release:
    id: int
    owner: str
    repo: str
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    immutable: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    author: str
    assets: list[Asset] = field(default_factory=list)
    untagged_key: str = field(default_factory=lambda: secrets.token_hex(10))
    #: published with make_latest "false": never chosen as latest until made latest explicitly
    exclude_from_latest: bool = False
    #: eventual consistency: hidden from get-by-tag and list for this many more reads / until then
    stale_reads: int = 0
    stale_until: float = 0.0
    #: ... and also from get-by-id and its asset list (404, as if it did not exist yet)
    stale_by_id: bool = False

    def is_stale(self, now: float) -> bool:
        return self.stale_reads > 0 or now < self.stale_until

    def asset(self, name: str) -> Asset | None:
        return next((a for a in self.assets if a.name == name), None)

    def snapshot(self) -> Release:
        return copy.deepcopy(self)


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str
    private: bool
    immutable_releases: bool
    tag_protection: bool
    #: ref (branch) -> path -> bytes; the default branch is always present
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    #: tag -> commit sha
    tags: dict[str, str] = field(default_factory=dict)
    #: refs (branches, SHAs) whose commit adds or modifies files under .github/workflows/ (default branch: its head)
    workflow_changes: set[str] = field(default_factory=set)
    #: tags once held by an immutable release: can never get a release again
    burned_tags: set[str] = field(default_factory=set)
    releases: dict[int, Release] = field(default_factory=dict)
    #: the release explicitly made latest ("true"); None means "legacy" (newest eligible)
    latest_id: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def fake_sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


def sort_key(release: Release) -> tuple[dt.datetime, int]:
    return (release.created_at, release.id)


# --------------------------------------------------------------------------------------------------
# State and its operations
# --------------------------------------------------------------------------------------------------


@dataclass
class State:
    storage_dir: Path
    clock: Callable[[], dt.datetime] = utcnow
    lock: threading.RLock = field(default_factory=threading.RLock)
    repos: dict[tuple[str, str], Repo] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    next_repo_id: int = 700_000_001
    next_release_id: int = 10_000_001
    next_asset_id: int = 20_000_001

    # ---- lookup -----------------------------------------------------------------------------------

    def repo(self, owner: str, name: str) -> Repo:
        with self.lock:
            repo = self.repos.get((owner.lower(), name.lower()))
            if repo is None:
                raise not_found("https://docs.github.com/rest/repos/repos#get-a-repository")
            return repo

    def repo_by_id(self, repo_id: int) -> Repo:
        with self.lock:
            for repo in self.repos.values():
                if repo.id == repo_id:
                    return repo
            raise not_found()

    def release(self, repo: Repo, release_id: int, *, can_see_drafts: bool, read: bool = False) -> Release:
        """``read``: a GET (get-by-id, asset list), which a release still in its read-after-create lag fails."""
        with self.lock:
            rel = repo.releases.get(release_id)
            if rel is None or (rel.draft and not can_see_drafts) or (read and rel.stale_by_id
                                                                      and self._consume_stale(rel)):
                raise not_found(f"{DOC_RELEASES}#get-a-release")
            return rel

    def find_asset(self, repo: Repo, asset_id: int, *, can_see_drafts: bool) -> tuple[Release, Asset]:
        with self.lock:
            for rel in repo.releases.values():
                for asset in rel.assets:
                    if asset.id == asset_id:
                        if rel.draft and not can_see_drafts:
                            break
                        return rel, asset
            raise not_found(f"{DOC_ASSETS}#get-a-release-asset")

    def _consume_stale(self, rel: Release) -> bool:
        """True if ``rel`` must be hidden from this read (and count the read)."""
        if not rel.is_stale(time.monotonic()):
            return False
        if rel.stale_reads > 0:
            rel.stale_reads -= 1
        return True

    def list_releases(self, repo: Repo, *, can_see_drafts: bool) -> list[Release]:
        with self.lock:
            out = []
            for rel in sorted(repo.releases.values(), key=sort_key, reverse=True):
                if rel.draft and not can_see_drafts:
                    continue
                if self._consume_stale(rel):
                    continue
                out.append(rel)
            return out

    def release_by_tag(self, repo: Repo, tag: str) -> Release:
        with self.lock:
            candidates = [r for r in repo.releases.values() if r.tag_name == tag and not r.draft]
            for rel in sorted(candidates, key=sort_key, reverse=True):
                if self._consume_stale(rel):
                    continue
                return rel
            raise not_found(f"{DOC_RELEASES}#get-a-release-by-tag-name")

    def latest(self, repo: Repo) -> Release | None:
        with self.lock:
            eligible = [
                r for r in repo.releases.values() if not r.draft and not r.prerelease and not r.exclude_from_latest
            ]
            for rel in eligible:
                if rel.id == repo.latest_id:
                    return rel
            return max(eligible, key=sort_key, default=None)

    # ---- releases ---------------------------------------------------------------------------------

    def _published_with_tag(self, repo: Repo, tag: str, exclude_id: int | None = None) -> Release | None:
        for rel in repo.releases.values():
            if rel.tag_name == tag and not rel.draft and rel.id != exclude_id:
                return rel
        return None

    def _check_tag_free(self, repo: Repo, tag: str, exclude_id: int | None = None) -> None:
        if self._published_with_tag(repo, tag, exclude_id) is not None:
            raise validation_failed("Release", "already_exists", "tag_name")
        if tag in repo.burned_tags:
            raise validation_failed("Release", "custom", "tag_name", "tag_name was used by an immutable release")

    def _ensure_tag(self, repo: Repo, tag: str, commitish: str) -> None:
        if tag in repo.tags:
            return
        if repo.tag_protection:
            raise validation_failed(
                "Release",
                "custom",
                "pre_receive",
                "pre_receive Repository rule violations found\n\n"
                "Cannot create ref due to creations being restricted.\n\n",
            )
        repo.tags[tag] = fake_sha(repo.full_name, tag, commitish)

    def _apply_make_latest(self, repo: Repo, rel: Release, make_latest: str) -> None:
        if make_latest == "false":
            rel.exclude_from_latest = True
            if repo.latest_id == rel.id:
                repo.latest_id = None
            return
        rel.exclude_from_latest = False
        if make_latest == "legacy":
            repo.latest_id = None
        elif not rel.draft and not rel.prerelease:  # "true"; drafts and prereleases cannot be latest
            repo.latest_id = rel.id

    def _publish(self, repo: Repo, rel: Release, make_latest: str) -> None:
        """draft -> published: tag checks, tag creation, immutability, latest."""
        self._check_tag_free(repo, rel.tag_name, exclude_id=rel.id)
        self._ensure_tag(repo, rel.tag_name, rel.target_commitish)
        now = self.clock()
        rel.draft = False
        rel.published_at = now
        rel.updated_at = now
        if repo.immutable_releases:
            rel.immutable = True
            repo.burned_tags.add(rel.tag_name)
        self._apply_make_latest(repo, rel, make_latest)

    def create_release(
        self,
        repo: Repo,
        *,
        tag_name: str,
        target_commitish: str | None = None,
        name: str | None = None,
        body: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        make_latest: str = "true",
        author: str = "github-actions[bot]",
        created_at: dt.datetime | None = None,
    ) -> Release:
        if not valid_tag_name(tag_name):
            raise validation_failed("Release", "invalid", "tag_name")
        if body is not None and len(body) > MAX_BODY_CHARS:
            raise validation_failed(
                "Release", "custom", "body", f"body is too long (maximum is {MAX_BODY_CHARS} characters)"
            )
        with self.lock:
            self._check_tag_free(repo, tag_name)
            now = self.clock()
            rel = Release(
                id=self.next_release_id,
                owner=repo.owner,
                repo=repo.name,
                tag_name=tag_name,
                target_commitish=target_commitish or repo.default_branch,
                name=name,
                body=body,
                draft=True,
                prerelease=prerelease,
                immutable=False,
                created_at=created_at or now,
                updated_at=now,
                published_at=None,
                author=author,
            )
            if not draft:
                self._publish(repo, rel, make_latest)  # may raise: nothing stored yet
            self.next_release_id += 1
            repo.releases[rel.id] = rel
            return rel

    def update_release(self, repo: Repo, rel: Release, changes: JSON) -> Release:
        with self.lock:
            if rel.id not in repo.releases:
                raise not_found(f"{DOC_RELEASES}#update-a-release")
            new_tag = changes.get("tag_name", rel.tag_name)
            if not valid_tag_name(new_tag):
                raise validation_failed("Release", "invalid", "tag_name")
            body = changes.get("body", rel.body)
            if body is not None and len(body) > MAX_BODY_CHARS:
                raise validation_failed(
                    "Release",
                    "custom",
                    "body",
                    f"body is too long (maximum is {MAX_BODY_CHARS} characters)",
                )
            if rel.immutable:
                if new_tag != rel.tag_name:
                    raise validation_failed(
                        "Release", "custom", "tag_name", "Cannot change the tag of an immutable release"
                    )
                if changes.get("draft") is True:
                    raise validation_failed(
                        "Release", "custom", "draft", "Cannot convert an immutable release to a draft"
                    )
            publishing = rel.draft and changes.get("draft") is False
            unpublishing = not rel.draft and changes.get("draft") is True
            if new_tag != rel.tag_name and not rel.draft and not unpublishing:
                self._check_tag_free(repo, new_tag, exclude_id=rel.id)
                self._ensure_tag(repo, new_tag, rel.target_commitish)
            if publishing:
                # validate before touching anything so a failed publish leaves the draft unchanged
                self._check_tag_free(repo, new_tag, exclude_id=rel.id)
                if new_tag not in repo.tags and repo.tag_protection:
                    self._ensure_tag(repo, new_tag, rel.target_commitish)  # raises pre_receive
            rel.tag_name = new_tag
            if "target_commitish" in changes and not rel.immutable:
                rel.target_commitish = changes["target_commitish"] or repo.default_branch
            if "name" in changes:
                rel.name = changes["name"]
            if "body" in changes:
                rel.body = body
            if "prerelease" in changes:
                rel.prerelease = bool(changes["prerelease"])
                if rel.prerelease and repo.latest_id == rel.id:
                    repo.latest_id = None
            rel.updated_at = self.clock()
            make_latest = changes.get("make_latest")
            if publishing:
                # an omitted make_latest on the publishing PATCH means the default, "true"
                self._publish(repo, rel, make_latest or "true")
            elif unpublishing:
                rel.draft = True
                rel.published_at = None
                if repo.latest_id == rel.id:
                    repo.latest_id = None
            elif make_latest is not None and not rel.draft:
                self._apply_make_latest(repo, rel, make_latest)
            return rel

    def delete_release(self, repo: Repo, rel: Release) -> None:
        with self.lock:
            if repo.releases.pop(rel.id, None) is None:
                raise not_found(f"{DOC_RELEASES}#delete-a-release")
            if repo.latest_id == rel.id:
                repo.latest_id = None
            for asset in rel.assets:
                self._discard_file(asset)
            rel.assets.clear()

    # ---- assets -----------------------------------------------------------------------------------

    def _discard_file(self, asset: Asset) -> None:
        if asset.owned and asset.path is not None:
            asset.path.unlink(missing_ok=True)
        asset.path = None

    def new_blob_path(self) -> Path:
        return self.storage_dir / f"blob-{secrets.token_hex(12)}"

    def begin_upload(
        self,
        repo: Repo,
        rel: Release,
        *,
        name: str,
        label: str | None,
        content_type: str,
        size: int,
        uploader: str,
    ) -> Asset:
        """Create the ``starter`` asset that represents an upload in progress (blocks the name)."""
        with self.lock:
            if rel.id not in repo.releases:
                raise not_found(f"{DOC_ASSETS}#upload-a-release-asset")
            if rel.immutable:
                raise ApiError(
                    422,
                    "Cannot upload assets to an immutable release",
                    documentation_url=f"{DOC_ASSETS}#upload-a-release-asset",
                )
            if rel.asset(name) is not None:
                raise validation_failed(
                    "ReleaseAsset", "already_exists", "name", doc=f"{DOC_ASSETS}#upload-a-release-asset"
                )
            if len(rel.assets) >= MAX_ASSETS_PER_RELEASE:
                raise validation_failed(
                    "ReleaseAsset",
                    "custom",
                    "release",
                    f"A release can have at most {MAX_ASSETS_PER_RELEASE} assets",
                    doc=f"{DOC_ASSETS}#upload-a-release-asset",
                )
            if size > MAX_ASSET_SIZE:
                raise validation_failed(
                    "ReleaseAsset",
                    "custom",
                    "size",
                    "size must be less than 2 GiB",
                    doc=f"{DOC_ASSETS}#upload-a-release-asset",
                )
            now = self.clock()
            asset = Asset(
                id=self.next_asset_id,
                release_id=rel.id,
                name=name,
                label=label,
                content_type=content_type,
                state="starter",
                size=0,
                sha256=None,
                path=None,
                owned=True,
                uploader=uploader,
                created_at=now,
                updated_at=now,
            )
            self.next_asset_id += 1
            rel.assets.append(asset)
            return asset

    def finish_upload(self, asset: Asset, path: Path, sha256: str, size: int, *, owned: bool = True) -> None:
        with self.lock:
            asset.path = path
            asset.owned = owned
            asset.sha256 = sha256
            asset.size = size
            asset.state = "uploaded"
            asset.updated_at = self.clock()

    def interrupt_upload(self, asset: Asset, received: bytes) -> None:
        """Leave ``asset`` ``open``: what arrived is stored, nothing is verified (no digest)."""
        with self.lock:
            path = self.new_blob_path()
            path.write_bytes(received)
            asset.path, asset.owned, asset.size, asset.sha256 = path, True, len(received), None
            asset.state = "open"
            asset.updated_at = self.clock()

    def abort_upload(self, repo: Repo, asset: Asset) -> None:
        with self.lock:
            rel = repo.releases.get(asset.release_id)
            if rel is not None and asset in rel.assets:
                rel.assets.remove(asset)
            self._discard_file(asset)

    def update_asset(self, repo: Repo, rel: Release, asset: Asset, changes: JSON) -> Asset:
        with self.lock:
            if rel.immutable:
                raise ApiError(
                    422,
                    "Cannot update assets of an immutable release",
                    documentation_url=f"{DOC_ASSETS}#update-a-release-asset",
                )
            if "name" in changes and changes["name"] is not None:
                new_name = normalize_asset_name(changes["name"])
                other = rel.asset(new_name)
                if other is not None and other is not asset:
                    raise validation_failed(
                        "ReleaseAsset",
                        "already_exists",
                        "name",
                        doc=f"{DOC_ASSETS}#update-a-release-asset",
                    )
                asset.name = new_name
            if "label" in changes:
                asset.label = changes["label"]
            if changes.get("state") in ("uploaded", "starter"):
                asset.state = changes["state"]
            asset.updated_at = self.clock()
            return asset

    def delete_asset(self, repo: Repo, rel: Release, asset: Asset) -> None:
        with self.lock:
            if rel.immutable:
                raise ApiError(
                    422,
                    "Cannot delete assets from an immutable release",
                    documentation_url=f"{DOC_ASSETS}#delete-a-release-asset",
                )
            if asset not in rel.assets:
                raise not_found(f"{DOC_ASSETS}#delete-a-release-asset")
            rel.assets.remove(asset)
            self._discard_file(asset)
