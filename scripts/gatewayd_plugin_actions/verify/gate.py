"""The release gate: the host archive's binary started as GatewayD starts it (the manifest's args and env,
go-plugin's variables) must answer the go-plugin handshake; with a GatewayD binary, the real
``gatewayd plugin install`` of the archive and a load of the installed copy in GatewayD."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract, goplugin
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.targets import host_target
from gatewayd_plugin_actions.verify.archive import ArchiveResult, GateOutcome, extract_member

GATE_TIMEOUT_SECONDS = 15.0


@dataclass
class GateOptions:
    """The release gate: start the host build as GatewayD would before anything is published."""

    enabled: bool = True
    plugin_env: dict[str, str] = field(default_factory=dict)  # --plugin-env: settings it needs to start
    timeout: float = GATE_TIMEOUT_SECONDS
    gatewayd: Path | None = None  # a GatewayD binary: the real install round-trip and a load in GatewayD
    postgres_url: str | None = None  # the load's PostgreSQL; None starts a throwaway one
    # Where the plugin runs (GatewayD's working directory): the plugin's repository, so relative paths in its env
    # and args resolve as for a user who runs GatewayD there (see goplugin.path_settings); None: a temp dir.
    workdir: Path | None = None
    # The tag whose number the build injected with -X into ``version_variable``: the plugin loaded in GatewayD
    # must report it. None when nothing was injected (no version variable): the plugin cannot know the tag then.
    expected_version: Version | None = None
    version_variable: str | None = None


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
    assert result.binary_member is not None
    # The plugin's TMPDIR is this temp dir, so go-plugin's socket goes with it; a deep TMPDIR (macOS's, pytest's)
    # would make the socket path too long, so the dir is then made under /tmp.
    short = len(tempfile.gettempdir()) <= goplugin.MAX_SOCKET_DIR - 20 or not Path("/tmp").is_dir()
    with tempfile.TemporaryDirectory(prefix="gpa-gate-", dir=None if short else "/tmp") as tmp:
        binary = _binary(archive, result, staged_binary, Path(tmp) / plugin)
        cwd = gate.workdir or Path(tmp)
        missing = _missing_paths(archive, result, gate, cwd)
        shake = goplugin.handshake(binary, gate.plugin_env, timeout=gate.timeout, cwd=cwd,
                                   args=result.plugin_args, configured_env=result.plugin_env or None,
                                   tmpdir=Path(tmp))
    if shake.ok:
        actions_io.progress(f"  gate: {plugin} from {archive.name} started as GatewayD starts it and answered the "
                            f"go-plugin handshake in {shake.seconds:.2f}s")
    else:
        hint = "" if gate.plugin_env else (" (a plugin that needs settings to start gets them with --plugin-env / "
                                           "the plugin-env input)")
        first = f"{missing[0].missing_line(cwd)}; " if missing else ""  # the likeliest cause, said first
        report.problems.append(Problem(f"{first}{plugin} does not start as a plugin: {goplugin.explain(shake)}"
                                       f"{hint}", archive.name))
    env_note = f" plus {len(gate.plugin_env)} --plugin-env setting(s)" if gate.plugin_env else ""
    report.checked.append(f"release gate: the {host_target()} binary started with the manifest's args and env"
                          f"{env_note} answers the go-plugin handshake within {gate.timeout:.0f}s")
    return shake.ok


def _missing_paths(archive: Path, result: ArchiveResult, gate: GateOptions, cwd: Path,
                   ) -> list[goplugin.PathSetting]:
    """The env (the archive's manifest's, --plugin-env over it, as GatewayD's config would have it) and args
    values that name a file which is not in ``cwd``; each said at once, before the plugin starts."""
    env = dict(result.plugin_env or {})
    env.update(gate.plugin_env)
    missing = goplugin.missing_paths([f"{k}={v}" for k, v in env.items()], list(result.plugin_args or []), cwd)
    actions_io.report([Problem(setting.missing_line(cwd), f"{archive.name}!{contract.MANIFEST_FILE}",
                               severity="warning", title="release gate") for setting in missing])
    return missing


def _load(report: GateOutcome, archive: Path, result: ArchiveResult, plugin: str, gate: GateOptions,
          gatewayd_binary: Path, staged_binary: Path | None) -> bool:
    """The release gate in GatewayD: test-plugin's machinery installs the released archive with the real
    installer and loads the installed copy in GatewayD (against PostgreSQL), then stops it. False when it
    could not run here."""
    # Imported on use: only this step drives GatewayD and PostgreSQL (keeps the snapshot start-up light).
    from gatewayd_plugin_actions.gatewayd import session  # noqa: PLC0415

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
        under_test = session.PluginUnderTest(plugin, manifest, f"{archive.name}!{contract.MANIFEST_FILE}",
                                                archive, binary, result.binary_sha256)
        env = [f"{k}={v}" for k, v in gate.plugin_env.items()]
        try:
            loaded = session.load_released_plugin(gatewayd_binary, under_test, env, gate.postgres_url, gate.workdir)
        except session.PluginRunFailed as failure:
            if failure.log_lines:
                with actions_io.group(failure.title):
                    for line in failure.log_lines:
                        actions_io.progress(f"  {line}")
            report.problems.append(Problem(f"release gate in GatewayD: {failure.reason}", archive.name))
            loaded = None
        except UserError as exc:  # e.g. PostgreSQL would not start: reported like any gate failure, once
            report.problems.append(Problem(f"release gate in GatewayD: {exc}", archive.name))
            loaded = None
        refusal = goplugin.refuses_without_cookie(binary, settings={**(result.plugin_env or {}), **gate.plugin_env},
                                                  args=list(result.plugin_args or []), cwd=gate.workdir)
        if not refusal.ok:
            report.problems.append(Problem(f"{plugin}: {goplugin.explain(refusal)}", archive.name))
    version = loaded.gatewayd_version if loaded else gatewayd_binary.name
    expected = gate.expected_version
    if loaded is not None and expected is not None and not expected.is_reported_as(loaded.plugin_version):
        report.problems.append(Problem(version_mismatch(plugin, loaded.plugin_version, expected,
                                                        gate.version_variable), archive.name))
    if loaded is not None:
        actions_io.progress(f"  gate: installed {archive.name} with `gatewayd plugin install` and loaded it in "
                            f"{loaded.gatewayd_version}: {loaded.plugin} {loaded.plugin_version or '(no version)'}"
                            f", hooks {', '.join(loaded.hook_names) or 'none'} ({time.monotonic() - started:.1f}s)")
    report.checked.append(f"release gate in {version}: the real `gatewayd plugin install --name {plugin}` "
                          f"of {archive.name} (entry checksum = the binary's sha256), then GatewayD loads the "
                          "installed copy (GetPlugins and 'Plugin is ready') and stops cleanly; the binary refuses "
                          "to start without the magic cookie")
    if expected is not None:
        report.checked.append(f"release gate in {version}: the plugin reports {expected.number} (the tag "
                              f"{expected.tag}) as its version in GetPlugins")
    return True


def version_mismatch(plugin: str, reported: str, expected: Version, variable: str | None) -> str:
    """Why a plugin that reports another version than the tag is not released: the archive named after the tag
    would hold a binary GatewayD lists with the wrong version."""
    injected = f" (-X {variable}={expected.number})" if variable else ""
    name = variable.rpartition(".")[2] if variable else "Version"
    return (f"release gate in GatewayD: {plugin} reports {reported or 'no version'} but the tag is {expected.tag}; "
            f"set PluginID's Version from the `{name}` variable the release injects{injected}, or name the "
            "variable PluginID uses with --version-variable (the version-variable input)")
