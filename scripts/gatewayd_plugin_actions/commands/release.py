"""``release``: validate → build → package → verify, and (without --snapshot) publish to GitHub Releases."""

from __future__ import annotations

import argparse
import dataclasses

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.commands.common import add_build, add_project, options_from
from gatewayd_plugin_actions.commands.publish import add_publish_options, publish_options
from gatewayd_plugin_actions.release import stages
from gatewayd_plugin_actions.release.context import Publishing, ReleaseContext


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("release", help="build, package and verify a release (and publish it)",
                                   description=__doc__)
    add_project(parser)
    add_build(parser)
    parser.add_argument("--snapshot", action="store_true",
                        help="make the exact dist/ CI would publish, and publish nothing")
    add_publish_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.snapshot:
        return run_full(args)
    ctx = stages.run_pipeline(stages.SNAPSHOT, ReleaseContext(options_from(args, snapshot=True)))
    stages.set_release_outputs(ctx)
    actions_io.append_summary(stages.summary_markdown(ctx, "Snapshot release"))
    dist = ctx.options.dist
    actions_io.progress(f"\nsnapshot {ctx.plugin_name} {ctx.tag}: {len(ctx.archives)} archives in {dist}")
    for archive in ctx.archives:
        actions_io.progress(f"  {archive.path}")
    actions_io.progress(f"  {ctx.checksums}")
    for item in ctx.verified:
        actions_io.progress(f"  verified: {item}")
    build_time = ctx.timings.get("build and package", 0.0)
    actions_io.progress(f"done in {ctx.timings['total']:.1f}s (build and package {build_time:.1f}s)")
    return 0


def run_full(args: argparse.Namespace) -> int:
    """preflight → validate → build → package → verify → publish: GitHub access is checked before building."""
    # Imported on use: snapshots never talk to GitHub (see commands/publish.py).
    from gatewayd_plugin_actions.github.client import GitHubClient  # noqa: PLC0415

    options = options_from(args, snapshot=False)
    # The dist is verified (and the plugin loaded in GatewayD) by the snapshot stages; publish's own check of it
    # repeats the local checks and the handshake, not the load.
    publish_opts = publish_options(args, [options.dist], None, dataclasses.replace(options.gate, gatewayd=None))
    ctx = ReleaseContext(options, publishing=Publishing(publish_opts, GitHubClient.for_uploads(args.concurrency)))
    stages.run_pipeline(stages.RELEASE, ctx)
    stages.set_release_outputs(ctx)
    assert ctx.publishing is not None and ctx.publishing.dist is not None and ctx.publishing.outcome is not None
    dist, outcome = ctx.publishing.dist, ctx.publishing.outcome
    state = "already published, nothing changed" if outcome.nothing_to_do else (
        "uploaded to a draft" if publish_opts.draft else "published")
    actions_io.progress(f"\n{dist.plugin} {dist.version.tag}: {state}: {outcome.release.get('html_url')}")
    for item in [*ctx.verified, *outcome.checked]:
        actions_io.progress(f"  verified: {item}")
    return 0
