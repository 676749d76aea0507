"""Benchmark: how soon a stuck run says so. Two figures, measured, never assumed:

- the time ``test-plugin`` takes to fail a plugin that never serves (the example's ``never-serves`` variant), from
  the line before GatewayD starts to the verdict, on GatewayD v0.10.3 and v0.11.1 (its startTimeout: 10 s);
- the heartbeat during a cold ``build`` (empty Go build cache, empty module cache fed offline from this machine's
  through a ``file://`` GOPROXY, the default 15 s interval): the largest silence between two lines while
  ``go build`` runs, and how many heartbeats said Go was downloading modules.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fixtures.go import patch_plugin_variant
from tools import gobin

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "gatewayd-plugin-example"
VERSIONS = ("v0.10.3", "v0.11.1")
CLI = [sys.executable, "-m", "gatewayd_plugin_actions"]
HEARTBEAT = re.compile(r"^  building \S+\s+\d+\.\ds so far; (.*)$")


def _timed_lines(command: list[str], env: dict[str, str]) -> tuple[int, list[tuple[float, str]]]:
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stderr]
    return process.wait(), lines


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT / "scripts"), **extra)


def _never_serves(workdir: Path) -> list[str]:
    project = workdir / "gatewayd-plugin-example"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("dist"))
    patch_plugin_variant(project, "never-serves")
    rows = []
    for version in VERSIONS:
        gatewayd = str(gobin.ensure(gobin.PROGRAMS[f"gatewayd-{version}"]))
        code, lines = _timed_lines([*CLI, "test-plugin", "--project", str(project), "--gatewayd-binary", gatewayd],
                                   _env())
        configs = next((at for at, text in lines if text.startswith("  configs: ")), None)
        failed = next(((at, text) for at, text in lines if text.startswith("test-plugin FAILED: ")), None)
        if code == 0 or configs is None or failed is None or "did not start serving" not in failed[1]:
            raise RuntimeError("test-plugin did not fail the never-serving plugin as expected:\n"
                               + "\n".join(text for _, text in lines[-30:]))
        rows.append(f"| GatewayD {version} | {failed[0] - configs:.1f} s | {failed[0]:.1f} s |")
    return rows


def _cold_build(workdir: Path) -> str:
    project = workdir / "cold" / "gatewayd-plugin-example"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("dist"))
    download_cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                                    check=True).stdout.strip() + "/cache/download"
    env = _env(GOCACHE=str(workdir / "gocache"), GOMODCACHE=str(workdir / "modcache"), GOSUMDB="off",
               GOPROXY=f"file://{download_cache}", GOFLAGS="-modcacherw")
    env.pop("GPA_HEARTBEAT_SECONDS", None)  # the default interval
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "x"]):
        subprocess.run(command, cwd=project, check=True)
    code, lines = _timed_lines([*CLI, "build", "--project", str(project), "--snapshot", "--targets", "linux/amd64",
                                "--dist", str(workdir / "dist")], env)
    if code != 0:
        raise RuntimeError("cold build failed:\n" + "\n".join(text for _, text in lines[-30:]))
    start = next(i for i, (_, text) in enumerate(lines) if text.startswith("building "))
    end = next(i for i, (_, text) in enumerate(lines) if text.startswith("  built "))
    window = lines[start:end + 1]
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(window)]
    beats = [m.group(1) for _, text in window if (m := HEARTBEAT.match(text))]
    downloading = sum(1 for b in beats if b.startswith("go is downloading modules"))
    return (f"| cold `build`, linux/amd64 ({window[-1][0] - window[0][0]:.0f} s) | {len(beats)} heartbeats, "
            f"largest silence {max(gaps):.1f} s (interval 15 s) | {downloading} said Go was downloading modules |")


def run() -> str:
    with tempfile.TemporaryDirectory(prefix="gpa-bench-live-") as tmp:
        never = _never_serves(Path(tmp))
        cold = _cold_build(Path(tmp))
        subprocess.run(["go", "clean", "-modcache"], env=_env(GOMODCACHE=str(Path(tmp) / "modcache")),
                       check=False, capture_output=True)
    return "\n".join([
        "## Liveness: a stuck plugin and a cold build",
        "",
        "A plugin that never serves (startTimeout 10 s for the run), one run each:",
        "",
        "| | GatewayD start → verdict | whole test-plugin run |",
        "|---|---|---|",
        *never,
        "",
        "Goal: ≤ 20 s. The heartbeat while `go build` runs with empty build and module caches:",
        "",
        "| build | heartbeat | modules |",
        "|---|---|---|",
        cold,
        "",
        "Goal: no silence over 15 s (plus scheduling).",
        "",
    ])
