"""``release`` without ``--snapshot``: check GitHub access first, then validate → build → package → verify →
publish, with real Go builds of the example plugin, against the fake GitHub."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.github import OWNER, REPO, TOKEN
from tests.publish.test_publish import assert_complete, collect, publish_env, releases_for, writes


def test_release_builds_and_publishes(run_cli: RunCli, fake_github: FakeGitHub, example_project: Path,
                                      tmp_path: Path) -> None:
    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    dist = tmp_path / "dist"
    result = run_cli("release", "--project", example_project, "--version", "v0.2.0", "--targets",
                     "linux/amd64,windows/amd64", "--dist", dist, env=publish_env(fake_github, tmp_path))
    run = collect(result, tmp_path)
    assert run.code == 0, run.text
    assert_complete(fake_github, dist, "v0.2.0")
    assert run.outputs["release-url"].endswith("/releases/tag/v0.2.0")
    assert "published" in run.result.stderr
    latest = fake_github.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v0.2.0"
    # The repository is preflighted once, before building; the archives checked while building are not
    # checked (unpacked and hashed) again before publishing.
    assert len(fake_github.requests("GET", "repo")) == 1
    assert run.result.stderr.count("verified gatewayd-plugin-example-linux-amd64-v0.2.0.tar.gz") == 1
    # a re-run rebuilds byte-identical archives, so it changes nothing
    fake_github.clear_log()
    result = run_cli("release", "--project", example_project, "--version", "v0.2.0", "--targets",
                     "linux/amd64,windows/amd64", "--dist", dist, env=publish_env(fake_github, tmp_path))
    run = collect(result, tmp_path)
    assert run.code == 0, run.text
    assert "already published, nothing changed" in run.result.stderr
    assert writes(fake_github) == []


def test_release_checks_github_access_before_building(run_cli: RunCli, fake_github: FakeGitHub,
                                                      example_project: Path, tmp_path: Path) -> None:
    fake_github.add_repo(OWNER, REPO)
    dist = tmp_path / "dist"
    result = run_cli("release", "--project", example_project, "--version", "v0.2.0", "--dist", dist,
                     env=publish_env(fake_github, tmp_path, token="ghs_NotRegistered0123456789abcdef"))
    run = collect(result, tmp_path)
    assert run.code != 0
    assert "Bad credentials" in run.result.stderr
    assert not dist.exists(), "nothing may be built when the token cannot publish"
    assert releases_for(fake_github, "v0.2.0") == []
