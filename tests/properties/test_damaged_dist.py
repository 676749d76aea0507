"""A valid dist, damaged one random way (a byte changed, a file cut short, added, removed or renamed, a
checksum line edited), then published to the fake GitHub: either it is refused with a one-line error and
GitHub received no write at all, or, when the damage changed nothing, the release is exactly the original."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from gatewayd_plugin_actions.targets import Target
from tests.conftest import RunCli
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.github import OWNER, REPO, TOKEN, make_dist
from tests.properties.strategies import DAMAGED_TAG as TAG
from tests.properties.strategies import apply, damage
from tests.publish.test_publish import publish

WRITES = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture(scope="module")
def valid_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dist(tmp_path_factory.mktemp("valid") / "dist", TAG, [Target("linux", "amd64")])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])  # a CLI run each (~1 s)
@given(damage())
@example(("add", "archive", 0, b"\x01"))  # a stray look-alike archive: uploaded and published once
@example(("truncate", "archive", 700, b"\x00"))
def test_a_damaged_dist_is_refused_before_any_write(run_cli: RunCli, valid_dist: Path,
                                                    tmp_path_factory: pytest.TempPathFactory,
                                                    damaged: tuple[str, str, int, bytes]) -> None:
    work = tmp_path_factory.mktemp("publish")
    copy = work / "dist"
    shutil.copytree(valid_dist, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    apply(copy, *damaged)
    after = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    fake = FakeGitHub().start()
    try:
        fake.add_repo(OWNER, REPO)
        fake.add_token(TOKEN, "write")
        run = publish(run_cli, fake, work, copy, TAG)
        writes = [r for r in fake.requests_log if r.method in WRITES]
        published = [a.name for r in fake.releases(OWNER, REPO) for a in r.assets] if run.code == 0 else []
    finally:
        fake.stop()
    if after == before:
        assert run.code == 0, run.text
        assert sorted(published) == sorted(before), published
        return
    assert run.code != 0, f"published a damaged dist ({damaged}):\n{run.text}"
    assert writes == [], f"GitHub received writes for a refused dist: {writes}"
    errors = [line for line in run.result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) <= 1 and "Traceback" not in run.text, run.text
