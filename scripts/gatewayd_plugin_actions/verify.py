"""Stage ``verify``: prove a ``dist/`` is installable, and that its plugin starts, before anything is published.

Every local invariant of the installer contract (names, one archive per declared target under the
installer's substring rules and nothing else in the dist, ``checksums.txt`` lines, each archive read with
Go's own readers as the installer extracts it, the installer's binary pick with exec bits, member sizes, executable
format, manifest inside); the release gate (the host binary started as GatewayD starts it, with the
manifest's args and env, must answer the go-plugin handshake); and with a GatewayD binary the real
installer round-trip. The outcome is recorded in the dist, so a failed dist stays failed.
"""

from __future__ import annotations

import os
import platform
import shutil
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, dist
from gatewayd_plugin_actions.contract import Target
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.manifest import check_manifest

GATE_TIMEOUT_SECONDS = 15.0
# go-plugin listens on <TMPDIR>/plugin<10 digits>; a unix socket path has at most 103 usable bytes on macOS.
MAX_SOCKET_DIR = 80


@dataclass
class VerifyReport:
    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)  # archive name → sha256, as checked
    uploads: list[str] = field(default_factory=list)  # exactly what publish may upload
    gate_seconds: float = 0.0  # wall time of the release gate (extract + start + handshake)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


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


@dataclass
class GateOutcome:
    """What the release gate found for the host archive, and what it proved."""

    problems: list[Problem] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # "gate", and "install" when it loaded in GatewayD
    seconds: float = 0.0


@dataclass
class GateOptions:
    """The release gate: start the host build as GatewayD would before anything is published."""

    enabled: bool = True
    plugin_env: dict[str, str] = field(default_factory=dict)  # --plugin-env: settings it needs to start
    timeout: float = GATE_TIMEOUT_SECONDS
    gatewayd: Path | None = None  # a GatewayD binary: the real install round-trip and a load in GatewayD
    postgres_url: str | None = None  # the load's PostgreSQL; None starts a throwaway one


def parse_plugin_env(items: list[str]) -> list[tuple[str, str]]:
    """``--plugin-env`` values: each ``KEY=VALUE``, or several on lines of one value (how an Actions input
    arrives); blank lines are skipped, anything else without ``=`` is a one-line error."""
    pairs = []
    for item in items:
        for raw in item.splitlines():
            line = raw.rstrip("\r")
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key or any(c.isspace() for c in key):
                raise UserError(f"--plugin-env {line!r}: expected KEY=VALUE (one per line)")
            pairs.append((key, value))
    return pairs


def host_target() -> Target:
    goos = platform.system().lower()
    machine = platform.machine().lower()
    goarch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return Target(goos, goarch)


def verify_dist(path: Path, plugin: str, tag: str | None, targets: list[Target], repository: str | None = None,
                checked_archives: dict[str, ArchiveResult] | None = None,
                gate: GateOptions | None = None) -> VerifyReport:
    """Check the dist at ``path``; ``checked_archives`` are results of ``verify_archive`` already run on
    final files (the release pipeline checks each archive as soon as it is written)."""
    gate = gate or GateOptions()
    report = VerifyReport()
    where = str(path)
    loads = gate.enabled and gate.gatewayd is not None
    checks = ["local", *(["gate"] if gate.enabled else []), *(["install"] if loads else [])]
    ran = ["local"]  # what really ran is what the dist records
    meta = dist.load(path)
    if (earlier := dist.earlier_failure(meta, checks, where)) is not None:
        report.problems.append(earlier)
    names = dist.listed_files(path)
    report.problems += contract.check_asset_names(names, plugin, tag, targets, where)
    report.problems += dist.undeclared_files(names, targets, where)
    report.uploads = dist.uploads(names, targets)
    report.checked.append(f"{len(names)} files: one archive per declared target under the installer's substring "
                          "rules, one checksums.txt, nothing else")
    archives = {t: contract.installer_pick_archive(names, t) for t in targets}
    # Archives are independent and the Go reader runs as its own process: check them side by side.
    done = checked_archives or {}
    jobs = [(t, n) for t, n in archives.items() if n is not None and n not in done]
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(jobs)))) as pool:
        fresh = list(pool.map(lambda job: verify_archive(path / job[1], job[0], plugin, repository), jobs))
    results = {r.name: r for r in [*(done[n] for n in archives.values() if n is not None and n in done), *fresh]}
    report.sha256 = {name: result.sha256 for name, result in results.items()}
    checksums_path = path / contract.CHECKSUMS_ASSET
    if checksums_path.is_file():
        text = checksums_path.read_text(encoding="utf-8", errors="replace")
        report.problems += contract.check_checksums(text, report.sha256, str(checksums_path))
        report.checked.append("checksums.txt: GNU sha256sum lines; the installer's first matching line has "
                              "each archive's hash")
    for result in results.values():
        report.problems += result.problems
    for result in fresh:  # the pipeline already printed the lines of the archives it checked
        actions_io.progress(result.line)
    report.checked.append("each archive read with Go's gzip/tar/zip readers as the installer extracts it (and "
                          "to its last byte): regular files/dirs only, no absolute or '..' paths, the installer's "
                          "binary pick (the first file whose path has the plugin name) is the binary, with exec "
                          "bits, members ≤ 100 MiB, executable format and CPU match the target, "
                          "gatewayd_plugin.yaml and checksum.txt inside")
    host = host_target()
    host_archive = archives.get(host)
    host_result = results.get(host_archive) if host_archive else None
    sound = host_result is not None and not [p for p in host_result.problems if p.is_error]
    if gate.enabled:
        if host_archive is None:
            report.problems.append(Problem(f"no archive for this machine ({host}): the release gate cannot start "
                                           "the plugin here; build on a runner whose platform is a target",
                                           where, severity="warning"))
        elif sound and host_result is not None:
            outcome = host_result.gate
            if outcome is None or (gate.gatewayd is not None and "install" not in outcome.ran):
                outcome = run_gate(path / host_archive, host_result, plugin, gate)
            report.problems += outcome.problems
            report.checked += outcome.checked
            report.gate_seconds = outcome.seconds
            ran += outcome.ran
    dist.record_verification(path, ran, report.errors)
    return report


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


def run_gate(archive: Path, result: ArchiveResult, plugin: str, gate: GateOptions,
             staged_binary: Path | None = None) -> GateOutcome:
    """The release gate on the host archive: the handshake, then (with a GatewayD) the install and a load.

    ``staged_binary``: the binary just packed into ``archive``; used instead of unpacking it again only when
    its bytes are the archive's (the Go reader hashed the member). The release pipeline runs this as soon as
    the host archive is written, while the other targets still build."""
    outcome = GateOutcome(ran=["gate"])
    started = time.monotonic()
    if staged_binary is not None and not (result.binary_sha256 and contract.sha256_file(staged_binary)
                                          == result.binary_sha256):
        staged_binary = None
    if _gate(outcome, archive, result, plugin, gate, staged_binary) and gate.gatewayd is not None and _load(
            outcome, archive, result, plugin, gate, gate.gatewayd, staged_binary):
        outcome.ran.append("install")
    outcome.seconds = time.monotonic() - started
    return outcome


def _binary(archive: Path, result: ArchiveResult, staged_binary: Path | None, dest: Path) -> Path:
    """The archive's binary at ``dest`` (copied from the staged build when that has the same bytes)."""
    if staged_binary is not None:
        shutil.copyfile(staged_binary, dest)
        dest.chmod(0o755)
        return dest
    return extract_member(archive, str(result.binary_member), dest)


def _gate(report: GateOutcome, archive: Path, result: ArchiveResult, plugin: str, gate: GateOptions,
          staged_binary: Path | None) -> bool:
    """The go-plugin handshake of the host binary; True when it started."""
    # Imported on use: starting processes is this stage's only use of smoke.
    from gatewayd_plugin_actions import smoke  # noqa: PLC0415

    assert result.binary_member is not None
    # The plugin's TMPDIR is this temp dir, so go-plugin's socket goes with it; a deep TMPDIR (macOS's, pytest's)
    # would make the socket path too long, so the dir is then made under /tmp.
    short = len(tempfile.gettempdir()) <= MAX_SOCKET_DIR - 20 or not Path("/tmp").is_dir()
    with tempfile.TemporaryDirectory(prefix="gpa-gate-", dir=None if short else "/tmp") as tmp:
        binary = _binary(archive, result, staged_binary, Path(tmp) / plugin)
        shake = smoke.handshake(binary, gate.plugin_env, timeout=gate.timeout, cwd=Path(tmp),
                                args=result.plugin_args, configured_env=result.plugin_env or None,
                                tmpdir=Path(tmp))
    if shake.ok:
        actions_io.progress(f"  gate: {plugin} from {archive.name} started as GatewayD starts it and answered the "
                            f"go-plugin handshake in {shake.seconds:.2f}s")
    else:
        hint = "" if gate.plugin_env else (" (a plugin that needs settings to start gets them with --plugin-env / "
                                           "the plugin-env input)")
        report.problems.append(Problem(f"{plugin} does not start as a plugin: {smoke.explain(shake)}{hint}",
                                       archive.name))
    env_note = f" plus {len(gate.plugin_env)} --plugin-env setting(s)" if gate.plugin_env else ""
    report.checked.append(f"release gate: the {host_target()} binary started with the manifest's args and env"
                          f"{env_note} answers the go-plugin handshake within {gate.timeout:.0f}s")
    return shake.ok


def _load(report: GateOutcome, archive: Path, result: ArchiveResult, plugin: str, gate: GateOptions,
          gatewayd_binary: Path, staged_binary: Path | None) -> bool:
    """The release gate in GatewayD: test-plugin's machinery installs the released archive with the real
    installer and loads the installed copy in GatewayD (against PostgreSQL), then stops it. False when it
    could not run here."""
    # Imported on use: only this step drives GatewayD and PostgreSQL (keeps the snapshot start-up light).
    from gatewayd_plugin_actions import smoke, testplugin  # noqa: PLC0415

    if os.name == "nt":
        report.problems.append(Problem("the load in GatewayD is skipped on Windows (GatewayD runs plugins over unix "
                                       "sockets); it runs in the linux/macOS jobs", archive.name, severity="warning"))
        return False
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpa-load-") as tmp:
        # GatewayD is given the manifest that is published (the one inside the archive), not the repository's.
        manifest = Path(tmp) / contract.MANIFEST_FILE
        manifest.write_bytes(result.manifest or b"")
        binary = _binary(archive, result, staged_binary, Path(tmp) / plugin)
        under_test = testplugin.PluginUnderTest(plugin, manifest, f"{archive.name}!{contract.MANIFEST_FILE}",
                                                archive, binary, result.binary_sha256)
        env = [f"{k}={v}" for k, v in gate.plugin_env.items()]
        try:
            loaded = testplugin.load_released_plugin(gatewayd_binary, under_test, env, gate.postgres_url)
        except testplugin.TestFailed as failure:
            if failure.log_lines:
                with actions_io.group(failure.title):
                    for line in failure.log_lines:
                        actions_io.progress(f"  {line}")
            report.problems.append(Problem(f"release gate in GatewayD: {failure.reason}", archive.name))
            loaded = None
        except UserError as exc:  # e.g. PostgreSQL would not start: reported like any gate failure, once
            report.problems.append(Problem(f"release gate in GatewayD: {exc}", archive.name))
            loaded = None
        refusal = smoke.refuses_without_cookie(binary)
        if not refusal.ok:
            report.problems.append(Problem(f"{plugin}: {smoke.explain(refusal)}", archive.name))
    version = loaded.gatewayd_version if loaded else gatewayd_binary.name
    if loaded is not None:
        actions_io.progress(f"  gate: installed {archive.name} with `gatewayd plugin install` and loaded it in "
                            f"{loaded.gatewayd_version}: {loaded.plugin} {loaded.plugin_version or '(no version)'}"
                            f", hooks {', '.join(loaded.hook_names) or 'none'} ({time.monotonic() - started:.1f}s)")
    report.checked.append(f"release gate in {version}: the real `gatewayd plugin install --name {plugin}` "
                          f"of {archive.name} (entry checksum = the binary's sha256), then GatewayD loads the "
                          "installed copy (GetPlugins and 'Plugin is ready') and stops cleanly; the binary refuses "
                          "to start without the magic cookie")
    return True
