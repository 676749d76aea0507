"""Split mode: merge the dists that build jobs on several runners produced into one dist to publish.

Each build job runs ``release --snapshot --version TAG --targets …`` (or ``build`` + ``package``) for its own
targets and uploads its dist as an artifact; the publish job downloads them all and passes every part as
``publish --dist PART --dist PART …``. Merging:

* requires every part to be a dist of the same plugin and version (``metadata.json``);
* copies the archives (and any other asset) once; the same name with different content is an error;
* restores exec bits on staged binaries under ``.build/`` (``actions/upload-artifact`` drops file modes),
  so a later ``package`` run packs them executable;
* rebuilds ``checksums.txt`` over the union (the parts' own files cover only their targets);
* writes a merged ``metadata.json``; the caller then re-runs ``verify`` over the union.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from gatewayd_plugin_actions import actions_io, build, contract
from gatewayd_plugin_actions.context import METADATA_FILE, Archive, Options, ReleaseContext
from gatewayd_plugin_actions.contract import Target
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.package import write_checksums
from gatewayd_plugin_actions.verify import read_metadata, uploadable_files


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
    metas: list[dict[str, Any]] = []
    for part in parts:
        meta: dict[str, Any] = dict(read_metadata(part))
        if not meta:
            raise UserError(f"{part} has no {METADATA_FILE}: is it a dist made by `release --snapshot` or "
                            "`package`? (upload the whole dist directory as the artifact)")
        metas.append(meta)
    plugin = _one({str(m.get("plugin")) for m in metas}, "plugin name", parts)
    version = _one({str(m.get("version")) for m in metas}, "version", parts)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty; pick another merge directory")
    out.mkdir(parents=True, exist_ok=True)

    sources: dict[str, tuple[str, Path]] = {}
    archive_targets: dict[str, str] = {}
    targets: set[Target] = set()
    binaries: list[dict[str, Any]] = []
    for part, meta in zip(parts, metas, strict=True):
        targets.update(Target.parse(str(t)) for t in meta.get("targets") or [])
        for entry in meta.get("archives") or []:
            archive_targets[str(entry["name"])] = str(entry["target"])
        for name in uploadable_files(part):
            if name == contract.CHECKSUMS_ASSET:
                continue  # rebuilt over the union below
            sha = contract.sha256_file(part / name)
            if name in sources and sources[name][0] != sha:
                raise UserError(f"{name} differs between {sources[name][1].parent} and {part}; two build jobs "
                                "produced the same asset with different content")
            if name not in sources:
                _link_or_copy(part / name, out / name)
                sources[name] = (sha, part / name)
        staged = part / build.BUILD_DIR
        if staged.is_dir():
            shutil.copytree(staged, out / build.BUILD_DIR, dirs_exist_ok=True)
            binaries += list(meta.get("binaries") or [])
    restored = restore_exec_bits(out / build.BUILD_DIR) if (out / build.BUILD_DIR).is_dir() else 0

    ctx = ReleaseContext(Options(project=out, dist=out))
    ctx.archives = [Archive(Target.parse(target), out / name, sources[name][0], (out / name).stat().st_size, "")
                    for name, target in sorted(archive_targets.items()) if name in sources]
    missing = sorted(set(archive_targets) - set(sources))
    if missing:
        raise UserError(f"metadata lists archives that no dist contains: {', '.join(missing)}")
    if ctx.archives:
        write_checksums(ctx)
    merged = {
        "plugin": plugin,
        "version": version,
        "prerelease": any(bool(m.get("prerelease")) for m in metas),
        "commit": metas[0].get("commit"),
        "source_date_epoch": metas[0].get("source_date_epoch"),
        "version_variable": metas[0].get("version_variable"),
        "targets": [str(t) for t in sorted(targets)],
        "binaries": binaries,
        "archives": [a.summary() for a in ctx.archives],
        "merged_from": [str(p) for p in parts],
    }
    (out / METADATA_FILE).write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    actions_io.progress(f"merged {len(parts)} dists into {out}: {len(ctx.archives)} archives for "
                        f"{len(targets)} targets{f', exec bits restored on {restored} binaries' if restored else ''}")
    return out
