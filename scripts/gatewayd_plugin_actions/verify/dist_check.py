"""Stage ``verify``: prove a ``dist/`` is installable, and that its plugin starts, before anything is published.

Every local invariant of the installer contract (names, one archive per declared target under the
installer's substring rules and nothing else in the dist, ``checksums.txt`` lines, each archive as
:mod:`.archive` judges it) and the release gate (:mod:`.gate`). The outcome is recorded in the dist, so a
failed dist stays failed.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, dist
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.targets import Target, host_target
from gatewayd_plugin_actions.verify.archive import ArchiveResult, verify_archive
from gatewayd_plugin_actions.verify.gate import GateOptions, run_gate


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
    if gate.expected_version is None and meta is not None and meta.version_variable:
        # `verify` of a dist built earlier: its metadata says which version was injected, and into what (a version
        # that is no tag is reported by the asset-name checks below).
        with contextlib.suppress(UserError):
            gate = replace(gate, expected_version=Version.parse(meta.version), version_variable=meta.version_variable)
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
