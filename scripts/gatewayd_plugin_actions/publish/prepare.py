"""Publish stage 1, the dist: merge split-mode parts, check the version, and verify everything before a
single request is made; nothing is published from a dist that fails."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, dist, verify
from gatewayd_plugin_actions.errors import UserError, first_few
from gatewayd_plugin_actions.publish.context import Dist, PublishOptions
from gatewayd_plugin_actions.semver import Version

MAX_ASSET_BYTES = 2 * 1024**3 - 1


def load_dist(options: PublishOptions) -> Dist:
    """Merge the parts (split mode), check versions, and verify the dist: nothing is published otherwise.

    What may be uploaded is exactly what this verification checked (``report.uploads``), hashed as checked:
    a dist with any other file, or one that failed an earlier, stronger verification, is refused.
    """
    parts = [p.resolve() for p in options.dists]
    for part in parts:
        if not part.is_dir():
            raise UserError(f"--dist {part}: no such directory; run `release --snapshot` or `package` first")
    if len(parts) > 1:
        out = options.merge_dir or Path(tempfile.mkdtemp(prefix="gpa-merged-dist-"))
        path = dist.merge_dists(parts, out.resolve())
    else:
        path = parts[0]
    meta = dist.require(path)
    if meta.uncommitted:
        raise UserError(f"{path} was built from a work tree with uncommitted changes "
                        f"({first_few(meta.uncommitted)}), so it is not what "
                        "the tag holds; commit them, tag that commit and build again")
    tag = options.tag or meta.version
    version = Version.parse(tag)
    if meta.version != tag:
        raise UserError(f"{path} was built for {meta.version}, not {tag}: asset names carry the version, so "
                        f"rebuild with --version {tag}")
    targets = dist.targets_of(meta, dist.listed_files(path), meta.plugin)
    with actions_io.group(f"verify {path} before publishing"):
        report = verify.verify_dist(path, meta.plugin, tag, targets, options.repository,
                                    checked_archives=options.checked_archives, gate=options.gate)
    actions_io.conclude(report.problems, f"{path} is not installable, so nothing was published")
    assets = []
    for name in report.uploads:
        file = path / name
        size = file.stat().st_size
        if size > MAX_ASSET_BYTES:
            raise UserError(f"{name} is {size} bytes; GitHub release assets must be under 2 GiB")
        # Archives are uploaded with the hash they were checked with; a file changed since fails the upload
        # check (the live release is compared against these hashes).
        sha256 = report.sha256.get(name) or contract.sha256_file(file)
        assets.append(dist.Asset(name, file, sha256, size))
    return Dist(path, meta.plugin, version, targets, assets)
