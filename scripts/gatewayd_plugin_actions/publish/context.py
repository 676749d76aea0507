"""What every publish stage shares: the options, the dist, the GitHub client, the outcome so far, and the
helpers for overlapping independent requests and for waiting out GitHub's eventual consistency."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from gatewayd_plugin_actions import actions_io, contract
from gatewayd_plugin_actions.dist import Asset
from gatewayd_plugin_actions.github.client import GitHubClient
from gatewayd_plugin_actions.github.errors import JSON, GitHubError, split_repository
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.targets import Target
from gatewayd_plugin_actions.verify import ArchiveResult, GateOptions

CREATE_ATTEMPTS = 5
SYNC_ROUNDS = 3
# GitHub can answer 404 for a release it created a moment ago, on reads and uploads alike (read-after-create
# lag: cli/cli#6599, softprops/action-gh-release#760). Until a read has shown a release this run created, a
# 404 for it is retried for up to this long before it is believed (a concurrent job may really have deleted it).
CREATE_LAG_SECONDS = 10.0
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
    # Set by `release`, which has just built and checked the dist and preflighted the repository.
    checked_archives: dict[str, ArchiveResult] | None = None
    preflighted: bool = False
    gate: GateOptions = field(default_factory=GateOptions)  # start the host build before uploading


@dataclass
class Dist:
    path: Path
    plugin: str
    version: Version
    targets: list[Target]
    assets: list[Asset]

    @property
    def archives(self) -> dict[str, Asset]:
        names = [a.name for a in self.assets]
        picked = {contract.installer_pick_archive(names, t) for t in self.targets}
        return {a.name: a for a in self.assets if a.name in picked}


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


class Retry(Exception):
    """Start over from locating the release (another job changed it under us)."""


class PublishContext:
    """One publish run. Independent reads (lookups, notes, the duplicate-draft check, /releases/latest)
    overlap each other and the uploads; ``--concurrency 1`` makes the whole run one request at a time."""

    def __init__(self, client: GitHubClient, repository: str, dist: Dist, options: PublishOptions) -> None:
        self.client = client
        self.owner, self.repo = split_repository(repository)
        self.repository = repository
        self.dist = dist
        self.options = options
        self.tag = dist.version.tag
        self.want_prerelease = {"true": True, "false": False}.get(options.prerelease, dist.version.is_prerelease)
        self.outcome = Outcome(release={})
        self.serial = options.concurrency <= 1
        self.lookups = ThreadPoolExecutor(max_workers=3, thread_name_prefix="lookup")
        self.uploads = ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="upload")
        self.abandon = threading.Event()  # set when our fresh draft turns out to be a duplicate
        self._unseen: dict[int, float] = {}  # releases this run created that no read has shown yet → when

    # ---- GitHub's read-after-create lag ---------------------------------------------------------

    def created(self, release_id: int) -> None:
        self._unseen[release_id] = time.monotonic()

    def seen(self, release_id: int) -> None:
        self._unseen.pop(release_id, None)

    def lag_left(self, release_id: int) -> float:
        """Seconds a 404 for this release may still be GitHub's lag rather than a deletion (0: believe it)."""
        created = self._unseen.get(release_id)
        return 0.0 if created is None else max(0.0, created + CREATE_LAG_SECONDS - time.monotonic())

    def wait_out_lag(self, release_id: int, attempt: int, what: str) -> bool:
        """After a 404 for ``release_id``: False if it is to be believed; else say so, pause, True (try again)."""
        left = self.lag_left(release_id)
        if left <= 0:
            return False
        say(f"  release {release_id} is not visible yet for {what} (GitHub's read-after-create lag); trying again")
        self.pause(attempt, cap=left)
        return True

    def despite_lag(self, release_id: int, read: Callable[[], T], what: str) -> T:
        """``read()`` about a release, repeated while it answers 404 (GitHubError, or None from a lookup that
        allows 404) during the release's read-after-create lag."""
        attempt = 0
        while True:
            attempt += 1
            try:
                result = read()
            except GitHubError as exc:
                if exc.status != 404 or not self.wait_out_lag(release_id, attempt, what):
                    raise
                continue
            if result is not None:
                self.seen(release_id)
                return result
            if not self.wait_out_lag(release_id, attempt, what):
                return result

    def release_assets(self, release_id: int) -> list[JSON]:
        return self.despite_lag(release_id, lambda: self.client.list_assets(self.owner, self.repo, release_id),
                                "listing its assets")

    def release_by_id(self, release_id: int) -> JSON | None:
        """The release, or None once a 404 is believed."""
        return self.despite_lag(release_id, lambda: self.client.get_release(self.owner, self.repo, release_id),
                                "reading it")

    def close(self) -> None:
        self.uploads.shutdown(cancel_futures=True)
        self.lookups.shutdown(cancel_futures=True)

    def start(self, call: Callable[[], T]) -> Future[T]:
        """Begin an independent read in the background; with --concurrency 1 it runs here and now."""
        if not self.serial:
            return self.lookups.submit(call)
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

    def pause(self, attempt: int, cap: float | None = None) -> None:
        base = self.client.limits.backoff
        delay = min(base * 2 ** (attempt - 1), self.client.limits.backoff_max) * random.uniform(0.5, 1.5)
        time.sleep(delay if cap is None else min(delay, cap))

    def poll(self, fetch: Callable[[], T], what: str, tries: int = 8,
             done: Callable[[T], bool] = lambda found: found is not None) -> T:
        """Re-read until GitHub shows what was just written (eventual consistency): until ``done`` holds
        for what ``fetch`` returns, or ``tries`` reads; returns the last read."""
        for attempt in range(1, tries + 1):
            found = fetch()
            if done(found) or attempt == tries:
                return found
            say(f"  {what} not visible yet; reading again")
            self.pause(attempt)
        raise AssertionError("tries must be at least 1")
