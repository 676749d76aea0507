"""Publish stage 5: verify the live release as the installer will see it.

The release by tag, its assets and /releases/latest are read at once; then the installer contract
(``contract``) is applied: asset names as the installer picks them, ``checksums.txt`` as it reads it
(GitHub's digest proves the stored copy; without one it is downloaded), every digest, draft and prerelease
flags, and which release ``…@latest`` installs get.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.github.errors import asset_sha256
from gatewayd_plugin_actions.publish import asset_sync
from gatewayd_plugin_actions.publish.context import PublishContext


def read_latest_tag(ctx: PublishContext, *, expect: str | None = None) -> str | None:
    """The tag /releases/latest names; re-read a few times while it is not ``expect`` yet (GitHub
    updates it a moment after publishing)."""
    def read() -> str | None:
        latest = ctx.client.get_latest_release(ctx.owner, ctx.repo)
        return str(latest.get("tag_name")) if latest else None
    return ctx.poll(read, "the new latest release", tries=5 if expect is not None else 1,
                    done=lambda tag: tag == expect)


def verify_live(ctx: PublishContext, release_id: int, *, check_latest: bool) -> None:
    problems: list[Problem] = []
    where = f"release {ctx.tag}"
    expected = {a.name for a in ctx.dist.assets}
    expect_latest = ctx.tag if check_latest and ctx.outcome.make_latest == "true" else None
    # The three reads are independent: the release as the installer finds it, its assets, and latest.
    if ctx.options.draft:
        release, assets = ctx.together(lambda: ctx.client.get_release(ctx.owner, ctx.repo, release_id),
                                        lambda: asset_sync.settled_assets(ctx, {"id": release_id}, expected))
        latest_tag = None
        if release is None:
            raise UserError(f"draft release {release_id} for {ctx.tag} is gone (deleted while this job ran?)")
    else:
        release, assets, latest_tag = ctx.together(
            lambda: ctx.poll(lambda: ctx.client.get_release_by_tag(ctx.owner, ctx.repo, ctx.tag),
                             f"published release {ctx.tag}"),
            lambda: asset_sync.settled_assets(ctx, {"id": release_id}, expected),
            lambda: read_latest_tag(ctx, expect=expect_latest))
        if release is None:
            raise UserError(f"GET /releases/tags/{ctx.tag} does not find the release after publishing; "
                            "`gatewayd plugin install …@" + ctx.tag + "` would fail")
        if int(release["id"]) != release_id:
            problems.append(Problem(f"GET /releases/tags/{ctx.tag} returns release {release['id']}, not "
                                    f"{release_id}: the installer would read another release's assets", where))
    ctx.outcome.release = release
    ctx.outcome.assets = assets
    names = [str(a.get("name")) for a in assets]
    problems += contract.check_asset_names(names, ctx.dist.plugin, ctx.tag, ctx.dist.targets, where)
    by_name = {str(a.get("name")): a for a in assets}
    for local in ctx.dist.assets:
        remote = by_name.get(local.name)
        if remote is None:
            problems.append(Problem(f"{local.name} is missing", where))
        elif remote.get("state") != "uploaded":
            problems.append(Problem(f"{local.name} is in state {remote.get('state')!r}", where))
        elif asset_sha256(remote) not in (None, local.sha256):
            problems.append(Problem(f"{local.name} has digest {remote.get('digest')}, the dist's sha256 is "
                                    f"{local.sha256}", where))
    checksums = by_name.get(contract.CHECKSUMS_ASSET)
    local_checksums = next((a for a in ctx.dist.assets if a.name == contract.CHECKSUMS_ASSET), None)
    if checksums is not None and checksums.get("state") == "uploaded":
        if local_checksums is not None and asset_sha256(checksums) == local_checksums.sha256:
            # GitHub's digest proves the stored bytes are the local file's: read it, not a download.
            text = local_checksums.path.read_text(encoding="utf-8", errors="replace")
        else:
            with tempfile.TemporaryDirectory(prefix="gpa-live-") as tmp:
                path = ctx.client.download_asset(ctx.owner, ctx.repo, checksums,
                                                  Path(tmp) / "checksums.txt")
                text = path.read_text(encoding="utf-8", errors="replace")
        live = {name: asset_sha256(by_name[name]) or local.sha256
                for name, local in ctx.dist.archives.items() if name in by_name}
        problems += contract.check_checksums(text, live, f"{where} checksums.txt")
    if not ctx.options.draft:
        if release.get("draft"):
            problems.append(Problem("is still a draft", where))
        if bool(release.get("prerelease")) != ctx.want_prerelease and ctx.outcome.published_now:
            problems.append(Problem(f"prerelease is {release.get('prerelease')}, expected "
                                    f"{ctx.want_prerelease}", where))
        ctx.outcome.latest_tag = latest_tag
        if expect_latest is not None and latest_tag != expect_latest:
            problems.append(Problem(f"GET /releases/latest returns {latest_tag}, not {ctx.tag}: "
                                    "`…@latest` installs would get the wrong release", where))
        if ctx.want_prerelease and latest_tag == ctx.tag:
            problems.append(Problem("the prerelease is the latest release: `…@latest` installs would get it",
                                    where))
    ctx.outcome.checked.append(f"live release: {len(assets)} assets uploaded with the dist's sha256 digests; "
                                "the installer picks exactly one archive per target and finds each archive's "
                                "hash in checksums.txt")
    if not ctx.options.draft:
        ctx.outcome.checked.append(f"GET /releases/latest → {ctx.outcome.latest_tag}")
    actions_io.conclude(problems, f"the live release {ctx.tag} failed verification")
