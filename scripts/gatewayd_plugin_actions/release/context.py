"""The one context every release stage reads and extends (GoReleaser's "pipes" over a single context)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gatewayd_plugin_actions.dist import Archive
from gatewayd_plugin_actions.manifest import Manifest
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS, Target
from gatewayd_plugin_actions.verify import ArchiveResult, GateOptions

if TYPE_CHECKING:  # the publish wing is imported only by a release that publishes
    from gatewayd_plugin_actions.github.client import GitHubClient
    from gatewayd_plugin_actions.publish.context import Dist, Outcome, PublishOptions


@dataclass
class Options:
    project: Path
    dist: Path
    version: str | None = None
    targets: list[Target] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    version_variable: str | None = None  # e.g. github.com/o/r/plugin.Version; None = detect
    cgo: bool = False
    exe_suffix: bool = False
    extra_files: list[Path] = field(default_factory=list)
    main_package: str = "."
    build_tags: str = ""
    extra_ldflags: str = ""
    repository: str | None = None  # OWNER/NAME
    snapshot: bool = False
    gate: GateOptions = field(default_factory=GateOptions)  # start the plugin before publishing
    jobs: int = 0  # parallel target builds; 0 = one per CPU


@dataclass
class Binary:
    target: Target
    path: Path
    sha256: str
    size: int
    seconds: float
    started: float = 0.0  # time.monotonic() when `go build` started, to measure overlap


@dataclass
class Publishing:
    """What a release that publishes adds: how, with which client, and (afterwards) what came of it."""

    options: PublishOptions
    client: GitHubClient
    dist: Dist | None = None
    outcome: Outcome | None = None


@dataclass
class ReleaseContext:
    options: Options
    manifest: Manifest | None = None
    version: Version | None = None
    commit: str | None = None
    uncommitted: list[str] = field(default_factory=list)  # the work tree's changes against the commit
    source_date_epoch: int = 0
    version_variable: str | None = None
    binaries: list[Binary] = field(default_factory=list)
    archives: list[Archive] = field(default_factory=list)
    checksums: Path | None = None
    verified: list[str] = field(default_factory=list)  # human-readable list of what verify checked
    checked_archives: dict[str, ArchiveResult] = field(default_factory=dict)  # checked as soon as written
    timings: dict[str, float] = field(default_factory=dict)
    publishing: Publishing | None = None  # None: a snapshot (nothing is published)

    @property
    def plugin_name(self) -> str:
        assert self.manifest is not None, "validate runs first"
        return self.manifest.plugin_name

    @property
    def tag(self) -> str:
        assert self.version is not None, "version runs first"
        return self.version.tag
