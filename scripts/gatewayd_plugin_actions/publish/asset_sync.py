"""Publish stage 3, the assets: make a release's assets equal the dist.

Only what is missing or different is uploaded (the API ``digest`` against the local sha256; servers
without digests get the asset downloaded and hashed); an asset in any state but ``uploaded`` (a ``starter``
leftover of a failed upload, an ``open`` interrupted one) is never kept, and neither are assets not in the
dist; uploads run in the bounded pool, streamed from disk; a failed upload is reconciled (listed, then deleted
or accepted) before it is retried; a listing confirms the result.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract
from gatewayd_plugin_actions.dist import Asset
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.github.errors import JSON, GitHubError, asset_sha256
from gatewayd_plugin_actions.publish.context import SYNC_ROUNDS, PublishContext, say

# How often one upload may find its name taken (a leftover of ours, or another job's upload) before giving up.
NAME_CONFLICTS = 3
# Names of replacement uploads before they are swapped in (see swap_in); leftovers are always deleted.
STAGING_PREFIX = "gpa-staging-"


@dataclass
class Plan:
    """What a release needs so that its assets equal the dist."""

    upload: list[Asset] = field(default_factory=list)
    delete: list[JSON] = field(default_factory=list)  # starter leftovers, different content, strays
    keep: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # uploaded assets not in the dist

    @property
    def complete(self) -> bool:
        return not self.upload and not self.delete


def make_plan(ctx: PublishContext, remote: list[JSON], *, prune: bool) -> Plan:
    plan = Plan()
    by_name = {str(a.get("name")): a for a in remote}
    for local in ctx.dist.assets:
        existing = by_name.get(local.name)
        if existing is None:
            plan.upload.append(local)
        elif existing.get("state") != "uploaded":
            plan.delete.append(existing)
            plan.upload.append(local)
        elif same_content(ctx, existing, local):
            plan.keep.append(local.name)
        else:
            plan.delete.append(existing)
            plan.upload.append(local)
    local_names = {a.name for a in ctx.dist.assets}
    for name, asset in by_name.items():
        if name in local_names:
            continue
        if asset.get("state") != "uploaded" or prune or name.startswith(STAGING_PREFIX):
            plan.delete.append(asset)
        else:
            plan.strays.append(name)
    return plan


def same_content(ctx: PublishContext, remote: JSON, local: Asset) -> bool:
    sha = asset_sha256(remote)
    if sha is not None:
        return sha == local.sha256
    if remote.get("size") != local.size:
        return False
    # An older GHES without asset digests: hash the asset itself.
    with tempfile.TemporaryDirectory(prefix="gpa-digest-") as tmp:
        path = ctx.client.download_asset(ctx.owner, ctx.repo, remote, Path(tmp) / local.name)
        return contract.sha256_file(path) == local.sha256


def find_asset(ctx: PublishContext, release: JSON, name: str) -> JSON | None:
    return next((a for a in ctx.release_assets(int(release["id"])) if a.get("name") == name), None)


def upload_one(ctx: PublishContext, release: JSON, local: Asset, name: str | None = None) -> JSON:
    """Upload one asset; failures are reconciled before the next attempt. Connection losses, 5xx and digest
    mismatches get GPA_GITHUB_RETRIES retries; "name taken" (a leftover or a concurrent job's upload) has its
    own small budget; a 404 during the new release's read-after-create lag is waited out. ``name``: upload
    under another name than the local one."""
    name = name or local.name
    started = time.monotonic()
    release_id = int(release["id"])
    failures = conflicts = lag_waits = 0
    while True:
        if ctx.abandon.is_set():
            raise UserError(f"upload of {local.name} not started: this job's draft is a duplicate being dropped")
        try:
            asset = ctx.client.upload_asset(release, local.path, name)
        except GitHubError as exc:
            if exc.status == 422 and exc.mentions("immutable"):
                raise UserError(f"{ctx.tag} became an immutable release while uploading {local.name}; "
                                "its assets cannot change any more") from None
            if exc.status == 404:
                lag_waits += 1
                if ctx.wait_out_lag(release_id, lag_waits, f"uploading {local.name}"):
                    continue
                raise
            duplicate = exc.status == 422 and exc.has_code("already_exists")
            if duplicate:
                conflicts += 1
            elif exc.status == 0 or exc.status >= 500:
                failures += 1
            else:
                raise
            if failures > ctx.client.limits.retries or conflicts > NAME_CONFLICTS:
                raise
            say(f"  upload of {local.name} failed "
                f"({'name taken' if duplicate else exc.status or 'connection lost'}); "
                "reconciling")
            # After "name taken", GitHub has it but may not list it yet: read a few times.
            existing = ctx.poll(lambda: find_asset(ctx, release, name), name, tries=3 if duplicate else 1)
            if duplicate and existing is not None and existing.get("state") != "uploaded":
                # Maybe a concurrent job's upload in flight: let it finish before taking the name.
                existing = wait_for_upload(ctx, release, existing, local, name)
            if existing is not None:
                if existing.get("state") == "uploaded" and same_content(ctx, existing, local):
                    say(f"  {local.name} is there after all (same sha256)")
                    return existing
                ctx.client.delete_asset(ctx.owner, ctx.repo, int(existing["id"]))
                say(f"  deleted {existing.get('state')} leftover {local.name}")
            ctx.pause(failures + conflicts)
            continue
        sha = asset_sha256(asset)
        if sha is not None and sha != local.sha256:
            ctx.client.delete_asset(ctx.owner, ctx.repo, int(asset["id"]))
            failures += 1
            if failures > ctx.client.limits.retries:
                raise UserError(f"GitHub stored {local.name} with sha256 {sha}, not {local.sha256}")
            continue
        took = time.monotonic() - started
        say(f"  uploaded {local.name}  {local.size / 1e6:.1f} MB  {took:.1f}s")
        return asset


def staging_name(ctx: PublishContext) -> str:
    """A temporary asset name the installer can never pick: no GOOS, GOARCH, archive extension or
    checksums.txt in it (it matches names by substring)."""
    while True:
        name = f"{STAGING_PREFIX}{secrets.token_hex(6)}"
        if not any(contract.installer_matches_archive(name, t) for t in ctx.dist.targets) \
                and contract.installer_pick_checksums([name]) is None:
            return name


def swap_in(ctx: PublishContext, release: JSON, local: Asset, old: JSON) -> JSON:
    """Replace ``old`` (a live asset with other content) by ``local``: upload under a staging name, delete
    the old asset, rename the new one. A run that dies midway leaves a staging asset the next run deletes."""
    staged = upload_one(ctx, release, local, staging_name(ctx))
    if ctx.client.delete_asset(ctx.owner, ctx.repo, int(old["id"])):
        ctx.outcome.deleted.append(local.name)
    asset = ctx.client.rename_asset(ctx.owner, ctx.repo, int(staged["id"]), local.name)
    say(f"  replaced {local.name}: uploaded beside the old one, then swapped in")
    return asset


def starter_grace(ctx: PublishContext, local: Asset) -> float:
    """How long another job's upload of ``local`` may reasonably take (GPA_STARTER_GRACE + 2 MB/s)."""
    return ctx.client.limits.starter_grace + local.size / 2e6


def wait_for_upload(ctx: PublishContext, release: JSON, starter: JSON, local: Asset, name: str) -> JSON | None:
    """A ``starter`` asset is an upload in flight (another job's) or the leftover of a failed one: wait
    for it to become ``uploaded`` within the grace period; return what is there then (None if gone)."""
    deadline = time.monotonic() + starter_grace(ctx, local)
    current: JSON | None = starter
    while current is not None and current.get("state") != "uploaded" and time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.05, ctx.client.limits.backoff)))
        current = find_asset(ctx, release, name)
    return current


def settle_starters(ctx: PublishContext, release: JSON, remote: list[JSON]) -> list[JSON]:
    """Before planning: give ``starter`` assets named like ours the chance to finish (a concurrent job
    uploading the same release), so two jobs never delete each other's uploads in turn."""
    local = {a.name: a for a in ctx.dist.assets}
    pending = [a for a in remote if a.get("state") != "uploaded" and str(a.get("name")) in local]
    if not pending:
        return remote
    grace = max(starter_grace(ctx, local[str(a.get("name"))]) for a in pending)
    say(f"  {len(pending)} assets are still uploading (another job?); waiting up to {grace:.0f}s")
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.05, ctx.client.limits.backoff)))
        remote = ctx.release_assets(int(release["id"]))
        pending = [a for a in remote if a.get("state") != "uploaded" and str(a.get("name")) in local]
    return remote


def settled_assets(ctx: PublishContext, release: JSON, expected: set[str]) -> list[JSON]:
    """The release's assets, re-read while some of ``expected`` (just uploaded) are not listed yet."""
    return ctx.poll(lambda: ctx.release_assets(int(release["id"])),
                    "every uploaded asset in the list", tries=4,
                    done=lambda remote: expected <= {str(a.get("name")) for a in remote})


def sync(ctx: PublishContext, release: JSON, *, prune: bool, fresh: bool = False,
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
            remote = settle_starters(ctx, release, settled_assets(ctx, release, confirmed))
        plan = make_plan(ctx, remote, prune=prune)
        if round_number == 1:
            ctx.outcome.skipped = list(plan.keep)
        if plan.complete:
            if plan.strays:
                actions_io.report([Problem(f"release {ctx.tag} also has {', '.join(plan.strays)}, which is "
                                           "not in the dist; left in place", severity="warning")])
            return
        if round_number == 1:
            say(f"  {len(plan.keep)} assets already uploaded with the same sha256, "
                f"{len(plan.upload)} to upload, {len(plan.delete)} to delete")
        # A published release keeps serving installs while it is repaired: a changed asset is uploaded beside
        # the old one and swapped in, so the name is missing only between a delete and a rename.
        replaced = {x.name for x in plan.upload}
        swaps = {str(a.get("name")): a for a in plan.delete if not release.get("draft")
                 and a.get("state") == "uploaded" and str(a.get("name")) in replaced}
        for asset in plan.delete:
            if str(asset.get("name")) in swaps:
                continue
            if ctx.client.delete_asset(ctx.owner, ctx.repo, int(asset["id"])):
                ctx.outcome.deleted.append(str(asset.get("name")))
                say(f"  deleted {asset.get('state')} asset {asset.get('name')}")
        workers = max(1, min(ctx.options.concurrency, len(plan.upload)))
        started = time.monotonic()
        futures = [ctx.uploads.submit(swap_in, ctx, release, local, swaps[local.name]) if local.name in swaps
                   else ctx.uploads.submit(upload_one, ctx, release, local) for local in plan.upload]
        wait(futures)  # every upload has ended, whatever happens next
        errors = []
        for future in futures:
            try:
                confirmed.add(str(future.result().get("name")))
            except UserError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        if plan.upload:
            if on_uploaded is not None:
                on_uploaded()
            size = sum(a.size for a in plan.upload)
            say(f"  uploads: {len(plan.upload)} assets, {size / 1e6:.1f} MB in "
                f"{time.monotonic() - started:.2f}s, {workers} at a time")
        ctx.outcome.uploaded += [a.name for a in plan.upload]
    remote = settle_starters(ctx, release, settled_assets(ctx, release, confirmed))
    if not make_plan(ctx, remote, prune=prune).complete:
        raise UserError(f"the assets of release {ctx.tag} still differ from the dist after "
                        f"{SYNC_ROUNDS} rounds (another job uploading different files for the same tag?)")
