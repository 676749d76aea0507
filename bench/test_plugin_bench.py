"""Benchmark: the whole local `test-plugin` run with warm caches, and how fast readiness is detected.

Runs the real CLI on a copy of the example plugin against real GatewayD (v0.10.3 and v0.11.1, built from
Go modules) and a throwaway PostgreSQL the CLI starts itself, ``runs`` times each. Reports wall time and
the ``time-to-ready`` output (GatewayD start → /healthz 200 seen), plus how long /healthz had been 200
before we noticed (the CLI's own bound, from its polling).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools import gobin

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "gatewayd-plugin-example"
VERSIONS = ("v0.10.3", "v0.11.1")


def _gatewayd(version: str) -> str:
    return str(gobin.ensure(gobin.PROGRAMS[f"gatewayd-{version}"]))


def _once(project: Path, gatewayd: str, output: Path) -> tuple[float, float, int]:
    output.write_text("")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "scripts"), GITHUB_OUTPUT=str(output))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "gatewayd_plugin_actions", "test-plugin", "--project",
                             str(project), "--gatewayd-binary", gatewayd], env=env, capture_output=True, text=True,
                            check=False)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"test-plugin failed:\n{result.stderr[-2000:]}")
    outputs = dict(line.partition("=")[::2] for line in output.read_text().splitlines() if "=" in line)
    within = re.search(r"turned 200 within the last (\d+) ms", result.stderr)
    return wall, float(outputs["time-to-ready"]), int(within.group(1)) if within else -1


def run(runs: int = 3) -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpa-bench-tp-") as tmp:
        project = Path(tmp) / "gatewayd-plugin-example"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("dist"))
        output = Path(tmp) / "out"
        for version in VERSIONS:
            gatewayd = _gatewayd(version)
            _once(project, gatewayd, output)  # warm-up: Go build cache, GatewayD binary
            samples = [_once(project, gatewayd, output) for _ in range(runs)]
            walls, readies, withins = zip(*samples, strict=True)
            rows.append(f"| GatewayD {version} | {statistics.median(walls):.1f} s | "
                        f"{statistics.median(readies):.2f} s | {max(withins)} ms |")
    return "\n".join([
        "## test-plugin, whole local run",
        "",
        f"Example plugin, warm caches, throwaway PostgreSQL started by the CLI, median of {runs} runs.",
        "",
        "| | whole run | GatewayD start → /healthz 200 | /healthz 200 → detected (max) |",
        "|---|---|---|---|",
        *rows,
        "",
        "Goal: readiness detected within 0.5 s of /healthz turning 200.",
        "",
    ])
