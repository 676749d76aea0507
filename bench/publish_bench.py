"""Benchmark: publishing to (a local fake of) GitHub Releases, and the action's Python setup.

1. **Parallel vs serial uploads.** The real CLI publishes 13 assets (12 archives + checksums.txt) to the
   fake GitHub with 100 ms of latency injected into *every* request, once with ``--concurrency 4`` (the
   default) and once with ``--concurrency 1``, alternating for ``runs`` rounds. Reported: the upload phase
   (first upload request to last answer, from the fake's request log) and the whole command, as medians.
2. **Peak RSS with a 1 GiB asset.** The CLI publishes a dist holding a 1 GiB file; its peak resident set
   size comes from ``getrusage(RUSAGE_CHILDREN)`` in a wrapper process that runs nothing else. A small
   dist's figure is the baseline: streaming keeps the two close.
3. **Python setup.** ``scripts/bootstrap.sh`` into a fresh ``$RUNNER_TEMP`` (cold: venv + hash-pinned
   install from the package index) and again into the same one (warm: reused).

Targets (issue 3): parallel ≤ 0.35× serial; peak RSS ≤ 80 MB with a 1 GiB asset; Python setup ≤ 3 s cold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
for entry in (REPO_ROOT, REPO_ROOT / "scripts"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from tests.fakes.fake_github import FakeGitHub  # noqa: E402
from tests.fakes.fake_github.server import LoggedRequest  # noqa: E402
from tests.fixtures.github import OWNER, REPO, REPOSITORY, TOKEN, make_dist  # noqa: E402

from gatewayd_plugin_actions.targets import Target  # noqa: E402

TAG = "v1.0.0"
TWELVE_TARGETS = [Target.parse(t) for t in (
    "linux/amd64", "linux/arm64", "linux/386", "linux/riscv64", "darwin/amd64", "darwin/arm64",
    "windows/amd64", "windows/arm64", "windows/386", "freebsd/amd64", "freebsd/arm64", "freebsd/386")]
GIB = 1 << 30
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak * (1 if sys.platform == 'darwin' else 1024)))\n"
    "sys.exit(code)\n"
)


def _fake() -> FakeGitHub:
    fake = FakeGitHub().start()
    fake.add_repo(OWNER, REPO)
    fake.add_token(TOKEN, "write")
    return fake


def _env(fake: FakeGitHub) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env.update(GITHUB_API_URL=fake.api_url, GITHUB_SERVER_URL=fake.server_url, GITHUB_REPOSITORY=REPOSITORY,
               GITHUB_TOKEN=TOKEN, PYTHONPATH=str(REPO_ROOT / "scripts"))
    return env


def _cli(dist: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "gatewayd_plugin_actions", "publish", "--dist", str(dist), "--version", TAG,
            *args]


def _waits(log: list[LoggedRequest]) -> int:
    """Stretches of waiting the client went through one after another: a request that starts after every
    earlier one has ended begins a new stretch; requests overlapping it (e.g. the upload pool) share it."""
    waits, busy_until = 0, float("-inf")
    for entry in sorted(log, key=lambda e: e.started_at):
        if entry.started_at >= busy_until:
            waits += 1
        busy_until = max(busy_until, entry.started_at + entry.duration)
    return waits


def _publish_once(dist: Path, concurrency: int, latency_ms: float) -> tuple[float, float, int, int]:
    """(upload phase seconds, whole command seconds, other API requests, sequential waits) of one publish
    to a fresh fake."""
    fake = _fake()
    try:
        fake.faults.latency_ms = latency_ms
        started = time.monotonic()
        result = subprocess.run(_cli(dist, "--concurrency", str(concurrency)), env=_env(fake), capture_output=True,
                                text=True, check=False)
        wall = time.monotonic() - started
        if result.returncode != 0:
            raise RuntimeError(f"publish failed:\n{result.stderr[-3000:]}")
        uploads = fake.requests("POST", "upload")
        if len(uploads) != 13:
            raise RuntimeError(f"expected 13 uploads, saw {len(uploads)}")
        phase = max(u.started_at + u.duration for u in uploads) - min(u.started_at for u in uploads)
        return phase, wall, len(fake.requests_log) - len(uploads), _waits(fake.requests_log)
    finally:
        fake.stop()


@dataclass
class Parallel:
    serial_phase: float
    parallel_phase: float
    serial_wall: float
    parallel_wall: float
    phase_ratios: list[float]
    other_requests: int
    serial_waits: int
    parallel_waits: int


def bench_parallel(work: Path, runs: int, latency_ms: float = 100.0) -> Parallel:
    dist = make_dist(work / "dist13", TAG, TWELVE_TARGETS, padding=256 * 1024)
    assert len([p for p in dist.iterdir() if p.name != "metadata.json"]) == 13
    _publish_once(dist, 4, 0)  # warm-up: imports and page cache
    serial: list[tuple[float, float, int, int]] = []
    parallel: list[tuple[float, float, int, int]] = []
    for _ in range(runs):
        parallel.append(_publish_once(dist, 4, latency_ms))
        serial.append(_publish_once(dist, 1, latency_ms))
    return Parallel(
        serial_phase=statistics.median(p[0] for p in serial),
        parallel_phase=statistics.median(p[0] for p in parallel),
        serial_wall=statistics.median(p[1] for p in serial),
        parallel_wall=statistics.median(p[1] for p in parallel),
        phase_ratios=[p[0] / s[0] for p, s in zip(parallel, serial, strict=True)],
        other_requests=parallel[-1][2],
        serial_waits=serial[-1][3],
        parallel_waits=parallel[-1][3],
    )


def _peak_rss(dist: Path) -> tuple[int, float]:
    fake = _fake()
    try:
        with tempfile.NamedTemporaryFile(prefix="gpa-rss-", delete=False) as out:
            target = Path(out.name)
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-c", RSS_WRAPPER, str(target), *_cli(dist)], env=_env(fake),
                              check=False).returncode
        wall = time.monotonic() - started
        if code != 0:
            raise RuntimeError("publish of the large dist failed")
        peak = int(target.read_text())
        target.unlink()
        return peak, wall
    finally:
        fake.stop()


def bench_rss(work: Path) -> dict[str, float]:
    small = make_dist(work / "small", TAG, [Target("linux", "amd64")])
    large = make_dist(work / "large", TAG, [Target("linux", "amd64")])
    blob = large / f"{REPO}-{TAG}-large-asset.bin"
    with blob.open("wb") as handle:  # real bytes on disk, not a sparse file
        chunk = os.urandom(1 << 20)
        for _ in range(GIB >> 20):
            handle.write(chunk)
    small_rss, _ = _peak_rss(small)
    large_rss, large_wall = _peak_rss(large)
    blob.unlink()
    return {"small_rss": small_rss, "large_rss": large_rss, "large_wall": large_wall}


def bench_bootstrap(runs: int = 3) -> dict[str, float] | str:
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(runs):
        temp = Path(tempfile.mkdtemp(prefix="gpa-runner-temp-"))
        env = {k: v for k, v in os.environ.items() if k != "GITHUB_OUTPUT"}
        env.update(RUNNER_TEMP=str(temp), PIP_NO_CACHE_DIR="1")
        try:
            for bucket in (cold, warm):
                started = time.monotonic()
                result = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "bootstrap.sh")], env=env,
                                        capture_output=True, text=True, check=False)
                bucket.append(time.monotonic() - started)
                if result.returncode != 0:
                    return f"not measured: bootstrap.sh failed ({result.stderr.strip()[-300:]})"
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    return {"cold": statistics.median(cold), "cold_max": max(cold), "warm": statistics.median(warm)}


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def run(runs: int = 3) -> str:
    with tempfile.TemporaryDirectory(prefix="gpa-publish-bench-") as tmp:
        work = Path(tmp)
        par = bench_parallel(work, runs)
        rss = bench_rss(work)
    setup = bench_bootstrap()
    phase_ratio = par.parallel_phase / par.serial_phase
    wall_ratio = par.parallel_wall / par.serial_wall
    ratios = ", ".join(f"{r:.2f}" for r in par.phase_ratios)
    lines = [
        "## Publishing to GitHub Releases (`publish`, against the local fake GitHub)", "",
        f"13 assets, 100 ms latency injected into every request, median of {runs} alternating rounds:", "",
        "| | serial (`--concurrency 1`) | parallel (default 4) | parallel / serial | target |",
        "|---|---|---|---|---|",
        f"| upload phase | {par.serial_phase:.2f} s | {par.parallel_phase:.2f} s | **{phase_ratio:.2f}×** "
        f"(rounds: {ratios}) | ≤ 0.35× {_mark(phase_ratio <= 0.35)} |",
        f"| whole `publish` command | {par.serial_wall:.2f} s | {par.parallel_wall:.2f} s | {wall_ratio:.2f}× | "
        f"13 uploads and {par.other_requests} other requests (preflight, lookups, draft, notes, confirmation, "
        f"latest, publish, live checks) in {par.serial_waits} → {par.parallel_waits} stretches of waiting one "
        "after another (the upload pool's waves count as one) |",
        "",
        f"Peak RSS of the `publish` process: **{rss['large_rss'] / 1e6:.0f} MB** with a 1 GiB asset "
        f"(uploaded in {rss['large_wall']:.1f} s, hashed and streamed from disk) vs {rss['small_rss'] / 1e6:.0f} MB "
        f"for a 60 KB dist; target ≤ 80 MB {_mark(rss['large_rss'] <= 80e6)}.",
        "",
    ]
    if isinstance(setup, str):
        lines.append(f"Python setup (`scripts/bootstrap.sh`): {setup}.")
    else:
        lines.append(f"Python setup (`scripts/bootstrap.sh`, venv + hash-pinned install from the package index): "
                     f"**{setup['cold']:.2f} s cold** (median of 3, max {setup['cold_max']:.2f} s), "
                     f"{setup['warm']:.2f} s warm (reused venv); target ≤ 3 s cold {_mark(setup['cold'] <= 3.0)}.")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += ["", f"_Machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end of the run; the cold setup "
                  "time is network- and CPU-bound (pip start-up, wheel downloads), so it varies with both._", ""]
    return "\n".join(lines)


def main(report: Path | None = None, runs: int = 3) -> int:
    section = run(runs)
    print(section)
    if report is not None:
        report.write_text(section, encoding="utf-8")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, help="also write the section to this file")
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    raise SystemExit(main(arguments.report, arguments.runs))
