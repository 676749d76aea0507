"""Publish stage 1, the dist: merge split-mode parts, check the version, and verify everything before a
single request is made; nothing is published from a dist that fails."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, merge, verify
from gatewayd_plugin_actions.errors import Findings, UserError
from gatewayd_plugin_actions.publish_context import Dist, LocalAsset, PublishOptions
from gatewayd_plugin_actions.version import Version

MAX_ASSET_BYTES = 2 * 1024**3 - 1


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
    names = verify.uploadable_files(path)
    targets = verify.dist_targets(meta, names, plugin)
    with actions_io.group(f"verify {path} before publishing"):
        report = verify.verify_dist(path, plugin, tag, targets, options.repository,
                                    checked_archives=options.checked_archives)
        actions_io.report(report.problems)
    Findings(report.problems).raise_if_errors(f"{path} is not installable, so nothing was published")
    assets = []
    for name in names:
        file = path / name
        size = file.stat().st_size
        if size > MAX_ASSET_BYTES:
            raise UserError(f"{name} is {size} bytes; GitHub release assets must be under 2 GiB")
        sha256 = report.sha256.get(name) or contract.sha256_file(file)  # archives were hashed when checked
        assets.append(LocalAsset(name, file, sha256, size))
    return Dist(path, plugin, version, targets, assets)
