"""The dist: the one owner of ``dist/``'s layout and of ``metadata.json`` (GoReleaser's typed metadata).

A dist holds one archive per declared target, ``checksums.txt`` over them, ``metadata.json`` (never
uploaded) and, between ``build`` and ``package``, staged binaries under ``.build/``. Every command reads
and writes it through this module: the metadata schema lives here only, what may be uploaded is decided
here only (exactly the archives verification checked plus ``checksums.txt``; any other file is refused
by name), and the outcome of the last verification is recorded here, so a dist that failed is never
later taken for installable by a weaker check.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewayd_plugin_actions import contract, userfiles
from gatewayd_plugin_actions.actions_io import progress
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.targets import Target

METADATA_FILE = "metadata.json"
BUILD_DIR = ".build"  # per-target binaries before packaging
SCHEMA_VERSION = 2
METADATA_LIMIT = 16 * 1024 * 1024  # ours are a few KiB
# Verification strengths, weakest first: every dist gets the local checks; "gate" starts the host binary
# as GatewayD would; "install" runs the real `gatewayd plugin install` round-trip.
CHECK_KINDS = ("local", "gate", "install")


@dataclass
class Archive:
    """One target's archive in the dist."""

    target: Target
    path: Path
    sha256: str
    size: int
    binary_sha256: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    def summary(self) -> dict[str, str | int]:
        """As metadata.json and the action's outputs list it."""
        return {"name": self.name, "target": str(self.target), "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Asset:
    """A file ``publish`` uploads: an archive verification checked, or ``checksums.txt``."""

    name: str
    path: Path
    sha256: str
    size: int


@dataclass
class StagedBinary:
    """A built binary under ``.build/`` waiting for ``package`` (split mode)."""

    target: Target
    path: str  # relative to the dist
    sha256: str
    size: int


@dataclass
class Verification:
    passed: bool
    checks: list[str]  # which of CHECK_KINDS ran
    errors: list[str]  # the first few errors, as printed (no timestamp: the dist's bytes stay reproducible)

    def covers(self, other: Verification) -> bool:
        """This run checked at least everything ``other`` checked."""
        return set(other.checks) <= set(self.checks)


@dataclass
class DistMetadata:
    plugin: str
    version: str
    targets: list[Target]
    prerelease: bool = False
    commit: str | None = None
    source_date_epoch: int = 0
    version_variable: str | None = None
    archives: list[Archive] = field(default_factory=list)
    binaries: list[StagedBinary] = field(default_factory=list)
    merged_from: list[str] = field(default_factory=list)
    verification: Verification | None = None
    uncommitted: list[str] = field(default_factory=list)  # work-tree changes the build saw (a dirty snapshot)

    def to_json(self, dist: Path) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "plugin": self.plugin,
            "version": self.version,
            "prerelease": self.prerelease,
            "commit": self.commit,
            "source_date_epoch": self.source_date_epoch,
            "version_variable": self.version_variable,
            "targets": [str(t) for t in self.targets],
            "binaries": [{"target": str(b.target), "path": b.path, "sha256": b.sha256, "size": b.size}
                         for b in self.binaries],
            "archives": [{**a.summary(), "binary_sha256": a.binary_sha256} for a in self.archives],
        }
        if self.merged_from:
            data["merged_from"] = self.merged_from
        if self.uncommitted:
            data["uncommitted"] = self.uncommitted
        if self.verification is not None:
            v = self.verification
            data["verification"] = {"passed": v.passed, "checks": v.checks, "errors": v.errors}
        return data


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path, default: Any = None) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise UserError(f"{where}: field {key!r} is {type(value).__name__}, not what `release` writes; "
                        "rebuild the dist with `release --snapshot` (or `build`/`package`)")
    return value


def _target(text: object, where: Path, key: str) -> Target:
    try:
        return Target.parse(str(text))
    except ValueError as exc:
        raise UserError(f"{where}: {key}: {exc}; rebuild the dist") from None


def parse_metadata(data: object, dist: Path) -> DistMetadata:
    where = dist / METADATA_FILE
    if not isinstance(data, dict):
        raise UserError(f"{where}: not a JSON object; rebuild the dist with `release --snapshot`")
    plugin = _field(data, "plugin", str, where)
    version = _field(data, "version", str, where)
    if not plugin or not version:
        raise UserError(f"{where}: names no plugin or version; rebuild the dist with `release --snapshot`")
    targets = [_target(t, where, "targets") for t in _field(data, "targets", list, where, [])]
    archives = []
    for entry in _field(data, "archives", list, where, []):
        if not isinstance(entry, dict) or not isinstance(name := entry.get("name"), str) or not _plain_name(name):
            raise UserError(f"{where}: an 'archives' entry is not an object with a file name in the dist; "
                            "rebuild the dist")
        archives.append(Archive(_target(entry.get("target"), where, "archives[].target"), dist / name,
                                _field(entry, "sha256", str, where, ""), _field(entry, "size", int, where, 0),
                                _field(entry, "binary_sha256", str, where, "")))
    binaries = []
    for entry in _field(data, "binaries", list, where, []):
        if not isinstance(entry, dict) or not isinstance(path := entry.get("path"), str) or not _inside(path):
            raise UserError(f"{where}: a 'binaries' entry is not an object with a path inside the dist; "
                            "rebuild the dist")
        binaries.append(StagedBinary(_target(entry.get("target"), where, "binaries[].target"), path,
                                     _field(entry, "sha256", str, where, ""), _field(entry, "size", int, where, 0)))
    verification = None
    if isinstance(record := data.get("verification"), dict):
        verification = Verification(bool(record.get("passed")), _strings(record, "checks", where),
                                    _strings(record, "errors", where))
    epoch = data.get("source_date_epoch")
    return DistMetadata(
        plugin=plugin, version=version, targets=targets, prerelease=bool(data.get("prerelease")),
        commit=_field(data, "commit", str, where), source_date_epoch=epoch if isinstance(epoch, int) else 0,
        version_variable=_field(data, "version_variable", str, where), archives=archives, binaries=binaries,
        merged_from=_strings(data, "merged_from", where), verification=verification,
        uncommitted=_strings(data, "uncommitted", where))


def _strings(data: dict[str, Any], key: str, where: Path) -> list[str]:
    return [str(item) for item in _field(data, key, list, where, [])]


def _plain_name(name: str) -> bool:
    """A file directly in the dist: metadata never points outside it (``../``, absolute paths)."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and "\0" not in name


def _inside(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and "\0" not in path and not any(p in ("", ".", "..") for p in parts)


def load(dist: Path) -> DistMetadata | None:
    """The dist's metadata, or None when it has no metadata.json (a dist made by other tools)."""
    if dist.exists() and not dist.is_dir():
        raise UserError(f"--dist {dist} is a file, not a directory; pass the dist directory")
    path = dist / METADATA_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(userfiles.read_text(path, "the dist metadata", METADATA_LIMIT))
    except UserError as exc:
        raise UserError(f"{exc.message}; rebuild the dist with `release --snapshot`", exc.problems) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); rebuild the dist with `release --snapshot`") from None
    return parse_metadata(data, dist)


def require(dist: Path) -> DistMetadata:
    if not dist.is_dir():
        raise UserError(f"dist directory {dist} does not exist; run `release --snapshot` or `package` first")
    meta = load(dist)
    if meta is None:
        raise UserError(f"{dist} has no {METADATA_FILE}: is it a dist made by `release --snapshot` or `package`? "
                        "(upload the whole dist directory as the artifact)")
    return meta


def save(dist: Path, meta: DistMetadata) -> Path:
    path = dist / METADATA_FILE
    # A name of its own per writer: jobs sharing a dist (a matrix publishing one artifact) each record their
    # verification; with one shared name the second rename found the first writer's file gone (a traceback).
    temporary = path.with_name(f".{METADATA_FILE}.{os.getpid()}.{threading.get_ident()}.partial")
    temporary.write_text(json.dumps(meta.to_json(dist), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)  # atomic: a reader never sees half a file
    return path


def has_metadata(dist: Path) -> bool:
    """Whether ``dist`` was made by this tool (``release``/``build`` write its metadata)."""
    return (dist / METADATA_FILE).is_file()


def prepare(path: Path) -> None:
    """Start from an empty dist/, but never delete a directory this tool did not make."""
    if path.exists() and not path.is_dir():
        raise UserError(f"--dist {path} is a file, not a directory; pass a directory for the dist (it is created)")
    if path.exists():
        ours = (path / METADATA_FILE).is_file() or (path / BUILD_DIR).is_dir()
        if any(path.iterdir()) and not ours:
            raise UserError(f"{path} exists and was not made by gatewayd-plugin-actions; remove it or pass "
                            "another --dist")
        shutil.rmtree(path)
    path.mkdir(parents=True)


def listed_files(dist: Path) -> list[str]:
    """Every regular file at the dist root but our metadata and temp files: what could be uploaded."""
    if not dist.is_dir():
        raise UserError(f"dist directory {dist} does not exist; run `release --snapshot` or `package` first")
    return sorted(p.name for p in dist.iterdir()
                  if p.is_file() and p.name != METADATA_FILE and not p.name.startswith(".")
                  and not p.name.endswith(".partial"))


def infer_targets(names: list[str], plugin: str) -> list[Target]:
    """Targets from archive names ``<plugin>-<os>-<arch>-…`` when nothing says which were meant."""
    found: set[Target] = set()
    for name in names:
        if name.startswith(plugin + "-") and name.endswith((".tar.gz", ".zip")):
            parts = name[len(plugin) + 1:].split("-")
            if len(parts) >= 3:
                try:
                    found.add(Target.parse(f"{parts[0]}/{parts[1]}"))
                except ValueError:
                    continue
    return sorted(found)


def targets_of(meta: DistMetadata | None, names: list[str], plugin: str) -> list[Target]:
    """The targets a dist was built for: its metadata's list, else inferred from the archive names."""
    if meta is not None and meta.targets:
        return list(meta.targets)
    return infer_targets(names, plugin)


def uploads(names: list[str], targets: list[Target]) -> list[str]:
    """What ``publish`` uploads: the installer's pick for each declared target, and ``checksums.txt``."""
    picked = {contract.installer_pick_archive(names, t) for t in targets}
    return sorted(n for n in names if n in picked or n == contract.CHECKSUMS_ASSET)


def undeclared_files(names: list[str], targets: list[Target], where: str) -> list[Problem]:
    """Files that are neither a declared target's archive nor ``checksums.txt`` (nor a look-alike of
    one, which ``contract.check_asset_names`` already names): refused, never silently uploaded."""
    wanted = set(uploads(names, targets))
    problems = []
    for name in names:
        lookalike = any(contract.installer_matches_archive(name, t) for t in targets) or \
            contract.CHECKSUMS_ASSET in name
        if name not in wanted and not lookalike:
            declared = ", ".join(str(t) for t in targets) or "none"
            problems.append(Problem(
                f"{name} is not the archive of a declared target (declared: {declared}) nor checksums.txt; "
                "publish uploads only those, so remove it from the dist (or build its target with --targets)",
                where))
    return problems


def earlier_failure(meta: DistMetadata | None, checks: list[str], where: str) -> Problem | None:
    """A recorded failed verification that this (weaker) run cannot overrule."""
    record = meta.verification if meta else None
    if record is None or record.passed or Verification(True, checks, []).covers(record):
        return None
    first = record.errors[0] if record.errors else "see the earlier log"
    return Problem(f"this dist failed an earlier verification ({', '.join(record.checks)} checks): "
                   f"{first}; fix the cause and rebuild it, or repeat that verification "
                   f"(`verify` with the same --gatewayd-version or --gatewayd-binary)", where)


def record_verification(dist: Path, checks: list[str], errors: list[Problem]) -> None:
    """Write the outcome into metadata.json (a dist without one is not ours to change)."""
    meta = load(dist)
    if meta is None:
        return
    previous = meta.verification
    if previous is not None and not previous.passed and not Verification(True, checks, []).covers(previous):
        return  # a weaker run never replaces a stronger failure (it would then be all a later weak run sees)
    if previous is not None and previous.passed and not errors and previous.covers(Verification(True, checks, [])):
        return  # nor does a weaker pass hide what a stronger one proved
    meta.verification = Verification(not errors, checks, [str(p) for p in errors[:5]])
    save(dist, meta)


def write_checksums(dist: Path, archives: list[Archive]) -> Path:
    """``checksums.txt`` in GNU sha256sum format, one line per archive, sorted, LF endings."""
    lines = [contract.checksum_line(a.sha256, a.name) for a in sorted(archives, key=lambda a: a.name)]
    path = dist / contract.CHECKSUMS_ASSET
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path

# ---------------------------------------------------------------------------------------------------
# Merge (split mode): the dists that build jobs on several runners produced, made into one to publish.
#
# Each build job runs ``release --snapshot --version TAG --targets …`` for its own targets and uploads its
# dist as an artifact; the publish job passes every part as ``publish --dist PART --dist PART …``. Every part
# must be a dist of the same plugin and version; every file travels once (the merged dist's verification
# then names and refuses any stray one), the same name with other bytes is an error; exec bits of staged
# binaries under ``.build/`` are restored (``actions/upload-artifact`` drops file modes); ``checksums.txt``
# is rebuilt over the union; the caller then verifies the union.
# ---------------------------------------------------------------------------------------------------


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
    metas = [require(part) for part in parts]
    plugin = _one({m.plugin for m in metas}, "plugin name", parts)
    version = _one({m.version for m in metas}, "version", parts)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty; pick another merge directory")
    out.mkdir(parents=True, exist_ok=True)

    sources: dict[str, tuple[str, Path]] = {}
    archive_targets: dict[str, Target] = {}
    targets: set[Target] = set()
    binaries: list[StagedBinary] = []
    for part, meta in zip(parts, metas, strict=True):
        targets.update(meta.targets)
        for archive in meta.archives:
            archive_targets[archive.name] = archive.target
        # Every file travels, so the merged dist's verification names (and refuses) any stray one.
        for name in listed_files(part):
            if name == contract.CHECKSUMS_ASSET:
                continue  # rebuilt over the union below
            sha = contract.sha256_file(part / name)
            if name in sources and sources[name][0] != sha:
                raise UserError(f"{name} differs between {sources[name][1].parent} and {part}; two build jobs "
                                "produced the same asset with different content")
            if name not in sources:
                _link_or_copy(part / name, out / name)
                sources[name] = (sha, part / name)
        staged = part / BUILD_DIR
        if staged.is_dir():
            shutil.copytree(staged, out / BUILD_DIR, dirs_exist_ok=True)
            binaries += meta.binaries
    restored = restore_exec_bits(out / BUILD_DIR) if (out / BUILD_DIR).is_dir() else 0

    missing = sorted(set(archive_targets) - set(sources))
    if missing:
        raise UserError(f"metadata lists archives that no dist contains: {', '.join(missing)}")
    archives = [Archive(target, out / name, sources[name][0], (out / name).stat().st_size,
                             next((a.binary_sha256 for m in metas for a in m.archives if a.name == name), ""))
                for name, target in sorted(archive_targets.items())]
    if archives:
        write_checksums(out, archives)
    first = metas[0]
    save(out, DistMetadata(
        plugin=plugin, version=version, targets=sorted(targets), prerelease=any(m.prerelease for m in metas),
        commit=first.commit, source_date_epoch=first.source_date_epoch, version_variable=first.version_variable,
        archives=archives, binaries=binaries, merged_from=[str(p) for p in parts],
        uncommitted=sorted({path for m in metas for path in m.uncommitted})))
    progress(f"merged {len(parts)} dists into {out}: {len(archives)} archives for "
                        f"{len(targets)} targets{f', exec bits restored on {restored} binaries' if restored else ''}")
    return out
