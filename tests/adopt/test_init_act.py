"""A repository ``init`` adopted runs its new test workflow under act as the templates do
(tests/actions/test_act.py: host mode, third-party actions stubbed, a fake GitHub serving GatewayD). One act
run: the cache-shaped repository, whose own release.yaml/test.yaml init replaced."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.actions.test_act import (
    ACT_TOKEN,
    ACTIONS_REF,
    REPOSITORY,
    act,
    commit,
    copy_actions,
    fake_github_two_gatewayds,
    run_act,
    scratch,
    shared_env,
)
from tests.conftest import RunCli, git_init
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.plugin_repos import make_cache_shaped

__all__ = ["act", "fake_github_two_gatewayds", "scratch"]  # fixtures


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_an_initialised_repository_passes_its_test_workflow_under_act(
        run_cli: RunCli, act: Path, scratch: Path, fake_github_two_gatewayds: FakeGitHub) -> None:
    fake = fake_github_two_gatewayds
    actions = scratch / "gatewayd-plugin-actions"
    actions.mkdir()
    copy_actions(actions)
    plugin = make_cache_shaped(scratch / "gatewayd-plugin-example")
    git_init(plugin)
    subprocess.run(["git", "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git"], cwd=plugin,
                   check=True)
    adopted = run_cli("init", "--project", plugin)
    assert adopted.returncode == 0, adopted.stderr
    assert "replace .github/workflows/test.yaml: old test workflow" in adopted.stderr
    commit(plugin)

    env = {"GITHUB_API_URL": fake.api_url, "GITHUB_SERVER_URL": fake.server_url,
           "GATEWAYD_RELEASES_API_URL": fake.api_url, **shared_env(scratch)}
    extra = ["--local-repository", f"{ACTIONS_REF}={actions}", "--concurrent-jobs", "1"]
    run = run_act(act, plugin, "test.yaml", scratch, env, secrets={"GITHUB_TOKEN": ACT_TOKEN}, extra=extra)
    assert run.returncode == 0, run.log[-8000:]
    assert run.log.count("🏁  Job succeeded") == 3  # test, test-plugin × (v0.10.3, latest)
    assert "golangci-lint v1.64.8" in run.log
    assert "gatewayd-linux-amd64-v0.10.3.tar.gz" in run.log and "gatewayd-linux-amd64-v0.11.1.tar.gz" in run.log
    assert "TEST STUB" in run.log  # third-party actions were the labelled stubs, nothing left 127.0.0.1
    assert "golangci/golangci-lint-action" not in run.log  # the old workflow's steps are gone
    assert ACT_TOKEN not in run.log
