"""Long builds are never silent: while `go build` runs, a heartbeat line every $GPA_HEARTBEAT_SECONDS (15 s by
default) names the target, the time so far and whether Go is downloading modules. Shortened intervals keep
these tests quick; a slow `go` (a wrapper that sleeps) and a real cold module cache are the slow builds."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.release.build import DEFAULT_HEARTBEAT_SECONDS, HEARTBEAT_ENV, heartbeat_seconds
from tests.conftest import CLI, EXAMPLE_PLUGIN, clean_env, copy_plugin, git_init

HEARTBEAT_RE = re.compile(r"^  building (\S+)\s+(\d+\.\d)s so far; (.*)$")
# Slack for a loaded 2-core machine: a heartbeat may come this much later than its interval.
SLACK = 0.5


def timed_lines(command: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, list[tuple[float, str]]]:
    """Run ``command``; each stderr line with the time (since start) it arrived."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stderr]
    return process.wait(timeout=timeout), lines


def build_window(lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The lines from "building N targets" to the last "built" line."""
    start = next(i for i, (_, text) in enumerate(lines) if text.startswith("building "))
    end = max(i for i, (_, text) in enumerate(lines) if text.startswith("  built "))
    return lines[start:end + 1]


def largest_gap(window: list[tuple[float, str]]) -> float:
    return max(later - earlier for (earlier, _), (later, _) in itertools.pairwise(window))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / "gatewayd-plugin-example")
    git_init(project)
    return project


def slow_go(directory: Path) -> Path:
    """A `go` that, for `go build`, prints two module downloads with pauses, stays silent a while, then runs the
    real go: a slow build whose phases are known."""
    real = shutil.which("go")
    assert real, "go is needed"
    directory.mkdir()
    script = directory / "go"
    script.write_text(f"""#!/bin/sh
if [ "$1" = build ]; then
    echo "go: downloading example.com/slow-a v1.0.0" >&2
    sleep 0.9
    echo "go: downloading example.com/slow-b v1.2.0" >&2
    sleep 1.2
fi
exec {real} "$@"
""")
    script.chmod(0o755)
    return directory


def test_a_slow_build_says_every_interval_which_target_and_that_go_downloads(project: Path, tmp_path: Path) -> None:
    interval = 0.3
    env = clean_env(PATH=f"{slow_go(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
                    **{HEARTBEAT_ENV: str(interval)})
    code, lines = timed_lines([*CLI, "build", "--project", str(project), "--snapshot", "--targets", "linux/amd64"],
                              env)
    assert code == 0, "\n".join(text for _, text in lines)
    window = build_window(lines)
    beats = [HEARTBEAT_RE.match(text) for _, text in window]
    found = [m for m in beats if m]
    assert len(found) >= 2.1 / interval - 2, window  # the wrapper alone sleeps 2.1 s
    assert {m.group(1) for m in found} == {"linux/amd64"}
    doing = [m.group(3) for m in found]
    assert "go is downloading modules (1 so far, latest example.com/slow-a v1.0.0)" in doing, doing
    assert "go is downloading modules (2 so far, latest example.com/slow-b v1.2.0)" in doing, doing
    # Between two download lines Go may be fetching a big module or compiling: both are said, never a guess.
    assert "compiling (or still fetching example.com/slow-b v1.2.0; 2 modules downloaded so far)" in doing, doing
    elapsed = [float(m.group(2)) for m in found]
    assert elapsed == sorted(elapsed) and interval <= elapsed[0] <= interval + SLACK
    assert largest_gap(window) <= interval + SLACK, window


def test_a_cold_module_cache_is_reported_as_downloading(project: Path, tmp_path: Path) -> None:
    """The real go with an empty module cache, fed offline from this machine's (a file:// GOPROXY): its own
    `go: downloading` lines show up in the heartbeat."""
    download_cache = Path(subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                                         check=True).stdout.strip()) / "cache" / "download"
    modcache = tmp_path / "modcache"
    env = clean_env(GOMODCACHE=str(modcache), GOPROXY=f"file://{download_cache}", GOSUMDB="off",
                    GOFLAGS="-modcacherw", **{HEARTBEAT_ENV: "0.2"})
    try:
        code, lines = timed_lines([*CLI, "build", "--project", str(project), "--snapshot", "--targets",
                                   "linux/amd64"], env)
    finally:
        shutil.rmtree(modcache, ignore_errors=True)
    assert code == 0, "\n".join(text for _, text in lines)
    window = build_window(lines)
    doing = [m.group(3) for _, text in window if (m := HEARTBEAT_RE.match(text))]
    downloading = [d for d in doing if d.startswith("go is downloading modules (")]
    assert downloading, doing
    assert re.search(r"latest (github\.com|golang\.org|google\.golang\.org)/\S+ v\d", downloading[-1])
    assert largest_gap(window) <= 0.2 + SLACK, window


def test_the_interval_is_15_seconds_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    assert heartbeat_seconds() == DEFAULT_HEARTBEAT_SECONDS == 15.0
    monkeypatch.setenv(HEARTBEAT_ENV, "0.5")
    assert heartbeat_seconds() == 0.5
    for bad in ("0", "-1", "soon", "7200"):
        monkeypatch.setenv(HEARTBEAT_ENV, bad)
        with pytest.raises(UserError, match=rf"^{HEARTBEAT_ENV}='{re.escape(bad)}': expected seconds"):
            heartbeat_seconds()
