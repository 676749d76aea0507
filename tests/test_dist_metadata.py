"""``dist.save``: several processes recording a verification in one shared dist at once (a matrix of jobs publishing
one artifact) each get their write in, and the file is always whole."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import clean_env
from tests.fixtures.github import PublishDist

SAVE_LOOP = """
import sys
from pathlib import Path
from gatewayd_plugin_actions import dist
target = Path(sys.argv[1])
for _ in range(100):
    dist.save(target, dist.load(target))
"""


def test_concurrent_saves_into_one_dist_all_succeed(publish_dist: PublishDist) -> None:
    shared = publish_dist("v1.0.0")
    writers = [subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(shared)], env=clean_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0, 0], [err[-2000:] for _, err in results]
    json.loads((shared / "metadata.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in shared.iterdir() if p.name.startswith(".")) == []
