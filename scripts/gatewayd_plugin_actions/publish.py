"""Stage ``publish``: put a verified dist on GitHub Releases, safely and idempotently.

The order is the only one that works with immutable releases and concurrent jobs:

1. **Preflight** (no writes): token present, repository reachable and writable, tag is ``v`` + semver, the
   dist passes ``verify``. A published release for the tag whose assets already carry the local digests
   means there is nothing to do (a re-run): exit 0 without a single write. An *immutable* one that differs
   is a clear error, and nothing is touched.
2. **Find or create a draft**: get-by-tag never shows drafts, so the release list is paged too; a create
   answered ``422 already_exists`` means another job won (adopt theirs, waiting out eventual
   consistency); duplicate drafts for the tag collapse onto the oldest (empty ones are deleted).
3. **Sync assets**: upload only what is missing or different (API ``digest`` vs local sha256), delete
   ``starter`` leftovers of failed uploads and assets that are not in the dist, bounded parallel uploads
   streamed from disk; a failed upload is reconciled (list, then delete or accept) before it is retried;
   every digest is verified afterwards.
4. **Publish** with an explicit ``make_latest`` *string* (prerelease → "false", older than the current
   latest → "false", else "true") and ``prerelease`` from the semver tag; generated notes against the
   previous tag, truncated to 125 000 characters.
5. **Verify the live release** with the installer contract (``contract.py``): asset names as the installer
   picks them, ``checksums.txt`` as it reads it, digests, and ``/releases/latest``.

Requests that do not depend on each other overlap, so a clean publish waits for 5 round trips plus the
upload waves instead of ~20: the preflight with both lookups; the generated notes with the create (they go
in with the publish call); the older-draft check with the first uploads (a duplicate draft's own maker
drops it); /releases/latest with the listing that confirms the uploads; and the three live reads.
``--concurrency 1`` makes every step one request at a time.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from gatewayd_plugin_actions import actions_io, contract, merge, verify
from gatewayd_plugin_actions.contract import Target
from gatewayd_plugin_actions.errors import Findings, Problem, UserError
from gatewayd_plugin_actions.github_api import JSON, GitHubClient, GitHubError, redact, split_repository
from gatewayd_plugin_actions.version import Version

NOTES_LIMIT = 125_000
MAX_ASSET_BYTES = 2 * 1024**3 - 1
UPLOAD_ATTEMPTS = 5
SYNC_ROUNDS = 3
Policy = Literal["auto", "true", "false"]
T = TypeVar("T")


@dataclass
class PublishOptions:
    dists: list[Path]
    tag: str | None = None
    repository: str | None = None
    draft: bool = False
    make_latest: Policy = "auto"
    prerelease: Policy = "auto"
    concurrency: int = 4
    notes_file: Path | None = None
    title: str | None = None
    target_commitish: str | None = None
    merge_dir: Path | None = None


@dataclass(frozen=True)
class LocalAsset:
    name: str
    path: Path
    sha256: str
    size: int


@dataclass
class Dist:
    path: Path
    plugin: str
    version: Version
    targets: list[Target]
    assets: list[LocalAsset]

    @property
    def archives(self) -> dict[str, LocalAsset]:
        names = [a.name for a in self.assets]
        picked = {contract.installer_pick_archive(names, t) for t in self.targets}
        return {a.name: a for a in self.assets if a.name in picked}


@dataclass
class Plan:
    """What a release needs so that its assets equal the dist."""

    upload: list[LocalAsset] = field(default_factory=list)
    delete: list[JSON] = field(default_factory=list)  # starter leftovers, different content, strays
    keep: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # uploaded assets not in the dist

    @property
    def complete(self) -> bool:
        return not self.upload and not self.delete


@dataclass
class Outcome:
    release: JSON
    assets: list[JSON] = field(default_factory=list)
    nothing_to_do: bool = False
    created: bool = False
    published_now: bool = False
    make_latest: str | None = None
    prerelease: bool = False
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    latest_tag: str | None = None
    seconds: float = 0.0


_PRINT_LOCK = threading.Lock()


def say(message: str) -> None:
    """A progress line; upload threads print whole lines, never interleaved ones."""
    with _PRINT_LOCK:
        actions_io.progress(message)


class _Retry(Exception):
    """Start over from locating the release (another job changed it under us)."""


def asset_sha256(asset: JSON) -> str | None:
    digest = asset.get("digest")
    if isinstance(digest, str) and digest.startswith("sha256:"):
        return digest.removeprefix("sha256:").lower()
    return None


def truncate_notes(text: str, limit: int = NOTES_LIMIT) -> str:
    if len(text) <= limit:
        return text
    marker = "\n\n… (release notes truncated to 125 000 characters)"
    return text[: limit - len(marker)] + marker


def previous_tag(tags: list[str], version: Version) -> str | None:
    """The release before ``version``: the highest lower tag, skipping prereleases for a final release."""
    lower = [v for v in (Version.parse(t) for t in tags if contract.is_valid_tag(t)) if v < version]
    if not version.is_prerelease:
        lower = [v for v in lower if not v.is_prerelease]
    return max(lower).tag if lower else None


# --------------------------------------------------------------------------------------------------
# The dist to publish
# --------------------------------------------------------------------------------------------------


def load_dist(options: PublishOptions) -> Dist:
    """Merge the parts (split mode), check versions, and verify the dist: nothing is published otherwise."""
    parts = [p.resolve() for p in options.dists]
    for part in parts:
        if not part.is_dir():
            raise UserError(f"--dist {part}: no such directory; run `release --snapshot` or `package` first")
    if len(parts) > 1:
        out = options.merge_dir or Path(tempfile.mkdtemp(prefix="gpa-merged-dist-"))
        path = merge.merge_dists(parts, out.resolve())
    else:
        path = parts[0]
    meta = verify.read_metadata(path)
    plugin = meta.get("plugin")
    if not isinstance(plugin, str) or not plugin:
        raise UserError(f"{path} has no metadata.json naming the plugin; publish a dist made by "
                        "`release --snapshot` or `package`")
    built = meta.get("version")
    tag = options.tag or (built if isinstance(built, str) else None)
    if not tag:
        raise UserError("no version: pass --version vX.Y.Z")
    version = Version.parse(tag)
    if isinstance(built, str) and built != tag:
        raise UserError(f"{path} was built for {built}, not {tag}: asset names carry the version, so rebuild "
                        f"with --version {tag}")
    listed = meta.get("targets")
    names = verify.uploadable_files(path)
    targets = ([Target.parse(str(t)) for t in listed] if isinstance(listed, list) and listed
               else verify.infer_targets(names, plugin))
    with actions_io.group(f"verify {path} before publishing"):
        report = verify.verify_dist(path, plugin, tag, targets, options.repository)
        actions_io.report(report.problems)
    Findings(report.problems).raise_if_errors(f"{path} is not installable, so nothing was published")
    assets = []
    for name in names:
        file = path / name
        size = file.stat().st_size
        if size > MAX_ASSET_BYTES:
            raise UserError(f"{name} is {size} bytes; GitHub release assets must be under 2 GiB")
        assets.append(LocalAsset(name, file, contract.sha256_file(file), size))
    return Dist(path, plugin, version, targets, assets)


# --------------------------------------------------------------------------------------------------
# The publisher
# --------------------------------------------------------------------------------------------------


def preflight_repository(client: GitHubClient, repository: str | None) -> None:
    """Before any work: the repository is reachable with this token, which may write to it."""
    owner, name = split_repository(repository)
    try:
        repo = client.get_repo(owner, name)
    except GitHubError as exc:
        if exc.status in (401, 403) or exc.status == 0:
            raise
        return  # the release calls that follow fail with the same hint if the repository is really missing
    permissions = repo.get("permissions")
    if isinstance(permissions, dict) and permissions.get("push") is False:
        raise UserError(f"the token can read {repository} but not write to it: give the release job "
                        "`permissions: contents: write` (or a token with contents: write); nothing was published")


def require_token(client: GitHubClient) -> None:
    if not client.has_token:
        raise UserError("no GitHub token: set GITHUB_TOKEN (the release action passes github.token) and give "
                        "the job `permissions: contents: write`; nothing was published")


class Publisher:
    def __init__(self, client: GitHubClient, repository: str, dist: Dist, options: PublishOptions) -> None:
        self.client = client
        self.owner, self.repo = split_repository(repository)
        self.repository = repository
        self.dist = dist
        self.options = options
        self.tag = dist.version.tag
        self.want_prerelease = {"true": True, "false": False}.get(options.prerelease, dist.version.is_prerelease)
        self.outcome = Outcome(release={})
        self.our_draft: JSON | None = None  # a draft this run created or adopted, named if we fail
        self.published_tags: list[str] | None = None  # from the last full list of releases
        # Independent reads (lookups, notes, the duplicate-draft check, /releases/latest) overlap each
        # other and the uploads; --concurrency 1 makes the whole run one request at a time.
        self.serial = options.concurrency <= 1
        self._lookups = ThreadPoolExecutor(max_workers=3, thread_name_prefix="lookup")
        self._uploads = ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="upload")
        self._notes: Future[str] | None = None
        self._notes_for: int | None = None  # id of the draft we created without a body (notes go in on publish)
        self._latest: Future[JSON | None] | None = None
        self._created_id: int | None = None  # the draft this round's create made (empty until we upload)
        self._abandon = threading.Event()  # set when our fresh draft turns out to be a duplicate

    # ---- helpers --------------------------------------------------------------------------------

    def start(self, call: Callable[[], T]) -> Future[T]:
        """Begin an independent read in the background; with --concurrency 1 it runs here and now."""
        if not self.serial:
            return self._lookups.submit(call)
        done: Future[T] = Future()
        try:
            done.set_result(call())
        except Exception as exc:  # handed to whoever asks for the result, as a pool would
            done.set_exception(exc)
        return done

    def together(self, *calls: Callable[[], Any]) -> list[Any]:
        """Independent reads at once; their results in order (the first failure, in order, is raised)."""
        futures = [self.start(call) for call in calls]
        return [future.result() for future in futures]

    def _pause(self, attempt: int) -> None:
        base = self.client.limits.backoff
        time.sleep(min(base * 2 ** (attempt - 1), self.client.limits.backoff_max) * random.uniform(0.5, 1.5))

    def _poll(self, fetch: Callable[[], T | None], what: str, tries: int = 8) -> T | None:
        """Re-read until GitHub shows what was just written (eventual consistency)."""
        for attempt in range(1, tries + 1):
            found = fetch()
            if found is not None:
                return found
            if attempt < tries:
                say(f"  {what} not visible yet; reading again")
                self._pause(attempt)
        return None

    def releases_for_tag(self) -> list[JSON]:
        """Every release (drafts too: our token can push) carrying the tag, oldest first."""
        everything = list(self.client.list_releases(self.owner, self.repo))
        self.published_tags = [str(r.get("tag_name")) for r in everything if not r.get("draft")]
        found = [r for r in everything if r.get("tag_name") == self.tag]
        return sorted(found, key=lambda r: int(r["id"]))

    def locate(self, *, preflight: bool = False) -> tuple[JSON | None, list[JSON]]:
        """(published release for the tag or None, drafts for the tag oldest first); with ``preflight``
        the repository check runs alongside, and its failure is the one reported."""
        calls: list[Callable[[], Any]] = [
            lambda: self.client.get_release_by_tag(self.owner, self.repo, self.tag), self.releases_for_tag]
        if preflight:
            calls.insert(0, lambda: preflight_repository(self.client, self.repository))
        *_, published, listed = self.together(*calls)
        if published is None:
            published = next((r for r in listed if not r.get("draft")), None)
        drafts = [r for r in listed if r.get("draft")]
        return published, drafts

    def plan(self, remote: list[JSON], *, prune: bool) -> Plan:
        plan = Plan()
        by_name = {str(a.get("name")): a for a in remote}
        for local in self.dist.assets:
            existing = by_name.get(local.name)
            if existing is None:
                plan.upload.append(local)
            elif existing.get("state") != "uploaded":
                plan.delete.append(existing)
                plan.upload.append(local)
            elif self._same(existing, local):
                plan.keep.append(local.name)
            else:
                plan.delete.append(existing)
                plan.upload.append(local)
        local_names = {a.name for a in self.dist.assets}
        for name, asset in by_name.items():
            if name in local_names:
                continue
            if asset.get("state") != "uploaded" or prune:
                plan.delete.append(asset)
            else:
                plan.strays.append(name)
        return plan

    def _same(self, remote: JSON, local: LocalAsset) -> bool:
        sha = asset_sha256(remote)
        if sha is not None:
            return sha == local.sha256
        if remote.get("size") != local.size:
            return False
        # An older GHES without asset digests: hash the asset itself.
        with tempfile.TemporaryDirectory(prefix="gpa-digest-") as tmp:
            path = self.client.download_asset(self.owner, self.repo, remote, Path(tmp) / local.name)
            return contract.sha256_file(path) == local.sha256

    # ---- 2. find or create the draft -----------------------------------------------------------

    def notes(self) -> str:
        if self.options.notes_file is not None:
            try:
                return truncate_notes(self.options.notes_file.read_text(encoding="utf-8"))
            except OSError as exc:
                raise UserError(f"--notes-file {self.options.notes_file}: {exc.strerror}") from None
        if self.published_tags is None:
            self.releases_for_tag()
        previous = previous_tag(self.published_tags or [], self.dist.version)
        try:
            body = self.client.generate_notes(self.owner, self.repo, self.tag, previous,
                                              self.options.target_commitish).get("body")
        except GitHubError as exc:
            actions_io.report([Problem(f"could not generate release notes ({exc.status}); publishing without "
                                       "them", severity="warning")])
            return ""
        say(f"  release notes generated against {previous or 'the first commit'}")
        return truncate_notes(str(body or ""))

    def create_draft(self) -> JSON | None:
        """Create our draft; None when another job's release for the tag appeared (caller re-locates).

        Generated notes are a request of their own: they run alongside the create and the uploads and go
        in with the publish call (a --draft run, or notes from a file, put them in the draft at once)."""
        payload: JSON = {"tag_name": self.tag, "name": self.options.title or self.tag, "draft": True,
                         "prerelease": self.want_prerelease}
        if self.options.draft or self.options.notes_file is not None:
            payload["body"] = self.notes()
        else:
            self._notes = self.start(self.notes)
        if self.options.target_commitish:
            payload["target_commitish"] = self.options.target_commitish
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                release = self.client.create_release(self.owner, self.repo, payload)
            except GitHubError as exc:
                if exc.status == 422 and exc.mentions("immutable"):
                    raise UserError(f"tag {self.tag} was used by an immutable release that was deleted: GitHub never "
                                    "frees such a tag. Release a new version (e.g. bump the patch number); "
                                    "nothing was published") from None
                if exc.status == 422 and exc.has_code("already_exists"):
                    say(f"  another job published {self.tag} first; adopting it")
                    return None
                if exc.status != 0 and exc.status < 500:
                    raise
                say(f"  creating the draft failed ({exc.status or 'no response'}); checking "
                                    "whether it was created anyway")
                drafts = self._poll(lambda: [r for r in self.releases_for_tag() if r.get("draft")] or None,
                                    "the draft", tries=3)
                if drafts:
                    return drafts[0]
                if attempt == UPLOAD_ATTEMPTS:
                    raise
                self._pause(attempt)
                continue
            self.outcome.created = True
            self._created_id = int(release["id"])
            if self._notes is not None:
                self._notes_for = int(release["id"])
            say(f"  created draft release {release['id']} for {self.tag}")
            return release
        return None

    def canonical_draft(self, ours: JSON, *, uploading: bool = False) -> JSON:
        """Two jobs racing may each create a draft: everyone keeps the oldest. Empty younger drafts are
        deleted here; a younger one already holding uploads is deleted by the job that made it, which
        runs this same check beside its uploads and moves over to the oldest draft."""
        drafts = self._poll(lambda: [r for r in self.releases_for_tag() if r.get("draft")] or None,
                            f"draft {ours['id']}", tries=4) or [ours]
        if all(int(d["id"]) != int(ours["id"]) for d in drafts):
            drafts = sorted([*drafts, ours], key=lambda r: int(r["id"]))
        keep = drafts[0]
        for other in drafts[1:]:
            if uploading and int(other["id"]) == int(ours["id"]):
                continue  # our uploads are landing in it: the caller deletes it once they have ended
            try:
                assets = self.client.list_assets(self.owner, self.repo, int(other["id"]))
            except GitHubError as exc:
                if exc.status == 404:
                    continue  # another job deleted it already
                raise
            if assets:
                say(f"  a younger draft {other['id']} for {self.tag} holds {len(assets)} assets; left alone: the "
                    "job uploading into it moves over to this one and deletes it (if no such job is running, "
                    f"delete it by hand: {other.get('html_url')})")
                continue
            self.client.delete_release(self.owner, self.repo, int(other["id"]))
            say(f"  deleted duplicate empty draft {other['id']} for {self.tag}")
        if int(keep["id"]) != int(ours["id"]):
            say(f"  using draft {keep['id']} (the oldest for {self.tag})")
        return keep

    # ---- 3. assets ------------------------------------------------------------------------------

    def find_asset(self, release: JSON, name: str) -> JSON | None:
        return next((a for a in self.client.list_assets(self.owner, self.repo, int(release["id"]))
                     if a.get("name") == name), None)

    def upload_one(self, release: JSON, local: LocalAsset) -> JSON:
        if self._abandon.is_set():
            raise UserError(f"upload of {local.name} not started: this job's draft is a duplicate being dropped")
        started = time.monotonic()
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                asset = self.client.upload_asset(release, local.path, local.name)
            except GitHubError as exc:
                if exc.status == 422 and exc.mentions("immutable"):
                    raise UserError(f"{self.tag} became an immutable release while uploading {local.name}; "
                                    "its assets cannot change any more") from None
                duplicate = exc.status == 422 and exc.has_code("already_exists")
                if not (duplicate or exc.status == 0 or exc.status >= 500) or attempt == UPLOAD_ATTEMPTS:
                    raise
                say(f"  upload of {local.name} failed "
                                    f"({'name taken' if duplicate else exc.status or 'connection lost'}); "
                                    "reconciling")
                existing = self.find_asset(release, local.name)
                if duplicate and existing is None:  # GitHub has it but does not list it yet
                    existing = self._poll(lambda: self.find_asset(release, local.name), local.name, tries=3)
                if duplicate and existing is not None and existing.get("state") != "uploaded":
                    # Maybe a concurrent job's upload in flight: let it finish before taking the name.
                    existing = self.wait_for_upload(release, existing, local)
                if existing is not None:
                    if existing.get("state") == "uploaded" and self._same(existing, local):
                        say(f"  {local.name} is there after all (same sha256)")
                        return existing
                    self.client.delete_asset(self.owner, self.repo, int(existing["id"]))
                    say(f"  deleted {existing.get('state')} leftover {local.name}")
                self._pause(attempt)
                continue
            sha = asset_sha256(asset)
            if sha is not None and sha != local.sha256:
                self.client.delete_asset(self.owner, self.repo, int(asset["id"]))
                if attempt == UPLOAD_ATTEMPTS:
                    raise UserError(f"GitHub stored {local.name} with sha256 {sha}, not {local.sha256}")
                continue
            took = time.monotonic() - started
            say(f"  uploaded {local.name}  {local.size / 1e6:.1f} MB  {took:.1f}s")
            return asset
        raise UserError(f"could not upload {local.name}")

    def starter_grace(self, local: LocalAsset) -> float:
        """How long another job's upload of ``local`` may reasonably take (GPA_STARTER_GRACE + 2 MB/s)."""
        return self.client.limits.starter_grace + local.size / 2e6

    def wait_for_upload(self, release: JSON, starter: JSON, local: LocalAsset) -> JSON | None:
        """A ``starter`` asset is an upload in flight (another job's) or the leftover of a failed one: wait
        for it to become ``uploaded`` within the grace period; return what is there then (None if gone)."""
        deadline = time.monotonic() + self.starter_grace(local)
        current: JSON | None = starter
        while current is not None and current.get("state") != "uploaded" and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.05, self.client.limits.backoff)))
            current = self.find_asset(release, local.name)
        return current

    def settle_starters(self, release: JSON, remote: list[JSON]) -> list[JSON]:
        """Before planning: give ``starter`` assets named like ours the chance to finish (a concurrent job
        uploading the same release), so two jobs never delete each other's uploads in turn."""
        local = {a.name: a for a in self.dist.assets}
        pending = [a for a in remote if a.get("state") != "uploaded" and str(a.get("name")) in local]
        if not pending:
            return remote
        grace = max(self.starter_grace(local[str(a.get("name"))]) for a in pending)
        say(f"  {len(pending)} assets are still uploading (another job?); waiting up to {grace:.0f}s")
        deadline = time.monotonic() + grace
        while pending and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.05, self.client.limits.backoff)))
            remote = self.client.list_assets(self.owner, self.repo, int(release["id"]))
            pending = [a for a in remote if a.get("state") != "uploaded" and str(a.get("name")) in local]
        return remote

    def settled_assets(self, release: JSON, expected: set[str]) -> list[JSON]:
        """The release's assets, re-read while some of ``expected`` (just uploaded) are not listed yet."""
        for attempt in range(1, 5):
            remote = self.client.list_assets(self.owner, self.repo, int(release["id"]))
            missing = expected - {str(a.get("name")) for a in remote}
            if not missing or attempt == 4:
                return remote
            say(f"  {len(missing)} uploaded assets not listed yet; reading again")
            self._pause(attempt)
        return remote

    def sync(self, release: JSON, *, prune: bool, fresh: bool = False,
             on_uploaded: Callable[[], None] | None = None) -> None:
        """Make the release's assets equal the dist; verified by digest afterwards.

        ``fresh``: the draft was created by this run a moment ago, so it is empty and is not listed first
        (a job adopting it meanwhile uploads the same names: the duplicate-name race is reconciled).
        ``on_uploaded`` runs after each upload round, before the listing that confirms it."""
        confirmed: set[str] = set()  # names whose upload GitHub answered with the right digest
        for round_number in range(1, SYNC_ROUNDS + 1):
            if fresh and round_number == 1:
                remote: list[JSON] = []
            else:
                remote = self.settle_starters(release, self.settled_assets(release, confirmed))
            plan = self.plan(remote, prune=prune)
            if round_number == 1:
                self.outcome.skipped = list(plan.keep)
            if plan.complete:
                if plan.strays:
                    actions_io.report([Problem(f"release {self.tag} also has {', '.join(plan.strays)}, which is "
                                               "not in the dist; left in place", severity="warning")])
                return
            if round_number == 1:
                say(f"  {len(plan.keep)} assets already uploaded with the same sha256, "
                                    f"{len(plan.upload)} to upload, {len(plan.delete)} to delete")
            for asset in plan.delete:
                if self.client.delete_asset(self.owner, self.repo, int(asset["id"])):
                    self.outcome.deleted.append(str(asset.get("name")))
                    say(f"  deleted {asset.get('state')} asset {asset.get('name')}")
            workers = max(1, min(self.options.concurrency, len(plan.upload)))
            started = time.monotonic()
            futures = [self._uploads.submit(self.upload_one, release, local) for local in plan.upload]
            wait(futures)  # every upload has ended, whatever happens next
            errors = []
            for future in futures:
                try:
                    confirmed.add(str(future.result().get("name")))
                except UserError as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]
            if plan.upload and on_uploaded is not None:
                on_uploaded()
            if plan.upload:
                size = sum(a.size for a in plan.upload)
                say(f"  uploads: {len(plan.upload)} assets, {size / 1e6:.1f} MB in "
                    f"{time.monotonic() - started:.2f}s, {workers} at a time")
            self.outcome.uploaded += [a.name for a in plan.upload]
        remote = self.settle_starters(release, self.settled_assets(release, confirmed))
        if not self.plan(remote, prune=prune).complete:
            raise UserError(f"the assets of release {self.tag} still differ from the dist after "
                            f"{SYNC_ROUNDS} rounds (another job uploading different files for the same tag?)")

    # ---- 4. publish -----------------------------------------------------------------------------

    def decide_make_latest(self) -> tuple[str, str | None]:
        """(make_latest string, tag of the current latest release)."""
        if self._latest is not None:
            latest, self._latest = self._latest.result(), None
        else:
            latest = self.client.get_latest_release(self.owner, self.repo)
        latest_tag = str(latest.get("tag_name")) if latest else None
        choice = self.options.make_latest
        if self.want_prerelease:
            if choice == "true":
                actions_io.report([Problem("make-latest true ignored: a prerelease can never be the latest "
                                           "release", severity="warning")])
            return "false", latest_tag
        if choice != "auto":
            return choice, latest_tag
        if latest_tag and latest_tag != self.tag and contract.is_valid_tag(latest_tag) \
                and Version.parse(latest_tag) > self.dist.version:
            say(f"  {self.tag} is older than the latest release {latest_tag}: not making it "
                                "latest (a back-port)")
            return "false", latest_tag
        return "true", latest_tag

    def prefetch_latest(self) -> None:
        """Read /releases/latest for the make_latest decision while the uploads are being confirmed."""
        if not self.options.draft:
            self._latest = self.start(lambda: self.client.get_latest_release(self.owner, self.repo))

    def publish(self, draft: JSON) -> JSON:
        make_latest, latest_tag = self.decide_make_latest()
        self.outcome.make_latest = make_latest
        self.outcome.latest_tag = latest_tag
        payload: JSON = {"draft": False, "tag_name": self.tag, "prerelease": self.want_prerelease,
                         "make_latest": make_latest}
        if self._notes is not None and self._notes_for == int(draft["id"]):
            payload["body"] = self._notes.result()  # only into the draft we created without one
        try:
            release = self.client.update_release(self.owner, self.repo, int(draft["id"]), payload)
        except GitHubError as exc:
            if exc.status == 422 and exc.has_code("already_exists"):
                say(f"  another job published {self.tag} first; checking its assets and "
                                    "dropping our duplicate draft")
                self.client.delete_release(self.owner, self.repo, int(draft["id"]))
                self.our_draft = None
                raise _Retry from None
            if exc.status == 422 and (exc.mentions("creations being restricted") or exc.mentions("pre_receive")
                                      or exc.has_code("custom", "pre_receive")):
                raise UserError(f"a tag rule forbids this token to create tag {self.tag}: push the tag first "
                                "(the workflow runs on tag pushes) or allow the bot in the ruleset") from None
            if exc.status == 422 and exc.mentions("immutable"):
                raise UserError(f"tag {self.tag} was used by an immutable release: GitHub never frees such a "
                                "tag; release a new version") from None
            if exc.status == 0 or exc.status >= 500:
                current = self.client.get_release(self.owner, self.repo, int(draft["id"]))
                if current is not None and not current.get("draft"):
                    release = current
                else:
                    raise
            else:
                raise
        self.outcome.published_now = True
        self.our_draft = None
        say(f"  published {self.tag} (prerelease={str(self.want_prerelease).lower()}, "
                            f"make_latest={make_latest})")
        return release

    # ---- 5. live verification -------------------------------------------------------------------

    def latest_tag(self, *, expect: str | None = None) -> str | None:
        """The tag /releases/latest names; re-read a few times while it is not ``expect`` yet (GitHub
        updates it a moment after publishing)."""
        def read() -> str | None:
            latest = self.client.get_latest_release(self.owner, self.repo)
            return str(latest.get("tag_name")) if latest else None
        tag = read()
        if expect is not None and tag != expect:
            tag = self._poll(lambda: expect if read() == expect else None, "the new latest release", tries=4) \
                or read()
        return tag

    def verify_live(self, release_id: int, *, check_latest: bool) -> None:
        problems: list[Problem] = []
        where = f"release {self.tag}"
        expected = {a.name for a in self.dist.assets}
        expect_latest = self.tag if check_latest and self.outcome.make_latest == "true" else None
        # The three reads are independent: the release as the installer finds it, its assets, and latest.
        if self.options.draft:
            release, assets = self.together(lambda: self.client.get_release(self.owner, self.repo, release_id),
                                            lambda: self.settled_assets({"id": release_id}, expected))
            latest_tag = None
        else:
            release, assets, latest_tag = self.together(
                lambda: self._poll(lambda: self.client.get_release_by_tag(self.owner, self.repo, self.tag),
                                   f"published release {self.tag}"),
                lambda: self.settled_assets({"id": release_id}, expected),
                lambda: self.latest_tag(expect=expect_latest))
            if release is None:
                raise UserError(f"GET /releases/tags/{self.tag} does not find the release after publishing; "
                                "`gatewayd plugin install …@" + self.tag + "` would fail")
            if int(release["id"]) != release_id:
                problems.append(Problem(f"GET /releases/tags/{self.tag} returns release {release['id']}, not "
                                        f"{release_id}: the installer would read another release's assets", where))
        assert release is not None
        self.outcome.release = release
        self.outcome.assets = assets
        names = [str(a.get("name")) for a in assets]
        problems += contract.check_asset_names(names, self.dist.plugin, self.tag, self.dist.targets, where)
        by_name = {str(a.get("name")): a for a in assets}
        for local in self.dist.assets:
            remote = by_name.get(local.name)
            if remote is None:
                problems.append(Problem(f"{local.name} is missing", where))
            elif remote.get("state") != "uploaded":
                problems.append(Problem(f"{local.name} is in state {remote.get('state')!r}", where))
            elif asset_sha256(remote) not in (None, local.sha256):
                problems.append(Problem(f"{local.name} has digest {remote.get('digest')}, the dist's sha256 is "
                                        f"{local.sha256}", where))
        checksums = by_name.get(contract.CHECKSUMS_ASSET)
        local_checksums = next((a for a in self.dist.assets if a.name == contract.CHECKSUMS_ASSET), None)
        if checksums is not None and checksums.get("state") == "uploaded":
            if local_checksums is not None and asset_sha256(checksums) == local_checksums.sha256:
                # GitHub's digest proves the stored bytes are the local file's: read it, not a download.
                text = local_checksums.path.read_text(encoding="utf-8", errors="replace")
            else:
                with tempfile.TemporaryDirectory(prefix="gpa-live-") as tmp:
                    path = self.client.download_asset(self.owner, self.repo, checksums,
                                                      Path(tmp) / "checksums.txt")
                    text = path.read_text(encoding="utf-8", errors="replace")
            live = {name: asset_sha256(by_name[name]) or local.sha256
                    for name, local in self.dist.archives.items() if name in by_name}
            problems += contract.check_checksums(text, live, f"{where} checksums.txt")
        if not self.options.draft:
            if release.get("draft"):
                problems.append(Problem("is still a draft", where))
            if bool(release.get("prerelease")) != self.want_prerelease and self.outcome.published_now:
                problems.append(Problem(f"prerelease is {release.get('prerelease')}, expected "
                                        f"{self.want_prerelease}", where))
            self.outcome.latest_tag = latest_tag
            if check_latest and self.outcome.make_latest == "true" and latest_tag != self.tag:
                problems.append(Problem(f"GET /releases/latest returns {latest_tag}, not {self.tag}: "
                                        "`…@latest` installs would get the wrong release", where))
            if self.want_prerelease and latest_tag == self.tag:
                problems.append(Problem("the prerelease is the latest release: `…@latest` installs would get it",
                                        where))
        self.outcome.checked.append(f"live release: {len(assets)} assets uploaded with the dist's sha256 digests; "
                                    "the installer picks exactly one archive per target and finds each archive's "
                                    "hash in checksums.txt")
        if not self.options.draft:
            self.outcome.checked.append(f"GET /releases/latest → {self.outcome.latest_tag}")
        actions_io.report(problems)
        Findings(problems).raise_if_errors(f"the live release {self.tag} failed verification")

    # ---- the flow -------------------------------------------------------------------------------

    def _finish_published(self, release: JSON) -> Outcome:
        remote = self.client.list_assets(self.owner, self.repo, int(release["id"]))
        plan = self.plan(remote, prune=False)
        if plan.complete:
            say(f"  {self.tag} is already published with identical assets: nothing to do")
            self.outcome.nothing_to_do = not self.outcome.published_now and not self.outcome.uploaded
            self.outcome.skipped = plan.keep
            self.verify_live(int(release["id"]), check_latest=False)
            return self.outcome
        if release.get("immutable"):
            differences = [f"missing {a.name}" for a in plan.upload if a.name not in
                           {str(d.get('name')) for d in plan.delete}]
            differences += [f"{d.get('name')} differs ({d.get('state')}, {d.get('digest')})" for d in plan.delete]
            raise UserError(
                f"release {self.tag} is immutable and its assets differ from the dist: "
                f"{'; '.join(differences[:6])}. Immutable releases cannot change; nothing was changed. "
                "Release a new version instead",
                [Problem(d, f"release {self.tag}") for d in differences])
        actions_io.report([Problem(f"release {self.tag} is already published but incomplete or different; "
                                   "repairing its assets in place", severity="warning")])
        self.sync(release, prune=False)
        self.verify_live(int(release["id"]), check_latest=False)
        return self.outcome

    def run(self) -> Outcome:
        started = time.monotonic()
        require_token(self.client)
        try:
            for attempt in range(SYNC_ROUNDS):
                try:
                    outcome = self._run_once(first=attempt == 0)
                except _Retry:
                    continue
                outcome.seconds = time.monotonic() - started
                return outcome
            raise UserError(f"the release for {self.tag} kept changing under this job (other jobs publishing "
                            "the same tag?); re-run")
        except UserError as exc:
            if self.our_draft is not None:
                left = (f"; nothing was published: draft release {self.our_draft.get('id')} "
                        f"({self.our_draft.get('html_url')}) was left behind. Re-run the job to finish it, or "
                        "delete it")
                raise UserError(redact(exc.message + left), exc.problems, exc.exit_code) from None
            raise
        finally:
            self._uploads.shutdown(cancel_futures=True)
            self._lookups.shutdown(cancel_futures=True)

    def _sync_fresh_draft(self, draft: JSON) -> None:
        """Upload into the draft this run just created while checking, alongside, that no older draft for
        the tag exists (two jobs creating at once). If one does, ours is deleted and the run starts over on
        theirs: the younger draft's maker cleans up, so neither job deletes the other's uploads."""
        def stop_uploads_if_duplicate(check: Future[JSON]) -> None:
            if check.exception() is None and int(check.result()["id"]) != int(draft["id"]):
                self._abandon.set()  # uploads not yet started are skipped

        oldest = self.start(lambda: self.canonical_draft(draft, uploading=True))
        oldest.add_done_callback(stop_uploads_if_duplicate)
        try:
            self.sync(draft, prune=True, fresh=True, on_uploaded=self.prefetch_latest)
        except (GitHubError, UserError):
            if int(oldest.result()["id"]) == int(draft["id"]):
                raise
            # Our draft was the younger one (maybe deleted under us): what failed no longer matters.
        finally:
            wait([oldest])
            self._abandon.clear()
        keep = oldest.result()
        if int(keep["id"]) != int(draft["id"]):
            say(f"  draft {keep['id']} for {self.tag} is older than ours ({draft['id']}): deleting ours and "
                "continuing on it")
            try:
                self.client.delete_release(self.owner, self.repo, int(draft["id"]))
            except GitHubError as exc:
                if exc.status != 404:
                    raise
            self.our_draft = None
            raise _Retry

    def _run_once(self, *, first: bool) -> Outcome:
        published, drafts = self.locate(preflight=first)
        if published is not None:
            return self._finish_published(published)
        draft = drafts[0] if drafts else None
        fresh = False
        if draft is None:
            self._created_id = None
            draft = self.create_draft()
            if draft is None:
                found = self._poll(lambda: self.locate()[0], f"the published release {self.tag}")
                if found is None:
                    raise _Retry
                return self._finish_published(found)
            fresh = self._created_id == int(draft["id"])
        else:
            say(f"  adopting existing draft {draft['id']} for {self.tag}")
        self.our_draft = draft
        try:
            if fresh and not self.serial:
                self._sync_fresh_draft(draft)
            else:
                draft = self.canonical_draft(draft)
                self.our_draft = draft
                self.sync(draft, prune=True, fresh=fresh and self._created_id == int(draft["id"]),
                          on_uploaded=self.prefetch_latest)
        except GitHubError as exc:
            if exc.status == 404 and self.client.get_release(self.owner, self.repo, int(draft["id"])) is None:
                say(f"  draft {draft['id']} was deleted under us (a concurrent job keeping an older draft); "
                    "starting over")
                self.our_draft = None
                raise _Retry from None
            raise
        if self.options.draft:
            say(f"  left {self.tag} as a draft (--draft): {draft.get('html_url')}")
            self.verify_live(int(draft["id"]), check_latest=False)
            self.our_draft = None
            return self.outcome
        release = self.publish(draft)
        self.verify_live(int(release["id"]), check_latest=True)
        return self.outcome


# --------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------


def assets_json(outcome: Outcome) -> list[JSON]:
    return [{"name": a.get("name"), "size": a.get("size"), "sha256": asset_sha256(a),
             "url": a.get("browser_download_url")} for a in outcome.assets]


def summary_markdown(dist: Dist, repository: str, outcome: Outcome, draft: bool) -> str:
    tag = dist.version.tag
    url = outcome.release.get("html_url", "")
    if outcome.nothing_to_do:
        status = "already published with identical assets (nothing changed)"
    elif draft:
        status = "uploaded to a draft (not published)"
    else:
        status = (f"published (prerelease: {str(outcome.prerelease).lower()}, "
                  f"make_latest: {outcome.make_latest})")
    rows = [[f"`{a['name']}`", f"{int(a['size'] or 0):,}", f"`{a['sha256'] or '-'}`"] for a in assets_json(outcome)]
    lines = [f"### Release {dist.plugin} [{tag}]({url}): {status}", "",
             actions_io.markdown_table(["asset", "bytes", "sha256"], rows),
             f"Uploaded {len(outcome.uploaded)}, unchanged {len(outcome.skipped)}, deleted {len(outcome.deleted)}; "
             f"latest release: {outcome.latest_tag or 'none'}.", "",
             "Install it:", "", "```sh", f"gatewayd plugin install github.com/{repository}@{tag}", "```", "",
             "Verify it:", "", "```sh",
             f"gh release download {tag} -R {repository} && sha256sum -c checksums.txt --ignore-missing",
             f"gh attestation verify {next(iter(dist.archives), 'ARCHIVE')} -R {repository}"
             "   # if provenance was attested",
             f"gh release verify {tag} -R {repository}   # immutable releases", "```", "",
             "Checked:", *[f"- {c}" for c in outcome.checked], ""]
    return "\n".join(lines)


def run_publish(options: PublishOptions, client: GitHubClient | None = None) -> tuple[Dist, Outcome]:
    """The whole stage: load and verify the dist, publish, verify live, write outputs and the summary."""
    repository = options.repository or os.environ.get("GITHUB_REPOSITORY") or None
    split_repository(repository)
    assert repository is not None
    options.repository = repository
    client = client or GitHubClient.from_env(pool_size=max(4, options.concurrency + 2))
    require_token(client)
    dist = load_dist(options)
    publisher = Publisher(client, repository, dist, options)
    with actions_io.group(f"publish {dist.plugin} {dist.version.tag} to {client.server_url}/{repository}"):
        outcome = publisher.run()
    outcome.prerelease = publisher.want_prerelease
    actions_io.set_output("release-url", str(outcome.release.get("html_url", "")))
    actions_io.set_output("release-id", str(outcome.release.get("id", "")))
    actions_io.set_output("version", dist.version.tag)
    actions_io.set_output("assets", json.dumps(assets_json(outcome)))
    actions_io.append_summary(summary_markdown(dist, repository, outcome, options.draft))
    return dist, outcome
