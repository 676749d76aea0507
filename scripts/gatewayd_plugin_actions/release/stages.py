"""The release pipelines as ordered lists of stages over one ``ReleaseContext`` (run by :mod:`..stage`).

    BUILD       validate → version → build → metadata                      (``build``; split mode's build jobs)
    PACKAGE     validate → restore → package → metadata                    (``package``: what ``build`` left)
    SNAPSHOT    validate → version → build and package → metadata → verify (``release --snapshot``)
    RELEASE     preflight → SNAPSHOT → publish                             (``release``)
    HOST_BUILD  host build, after validate → version (PLAN)                (``test-plugin``: built as released)
    DEV_REBUILD validate → host build, unpacked                            (``dev``, on a source change)

Build and package are pipelined per target: one pool runs ``go build``, another packs and checks each binary
the moment it exists, so archives are written while the next targets compile; the host target goes first so
the release gate starts on its archive while the others build.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, dist, gotools, verify
from gatewayd_plugin_actions.contract import MANIFEST_FILE, sha256_file
from gatewayd_plugin_actions.dist import Archive
from gatewayd_plugin_actions.errors import Problem, UserError, first_few
from gatewayd_plugin_actions.manifest import load_manifest
from gatewayd_plugin_actions.release import build, package
from gatewayd_plugin_actions.release.context import Binary, Options, ReleaseContext
from gatewayd_plugin_actions.release.version import (
    head_commit,
    ignored_tags_on_head,
    resolve_version,
    source_date_epoch,
    uncommitted_paths,
)
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.stage import Stage, run_stages
from gatewayd_plugin_actions.targets import Target, host_target


class Validate:
    name = "validate"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        repository = actions_io.repository(ctx.options.repository)
        manifest, problems = load_manifest(ctx.options.project / MANIFEST_FILE, repository)
        actions_io.report([p for p in problems if p.severity == "warning"])
        ctx.manifest = manifest
        for extra in ctx.options.extra_files:  # a missing file or a device fails now, not after every build
            package.extra_entries(extra, ctx.options.project)
        actions_io.progress(f"  validated {manifest.display}: plugin {manifest.plugin_name}")


class ResolveVersion:
    name = "version"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        project = ctx.options.project
        ctx.version = resolve_version(project, ctx.options.version, ctx.options.snapshot)
        if (too_long := contract.archive_name_problem(ctx.plugin_name, ctx.options.targets, ctx.tag)) is not None:
            raise UserError(too_long)
        for ignored in ignored_tags_on_head(project):
            actions_io.notice(f"tag {ignored!r} on HEAD is not 'v' + semver, so it is not a release version (the "
                              f"installer resolves only such tags); this build is {ctx.tag}. Tag v{ignored} instead "
                              "if that was meant")
        ctx.commit = head_commit(project)
        ctx.uncommitted = check_uncommitted(ctx)
        ctx.source_date_epoch = source_date_epoch(project)
        ctx.version_variable = build.resolve_version_variable(project, ctx.options.version_variable)
        build.check_extra_ldflags(ctx.options.extra_ldflags, ctx.version_variable)
        injected = f"-X {ctx.version_variable}={ctx.version.number}" if ctx.version_variable else "no -X"
        actions_io.progress(f"  version {ctx.tag}{' (prerelease)' if ctx.version.is_prerelease else ''}; "
                            f"{injected}")
        if ctx.version_variable is None:
            actions_io.notice("no plugin.Version variable found: the plugin cannot report its release version; "
                              "add `var Version = \"0.0.0\"` to package plugin or pass --version-variable")


def check_uncommitted(ctx: ReleaseContext) -> list[str]:
    """A release is built from its tagged commit: refused with uncommitted changes. Anything else (a snapshot,
    a split build) is warned about, and the dist records the changes so `publish` refuses it."""
    paths = uncommitted_paths(ctx.options.project, ctx.options.dist)
    if not paths:
        return []
    shown = first_few(paths)
    if ctx.publishing is not None:
        raise UserError(f"the work tree has uncommitted changes ({shown}): a release is built from the tagged "
                        "commit alone; commit or stash them (release --snapshot builds them, marked as such)")
    actions_io.report([Problem(f"the work tree has uncommitted changes ({shown}): this dist differs from what CI "
                               "builds of this commit; it is marked as such and `publish` will refuse it",
                               severity="warning")])
    return paths


@dataclass(frozen=True)
class BuildTargets:
    """Every target built; with ``package``, each archived, checked (and the host's gated) as soon as built."""

    package: bool = True

    @property
    def name(self) -> str:
        return "build and package" if self.package else "build"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        dist.prepare(ctx.options.dist)
        actions_io.progress(f"building {len(ctx.options.targets)} targets of {ctx.plugin_name} {ctx.tag} with "
                            f"{gotools.go_binary()} ({parallel_jobs(ctx.options, len(ctx.options.targets))} at "
                            "a time)")
        repository = actions_io.repository(ctx.options.repository)
        host = host_target()
        if ctx.version_variable and ctx.version is not None:  # what ldflags() injects: the gate checks it
            ctx.options.gate.expected_version = ctx.version
            ctx.options.gate.version_variable = ctx.version_variable

        def package_one(binary: Binary) -> Archive:
            archive = package.package_target(ctx, binary)
            # The archive is final (written atomically): check it now, while other targets still build.
            result = verify.verify_archive(archive.path, binary.target, ctx.plugin_name, repository)
            ctx.checked_archives[archive.name] = result
            actions_io.progress(result.line)
            gate = ctx.options.gate
            if gate.enabled and binary.target == host and not [p for p in result.problems if p.is_error]:
                # The release gate, while the other targets still build; verify reports what it found.
                result.gate = verify.run_gate(archive.path, result, ctx.plugin_name, gate,
                                              staged_binary=binary.path)
            binary.path.unlink()  # staged only for packing; deleting it here keeps the clean-up off the tail
            return archive

        run_per_target(ctx, lambda target: build.build_target(ctx, target), package_one if self.package else None)
        ctx.timings["go build"] = sum(b.seconds for b in ctx.binaries)
        ctx.timings["go build wall"] = busy_seconds([(b.started, b.started + b.seconds) for b in ctx.binaries])
        if self.package:
            write_checksums(ctx)
            shutil.rmtree(ctx.options.dist / dist.BUILD_DIR, ignore_errors=True)
            ctx.binaries = []  # their staging files are gone; the archives hold them now


class RestoreBuild:
    """``package`` after ``build``: the version and the staged binaries, as the build recorded them."""

    name = "restore"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        path = ctx.options.dist
        meta = dist.load(path) if path.is_dir() else None
        if meta is None or not meta.binaries:
            raise UserError(f"{path} has no built binaries; run `gatewayd-plugin-actions build` first")
        ctx.options.targets = [b.target for b in meta.binaries]
        ctx.version = Version.parse(meta.version)
        ctx.commit = meta.commit
        ctx.version_variable = meta.version_variable
        ctx.source_date_epoch = meta.source_date_epoch
        ctx.uncommitted = list(meta.uncommitted)
        for staged in meta.binaries:
            binary_path = path / staged.path
            if not binary_path.is_file():
                raise UserError(f"{binary_path} is missing; was the build artifact downloaded into "
                                f"{path / dist.BUILD_DIR}?")
            ctx.binaries.append(Binary(staged.target, binary_path, sha256_file(binary_path),
                                       binary_path.stat().st_size, 0.0))


class PackageStaged:
    name = "package"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        ctx.archives = [package.package_target(ctx, binary) for binary in ctx.binaries]
        write_checksums(ctx)


class WriteMetadata:
    name = "metadata"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        write_metadata(ctx)


class Verify:
    name = "verify"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        report = verify.verify_dist(ctx.options.dist, ctx.plugin_name, ctx.tag, ctx.options.targets,
                                    actions_io.repository(ctx.options.repository),
                                    ctx.checked_archives, ctx.options.gate)
        ctx.timings["gate"] = report.gate_seconds
        ctx.verified = report.checked
        actions_io.conclude(report.problems, f"{ctx.options.dist} is not installable; nothing was published")


class Preflight:
    """Before anything is built: a token, and the repository reachable and writable with it."""

    name = "preflight"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None if ctx.publishing is not None else "nothing is published"

    def run(self, ctx: ReleaseContext) -> None:
        # Imported on use: snapshots never talk to GitHub.
        from gatewayd_plugin_actions.publish.flow import preflight_repository, require_token  # noqa: PLC0415

        assert ctx.publishing is not None
        require_token(ctx.publishing.client)
        preflight_repository(ctx.publishing.client, actions_io.repository(ctx.options.repository))


class Publish:
    name = "publish"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None if ctx.publishing is not None else "a snapshot publishes nothing"

    def run(self, ctx: ReleaseContext) -> None:
        from gatewayd_plugin_actions.publish.flow import run_publish  # noqa: PLC0415

        publishing = ctx.publishing
        assert publishing is not None
        options = publishing.options
        options.tag = ctx.tag
        options.repository = actions_io.repository(ctx.options.repository)
        options.checked_archives = ctx.checked_archives  # verified a moment ago: not unpacked again
        options.preflighted = True
        publishing.dist, publishing.outcome = run_publish(options, publishing.client)


@dataclass(frozen=True)
class HostBuild:
    """The host target built (and, with ``package``, packed) exactly as ``release`` does; the binary is kept
    (test-plugin and dev may load it directly) and nothing else of a dist is written."""

    package: bool = True
    name = "build"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def run(self, ctx: ReleaseContext) -> None:
        ctx.options.dist.mkdir(parents=True, exist_ok=True)
        binary = build.build_target(ctx, host_target())
        ctx.binaries = [binary]
        ctx.archives = [package.package_target(ctx, binary)] if self.package else []


PLAN: list[Stage[ReleaseContext]] = [Validate(), ResolveVersion()]
BUILD: list[Stage[ReleaseContext]] = [*PLAN, BuildTargets(package=False), WriteMetadata()]
PACKAGE: list[Stage[ReleaseContext]] = [Validate(), RestoreBuild(), PackageStaged(), WriteMetadata()]
SNAPSHOT: list[Stage[ReleaseContext]] = [*PLAN, BuildTargets(), WriteMetadata(), Verify()]
RELEASE: list[Stage[ReleaseContext]] = [Preflight(), *SNAPSHOT, Publish()]
# test-plugin runs PLAN, then HOST_BUILD while PostgreSQL starts.
HOST_BUILD: list[Stage[ReleaseContext]] = [HostBuild()]
# dev, after its first HOST_BUILD, on every source change: it loads the binary itself (no installer round-trip),
# so the archive, a second of gzip, is not packed again.
DEV_REBUILD: list[Stage[ReleaseContext]] = [Validate(), HostBuild(package=False)]


def run_pipeline(stages: list[Stage[ReleaseContext]], ctx: ReleaseContext) -> ReleaseContext:
    """Run a pipeline over ``ctx``, with its total time (and $GPA_TIMINGS_FILE for benchmarks)."""
    started = time.monotonic()
    run_stages(stages, ctx)
    ctx.timings["total"] = time.monotonic() - started
    write_timings(ctx)
    return ctx


def parallel_jobs(options: Options, count: int) -> int:
    return max(1, min(count, options.jobs or (os.cpu_count() or 1)))


def run_per_target(ctx: ReleaseContext, build_one: Callable[[Target], Binary],
                   package_one: Callable[[Binary], Archive] | None) -> None:
    """Build every target and package each binary as soon as it exists.

    Builds and packaging run in separate pools so a `go build` is always running while archives are
    compressed: with one shared pool both workers would gzip at the same time and leave the compiler idle.
    """
    jobs = parallel_jobs(ctx.options, len(ctx.options.targets))
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="build") as builders, \
            ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="package") as packagers:
        # The host target first: the release gate starts on its archive while the others build.
        host = host_target()
        order = sorted(ctx.options.targets, key=lambda target: target != host)
        builds = [builders.submit(build_one, target) for target in order]
        packages: list[Future[Archive]] = []
        if package_one is not None:
            for done in as_completed(builds):
                if done.exception() is None:
                    packages.append(packagers.submit(package_one, done.result()))
        binaries = [future.result() for future in builds]
        archives = [future.result() for future in packages]
    ctx.binaries = sorted(binaries, key=lambda b: b.target)
    ctx.archives = sorted(archives, key=lambda a: a.target)


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Wall time covered by at least one interval (the union), e.g. of concurrent `go build` runs."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def write_timings(ctx: ReleaseContext) -> None:
    """With $GPA_TIMINGS_FILE set, record stage timings for benchmarks (kept out of dist/ on purpose)."""
    target = os.environ.get("GPA_TIMINGS_FILE")
    if target:
        Path(target).write_text(json.dumps(ctx.timings, indent=2) + "\n", encoding="utf-8")


def write_checksums(ctx: ReleaseContext) -> Path:
    ctx.checksums = dist.write_checksums(ctx.options.dist, ctx.archives)
    return ctx.checksums


def dist_metadata(ctx: ReleaseContext) -> dist.DistMetadata:
    """What this run put in the dist, as the dist metadata records it."""
    assert ctx.version is not None
    return dist.DistMetadata(
        plugin=ctx.plugin_name, version=ctx.tag, targets=list(ctx.options.targets),
        prerelease=ctx.version.is_prerelease, commit=ctx.commit, source_date_epoch=ctx.source_date_epoch,
        version_variable=ctx.version_variable, archives=list(ctx.archives), uncommitted=list(ctx.uncommitted),
        binaries=[dist.StagedBinary(b.target, b.path.relative_to(ctx.options.dist).as_posix(), b.sha256, b.size)
                  for b in ctx.binaries])


def write_metadata(ctx: ReleaseContext) -> Path:
    return dist.save(ctx.options.dist, dist_metadata(ctx))


def summary_markdown(ctx: ReleaseContext, title: str) -> str:
    rows = [[f"`{a.name}`", str(a.target), f"{a.size / 1e6:.1f} MB", f"`{a.sha256}`"] for a in ctx.archives]
    lines = [f"### {title}: {ctx.plugin_name} {ctx.tag}", "",
             actions_io.markdown_table(["asset", "target", "size", "sha256"], rows),
             "Verified:", *[f"- {item}" for item in ctx.verified], ""]
    return "\n".join(lines)


def set_release_outputs(ctx: ReleaseContext) -> None:
    actions_io.set_output("version", ctx.tag)
    actions_io.set_output("dist", str(ctx.options.dist))
    actions_io.set_output("artifacts", json.dumps([a.summary() for a in ctx.archives]))
