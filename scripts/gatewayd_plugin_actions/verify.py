"""Stage ``verify``: prove a ``dist/`` is installable before anything is published.

Every local invariant of the installer contract (contract §1.14: names, one archive per target under the
installer's substring rules, ``checksums.txt`` lines, member types and paths, binary first with exec bits,
member sizes, executable format, manifest inside), and with a GatewayD binary the real installer
round-trip plus the go-plugin handshake of the host binary.
"""

from __future__ import annotations

import json
import platform
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract
from gatewayd_plugin_actions.context import METADATA_FILE
from gatewayd_plugin_actions.contract import Target
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.manifest import check_manifest


@dataclass
class VerifyReport:
    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)  # archive name → sha256, as checked

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


def host_target() -> Target:
    goos = platform.system().lower()
    machine = platform.machine().lower()
    goarch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return Target(goos, goarch)


def uploadable_files(dist: Path) -> list[str]:
    """What ``publish`` would upload: every regular file at the dist root but our metadata and temp files."""
    if not dist.is_dir():
        raise UserError(f"dist directory {dist} does not exist; run `release --snapshot` or `package` first")
    return sorted(p.name for p in dist.iterdir()
                  if p.is_file() and p.name != METADATA_FILE and not p.name.startswith(".")
                  and not p.name.endswith(".partial"))


def read_metadata(dist: Path) -> dict[str, object]:
    path = dist / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


def dist_targets(meta: dict[str, object], names: list[str], plugin: str) -> list[Target]:
    """The targets a dist was built for: its metadata.json's list, else inferred from the archive names."""
    listed = meta.get("targets")
    if isinstance(listed, list) and listed:
        return [Target.parse(str(t)) for t in listed]
    return infer_targets(names, plugin)


def infer_targets(names: list[str], plugin: str) -> list[Target]:
    """Targets from archive names ``<plugin>-<os>-<arch>-…`` when nothing says which were meant."""
    found: set[Target] = set()
    for name in names:
        if name.startswith(plugin + "-") and name.endswith((".tar.gz", ".zip")):
            parts = name[len(plugin) + 1:].split("-")
            if len(parts) >= 3:
                found.add(Target(parts[0], parts[1]))
    return sorted(found)


def verify_dist(dist: Path, plugin: str, tag: str | None, targets: list[Target], repository: str | None = None,
                gatewayd_binary: Path | None = None,
                checked_archives: dict[str, ArchiveResult] | None = None) -> VerifyReport:
    """Check ``dist``; ``checked_archives`` are results of ``verify_archive`` already run on final files
    (the release pipeline checks each archive as soon as it is written)."""
    report = VerifyReport()
    where = str(dist)
    names = uploadable_files(dist)
    report.problems += contract.check_asset_names(names, plugin, tag, targets, where)
    report.checked.append(f"{len(names)} assets: one archive per target under the installer's substring rules, "
                          "no look-alike sidecars, one checksums.txt")
    archives = {t: contract.installer_pick_archive(names, t) for t in targets}
    # Archives are independent and zlib/hashlib release the GIL: check them side by side.
    done = checked_archives or {}
    jobs = [(t, n) for t, n in archives.items() if n is not None and n not in done]
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(jobs)))) as pool:
        fresh = list(pool.map(lambda job: verify_archive(dist / job[1], job[0], plugin, repository), jobs))
    results = [done[n] for n in archives.values() if n is not None and n in done] + fresh
    report.sha256 = {result.name: result.sha256 for result in results}
    checksums_path = dist / contract.CHECKSUMS_ASSET
    if checksums_path.is_file():
        text = checksums_path.read_text(encoding="utf-8", errors="replace")
        report.problems += contract.check_checksums(text, report.sha256, str(checksums_path))
        report.checked.append("checksums.txt: GNU sha256sum lines; the installer's first matching line has "
                              "each archive's hash")
    for result in results:
        report.problems += result.problems
    for result in fresh:  # the pipeline already printed the lines of the archives it checked
        actions_io.progress(result.line)
    report.checked.append("each archive: regular files/dirs only, no absolute or '..' paths, binary first "
                          "with exec bits, members ≤ 100 MiB, executable format and CPU match the target, "
                          "gatewayd_plugin.yaml and checksum.txt inside")
    if gatewayd_binary is not None:
        _round_trip(report, dist, plugin, archives, gatewayd_binary)
    return report


@dataclass
class ArchiveResult:
    name: str
    sha256: str
    problems: list[Problem]
    line: str  # the progress line for this archive


def verify_archive(path: Path, target: Target, plugin: str, repository: str | None) -> ArchiveResult:
    sha = contract.sha256_file(path)
    try:
        contents = contract.read_archive(path)
    except contract.ArchiveError as exc:
        problem = Problem(f"{exc}: the installer cannot extract it", str(path))
        return ArchiveResult(path.name, sha, [problem], f"  verified {path.name}: unreadable: FAILED")
    found = contract.check_archive(contents, plugin, target, str(path))
    binary = contract.installer_pick_binary(contents.members, plugin)
    if binary is not None and binary.name in contents.sha256:
        found += contract.check_binary_checksum_file(contents, contents.sha256[binary.name], plugin, str(path))
    found += _check_embedded_manifest(contents, plugin, repository, path)
    kind = contract.executable_kind(contents.first_bytes.get(binary.name, b"")) if binary else None
    mode = f"{binary.mode:04o}" if binary else "-"
    status = "ok" if not [p for p in found if p.is_error] else "FAILED"
    line = (f"  verified {path.name}: {len(contents.members)} members, binary "
            f"{'/'.join(kind) if kind else '?'} mode {mode}: {status}")
    return ArchiveResult(path.name, sha, found, line)


def _check_embedded_manifest(contents: contract.ArchiveContents, plugin: str, repository: str | None,
                             archive: Path) -> list[Problem]:
    data = contents.files.get(contract.MANIFEST_FILE)
    if data is None:
        return []
    label = f"{archive.name}!{contract.MANIFEST_FILE}"
    manifest, problems = check_manifest(archive, repository, data=data, display=label)
    out = [p for p in problems if p.is_error]
    if manifest is not None and manifest.plugin_name != plugin:
        out.append(Problem(f"plugins[0].name is {manifest.plugin_name!r}, expected {plugin!r}", label))
    return out


def _round_trip(report: VerifyReport, dist: Path, plugin: str, archives: dict[Target, str | None],
                gatewayd_binary: Path) -> None:
    host = host_target()
    name = archives.get(host)
    if name is None:
        report.problems.append(Problem(f"no archive for this machine ({host}); cannot run the install round-trip",
                                       str(dist), severity="warning"))
        return
    # Imported on use: only the optional round-trip drives GatewayD (keeps snapshot start-up light).
    from gatewayd_plugin_actions import gatewayd, smoke  # noqa: PLC0415

    version = gatewayd.gatewayd_version(gatewayd_binary)
    with tempfile.TemporaryDirectory(prefix="gpa-install-") as tmp:
        result = gatewayd.install_local_archive(gatewayd_binary, dist / name, plugin, Path(tmp))
        for problem in result.problems:
            report.problems.append(Problem(f"install round-trip with {version}: {problem}", name))
        actions_io.progress(f"  installed {name} with {version}: {'ok' if result.ok else 'FAILED'}")
        if result.binary is not None:
            shake = smoke.handshake(result.binary, cwd=Path(tmp))
            refusal = smoke.refuses_without_cookie(result.binary)
            for check in (shake, refusal):
                if not check.ok:
                    detail = f" (stderr: {check.stderr_tail[-300:]})" if check.stderr_tail else ""
                    report.problems.append(Problem(f"installed binary: {check.reason}{detail}", name))
            actions_io.progress(f"  handshake of installed {plugin}: {shake.reason} in {shake.seconds:.2f}s; "
                                f"{refusal.reason}")
    report.checked.append(f"real `gatewayd plugin install --name {plugin}` of {name} with {version}: success "
                          "markers, executable binary, entry checksum = sha256(binary), `gatewayd plugin lint` "
                          "passes; go-plugin handshake of the installed binary")
