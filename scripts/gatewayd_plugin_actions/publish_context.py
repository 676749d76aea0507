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
from gatewayd_plugin_actions.contract import Target
from gatewayd_plugin_actions.github_api import JSON, GitHubClient, split_repository
from gatewayd_plugin_actions.verify import ArchiveResult
from gatewayd_plugin_actions.version import Version

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
    # Set by `release`, which has just built and checked the dist and preflighted the repository.
    checked_archives: dict[str, ArchiveResult] | None = None
    preflighted: bool = False


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


def asset_sha256(asset: JSON) -> str | None:
    digest = asset.get("digest")
    if isinstance(digest, str) and digest.startswith("sha256:"):
        return digest.removeprefix("sha256:").lower()
    return None


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

    def pause(self, attempt: int) -> None:
        base = self.client.limits.backoff
        time.sleep(min(base * 2 ** (attempt - 1), self.client.limits.backoff_max) * random.uniform(0.5, 1.5))

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
