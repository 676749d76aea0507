"""One archive judged as the installer reads it: Go's own readers, the installer's binary pick with exec bits,
member sizes, executable format and CPU, and the ``gatewayd_plugin.yaml`` inside."""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.errors import Problem
from gatewayd_plugin_actions.manifest import check_manifest
from gatewayd_plugin_actions.targets import Target


@dataclass
class GateOutcome:
    """What the release gate found for the host archive, and what it proved."""

    problems: list[Problem] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # "gate", and "install" when it loaded in GatewayD
    seconds: float = 0.0


@dataclass
class ArchiveResult:
    name: str
    sha256: str
    problems: list[Problem]
    line: str  # the progress line for this archive
    binary_member: str | None = None  # the member the installer takes as the binary
    binary_sha256: str = ""  # its sha256 (what the installer writes as the plugin's checksum)
    manifest: bytes | None = None  # the embedded gatewayd_plugin.yaml, as published
    plugin_args: list[str] = field(default_factory=list)  # plugins[0].args of the embedded manifest
    plugin_env: dict[str, str] = field(default_factory=dict)  # plugins[0].env of the embedded manifest
    gate: GateOutcome | None = None  # the release gate, when it already ran on this archive


def verify_archive(path: Path, target: Target, plugin: str, repository: str | None) -> ArchiveResult:
    sha = contract.sha256_file(path)
    contents = contract.read_archive(path)
    found = contract.check_archive(contents, plugin, target, str(path))
    if contents.installer_error:
        return ArchiveResult(path.name, sha, found, f"  verified {path.name}: cannot be extracted: FAILED")
    binary = contract.installer_pick_binary(contents.members, plugin)
    if binary is not None and binary.rel in contents.sha256:
        found += contract.check_binary_checksum_file(contents, contents.sha256[binary.rel], plugin, str(path))
    manifest_problems, args, env = _check_embedded_manifest(contents, plugin, repository, path)
    found += manifest_problems
    kind = contract.executable_kind(contents.first_bytes.get(binary.rel, b"")) if binary else None
    mode = f"{binary.mode:04o}" if binary else "-"
    status = "ok" if not [p for p in found if p.is_error] else "FAILED"
    line = (f"  verified {path.name}: {len(contents.members)} members, binary "
            f"{'/'.join(kind) if kind else '?'} mode {mode}: {status}")
    return ArchiveResult(path.name, sha, found, line, binary.name if binary else None,
                         contents.sha256.get(binary.rel, "") if binary else "",
                         contents.files.get(contract.MANIFEST_FILE), args, env)


def _check_embedded_manifest(contents: contract.ArchiveContents, plugin: str, repository: str | None,
                             archive: Path) -> tuple[list[Problem], list[str], dict[str, str]]:
    data = contents.files.get(contract.MANIFEST_FILE)
    if data is None:
        return [], [], {}
    label = f"{archive.name}!{contract.MANIFEST_FILE}"
    manifest, problems = check_manifest(archive, repository, data=data, display=label)
    out = [p for p in problems if p.is_error]
    if manifest is None:
        return out, [], {}
    if manifest.plugin_name != plugin:
        out.append(Problem(f"plugins[0].name is {manifest.plugin_name!r}, expected {plugin!r}", label))
    entry = manifest.plugin
    args = [str(a) for a in entry.get("args") or []] if isinstance(entry.get("args"), list) else []
    env: dict[str, str] = {}
    for item in entry.get("env") or [] if isinstance(entry.get("env"), list) else []:
        key, sep, value = str(item).partition("=")
        if sep:
            env[key] = value
    return out, args, env


def extract_member(archive: Path, member: str, dest: Path) -> Path:
    """Copy one member (already judged sound by the Go reader) out of an archive, executable."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped, zipped.open(member) as src:
            dest.write_bytes(src.read())
    else:
        with tarfile.open(archive, "r:gz") as tarred:
            src_file = tarred.extractfile(member)
            assert src_file is not None, "the Go reader found a regular file"
            with src_file:
                dest.write_bytes(src_file.read())
    dest.chmod(0o755)
    return dest
