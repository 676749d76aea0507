"""A repository ``init`` adopted runs its new test workflow under act as the templates do
(tests/actions/test_act.py: host mode, third-party actions stubbed, a fake GitHub serving GatewayD). One act
run: the cache-shaped repository, whose own release.yaml/test.yaml init replaced."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.actions.test_act import (
    REPOSITORY,
    act,
    assert_template_test_run,
    commit,
    copy_actions,
    fake_github_two_gatewayds,
    run_template,
    scratch,
    template_env,
)
from tests.conftest import RunCli, git_init
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.plugin_repos import make_cache_shaped

__all__ = ["act", "fake_github_two_gatewayds", "scratch"]  # fixtures


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_an_initialised_repository_passes_its_test_workflow_under_act(
        run_cli: RunCli, act: Path, scratch: Path, fake_github_two_gatewayds: FakeGitHub) -> None:
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

    run = run_template(act, plugin, "test.yaml", scratch, template_env(fake_github_two_gatewayds, scratch), actions)
    assert_template_test_run(run)
    assert "TEST STUB" in run.log  # third-party actions were the labelled stubs, nothing left 127.0.0.1
    assert "golangci/golangci-lint-action" not in run.log  # the old workflow's steps are gone
