"""Split mode: merge the dists that build jobs on several runners produced into one dist to publish.

Each build job runs ``release --snapshot --version TAG --targets …`` (or ``build`` + ``package``) for its own
targets and uploads its dist as an artifact; the publish job downloads them all and passes every part as
``publish --dist PART --dist PART …``. Merging:

* requires every part to be a dist of the same plugin and version (``metadata.json``);
* copies every file once (verifying the union refuses any that is not a declared archive); the same
  name with different content is an error;
* restores exec bits on staged binaries under ``.build/`` (``actions/upload-artifact`` drops file modes),
  so a later ``package`` run packs them executable;
* rebuilds ``checksums.txt`` over the union (the parts' own files cover only their targets);
* writes a merged ``metadata.json``; the caller then re-runs ``verify`` over the union.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, dist
from gatewayd_plugin_actions.contract import Target
from gatewayd_plugin_actions.errors import UserError


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def _one(values: set[str], what: str, parts: list[Path]) -> str:
    if len(values) != 1:
        raise UserError(f"the dists to merge disagree on the {what}: {', '.join(sorted(values))} "
                        f"({', '.join(map(str, parts))}); every build job must build the same plugin and tag")
    return values.pop()


def restore_exec_bits(tree: Path) -> int:
    """chmod 0755 every regular file under ``tree`` (staged binaries); returns how many changed."""
    changed = 0
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink() and (path.stat().st_mode & 0o777) != 0o755:
            path.chmod(0o755)
            changed += 1
    return changed


def merge_dists(parts: list[Path], out: Path) -> Path:
    """Merge ``parts`` into ``out`` (created; must not exist or be empty) and return ``out``."""
    if not parts:
        raise UserError("nothing to merge: pass at least one --dist")
    metas = [dist.require(part) for part in parts]
    plugin = _one({m.plugin for m in metas}, "plugin name", parts)
    version = _one({m.version for m in metas}, "version", parts)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty; pick another merge directory")
    out.mkdir(parents=True, exist_ok=True)

    sources: dict[str, tuple[str, Path]] = {}
    archive_targets: dict[str, Target] = {}
    targets: set[Target] = set()
    binaries: list[dist.StagedBinary] = []
    for part, meta in zip(parts, metas, strict=True):
        targets.update(meta.targets)
        for archive in meta.archives:
            archive_targets[archive.name] = archive.target
        # Every file travels, so the merged dist's verification names (and refuses) any stray one.
        for name in dist.listed_files(part):
            if name == contract.CHECKSUMS_ASSET:
                continue  # rebuilt over the union below
            sha = contract.sha256_file(part / name)
            if name in sources and sources[name][0] != sha:
                raise UserError(f"{name} differs between {sources[name][1].parent} and {part}; two build jobs "
                                "produced the same asset with different content")
            if name not in sources:
                _link_or_copy(part / name, out / name)
                sources[name] = (sha, part / name)
        staged = part / dist.BUILD_DIR
        if staged.is_dir():
            shutil.copytree(staged, out / dist.BUILD_DIR, dirs_exist_ok=True)
            binaries += meta.binaries
    restored = restore_exec_bits(out / dist.BUILD_DIR) if (out / dist.BUILD_DIR).is_dir() else 0

    missing = sorted(set(archive_targets) - set(sources))
    if missing:
        raise UserError(f"metadata lists archives that no dist contains: {', '.join(missing)}")
    archives = [dist.Archive(target, out / name, sources[name][0], (out / name).stat().st_size,
                             next((a.binary_sha256 for m in metas for a in m.archives if a.name == name), ""))
                for name, target in sorted(archive_targets.items())]
    if archives:
        dist.write_checksums(out, archives)
    first = metas[0]
    dist.save(out, dist.DistMetadata(
        plugin=plugin, version=version, targets=sorted(targets), prerelease=any(m.prerelease for m in metas),
        commit=first.commit, source_date_epoch=first.source_date_epoch, version_variable=first.version_variable,
        archives=archives, binaries=binaries, merged_from=[str(p) for p in parts]))
    actions_io.progress(f"merged {len(parts)} dists into {out}: {len(archives)} archives for "
                        f"{len(targets)} targets{f', exec bits restored on {restored} binaries' if restored else ''}")
    return out
