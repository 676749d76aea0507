"""Driving a real GatewayD binary: ``plugin install`` round-trips and ``plugin lint``.

``gatewayd plugin install`` exits 0 even when it fails and prints everything to stderr, so success is
read from its output markers, never from the exit status (contract §1.13).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gatewayd_plugin_actions.contract import sha256_file

INSTALL_FAILURE_MARKERS = ("Invalid URL", "could not be found", "Download failed", "Checksum verification failed",
                           "There was an error", "Aborting...", "Failed to unmarshal", "unknown file type",
                           "illegal file path", "panic")
LINT_OK_MARKER = "plugins config is valid"


def run_gatewayd(gatewayd: Path, args: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    result = subprocess.run([str(gatewayd), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL, check=False)
    return result.returncode, (result.stdout + result.stderr)


def gatewayd_version(gatewayd: Path) -> str:
    _, output = run_gatewayd(gatewayd, ["version"], Path.cwd(), timeout=30)
    return output.strip().splitlines()[0] if output.strip() else "unknown"


@dataclass
class InstallResult:
    ok: bool
    problems: list[str]
    output: str
    config: Path
    entry: dict[str, Any] = field(default_factory=dict)
    binary: Path | None = None


def lint_plugins_config(gatewayd: Path, config: Path, cwd: Path | None = None) -> tuple[bool, str]:
    code, output = run_gatewayd(gatewayd, ["plugin", "lint", "--sentry=false", "-p", str(config)],
                                cwd or config.parent)
    return code == 0 and LINT_OK_MARKER in output, output.strip()


def install_local_archive(gatewayd: Path, archive: Path, name: str, workdir: Path) -> InstallResult:
    """``gatewayd plugin install --name NAME <archive>`` in ``workdir``, then check what it really did."""
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / archive.name
    shutil.copyfile(archive, local)
    config = workdir / "gatewayd_plugins.yaml"
    # Relative -o and archive path: an absolute output dir breaks the installer (contract §1.5, §1.7).
    code, output = run_gatewayd(gatewayd, ["plugin", "install", "--sentry=false", "--name", name,
                                           "-p", config.name, "-o", "plugins", archive.name], workdir)
    result = InstallResult(False, [], output, config)
    failures = [m for m in INSTALL_FAILURE_MARKERS if m in output]
    if failures:
        result.problems.append(f"`gatewayd plugin install` reported: {failures[0]!r}")
    if f"Plugin binary extracted to plugins/{name}" not in output:
        result.problems.append(f"no 'Plugin binary extracted to plugins/{name}' in the installer's output")
    if "Plugin installed successfully" not in output:
        result.problems.append("no 'Plugin installed successfully' in the installer's output")
    if code != 0:
        result.problems.append(f"`gatewayd plugin install` exited with {code}")
    if config.is_file():
        loaded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        entries = [p for p in loaded.get("plugins") or [] if isinstance(p, dict) and p.get("name") == name]
        if not entries:
            result.problems.append(f"{config.name} has no plugins entry named {name!r} after install")
        else:
            result.entry = entries[0]
            local_path = workdir / str(result.entry.get("localPath") or "")
            if not str(result.entry.get("localPath") or "") or not local_path.is_file():
                result.problems.append(f"installed localPath {result.entry.get('localPath')!r} is not a file")
            else:
                result.binary = local_path
                if not local_path.stat().st_mode & 0o111:
                    result.problems.append(f"installed binary {result.entry['localPath']} is not executable")
                if result.entry.get("checksum") != sha256_file(local_path):
                    result.problems.append("installed entry's checksum is not the sha256 of the installed binary")
        ok, lint_output = lint_plugins_config(gatewayd, config, workdir)
        if not ok:
            result.problems.append(f"`gatewayd plugin lint` rejects the installed config: {lint_output[-300:]}")
    else:
        result.problems.append(f"the installer wrote no {config.name}")
    result.ok = not result.problems
    return result
