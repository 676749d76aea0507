"""``publish`` (the real CLI) on two answers GitHub's REST description documents and neither fake modelled before,
on both fakes (``fake_github`` and the independent ``indie_github``):

* creating or updating a release answers 404 when its target commit adds or changes files under
  ``.github/workflows/`` and the token may not change workflows (a job's ``GITHUB_TOKEN`` never may): the message
  says so, still names the repository and permission causes, and nothing is published;
* an asset in state ``open`` (an interrupted upload) is not a finished upload: it is replaced, never kept or
  counted as already uploaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.fakes.fake_github import FakeGitHub
from tests.fakes.indie_github import FaultMix, IndieGitHub
from tests.fixtures.github import OWNER, REPO, TOKEN, PublishDist
from tests.publish import test_publish_independent as independent
from tests.publish.test_publish import assert_complete, publish, releases_for
from tests.publish.test_publish_independent import Harness, Run, expected_assets
from tests.publish.test_publish_independent import assert_complete as indie_complete

harness = independent.harness  # the fixture: started independent fakes, stopped afterwards

# The commit a tag push runs on (GITHUB_SHA, sent as target_commitish); it changed a workflow file.
WORKFLOW_COMMIT = "5f1c0ffee0ddba11c0ffee0ddba11c0ffee0ddba"
WORKFLOW_TOKEN = "ghp_WorkflowScopeCanary0123456789abcdef"


def assert_workflow_message(text: str) -> None:
    lowered = text.lower()
    assert "404" in text, text
    assert ".github/workflows/" in text and "`workflow` scope" in text, text
    assert "workflows: write" in lowered and "github_token never may" in lowered, text
    # The other causes of a 404 are still named.
    assert "GITHUB_REPOSITORY" in text and "contents: write" in text, text
    assert WORKFLOW_TOKEN not in text and TOKEN not in text


# --------------------------------------------------------------------------------------------------
# the workflow-file 404, on fake_github
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def guarded(fake_github: FakeGitHub) -> FakeGitHub:
    """A repository whose release commit (and default branch head) changed .github/workflows/."""
    fake_github.add_repo(OWNER, REPO, workflow_changes=(WORKFLOW_COMMIT, "main"))
    fake_github.add_token(TOKEN, "write")
    fake_github.add_token(WORKFLOW_TOKEN, "write", workflows=True)
    return fake_github


def test_workflow_change_404_on_create_is_explained_fake_github(run_cli: RunCli, guarded: FakeGitHub,
                                                                publish_dist: PublishDist, tmp_path: Path) -> None:
    run = publish(run_cli, guarded, tmp_path, publish_dist("v1.0.0"), "v1.0.0", GITHUB_SHA=WORKFLOW_COMMIT)
    assert run.code != 0, run.text
    assert_workflow_message(run.text)
    assert releases_for(guarded, "v1.0.0") == []
    assert [e.faults for e in guarded.requests("POST", "releases")] == [("workflow_guard",)]
    assert not guarded.requests("POST", "upload")


def test_workflow_change_404_on_publishing_a_draft_is_explained_fake_github(
        run_cli: RunCli, guarded: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    """A draft made earlier (by a token that could) is adopted; publishing it is the update GitHub refuses."""
    draft = guarded.add_release(OWNER, REPO, "v1.0.0", draft=True, target_commitish=WORKFLOW_COMMIT)
    run = publish(run_cli, guarded, tmp_path, publish_dist("v1.0.0"), "v1.0.0", GITHUB_SHA=WORKFLOW_COMMIT)
    assert run.code != 0, run.text
    assert_workflow_message(run.text)
    assert f"nothing was published: draft release {draft.id}" in run.text, run.text
    [release] = releases_for(guarded, "v1.0.0")
    assert release.draft and guarded.latest_release(OWNER, REPO) is None  # type: ignore[attr-defined]
    assert [e.faults for e in guarded.requests("PATCH", "release")] == [("workflow_guard",)]


def test_a_token_allowed_to_change_workflows_publishes_fake_github(run_cli: RunCli, guarded: FakeGitHub,
                                                                   publish_dist: PublishDist, tmp_path: Path) -> None:
    """The control: the same repository and commit, with a token that may change workflows."""
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, guarded, tmp_path, dist, "v1.0.0", token=WORKFLOW_TOKEN, GITHUB_SHA=WORKFLOW_COMMIT)
    assert run.code == 0, run.text
    assert_complete(guarded, dist, "v1.0.0")


# --------------------------------------------------------------------------------------------------
# the workflow-file 404, on the independent fake
# --------------------------------------------------------------------------------------------------


def indie_publish(harness: Harness, gh: IndieGitHub, dist: Path, tag: str, token: str = TOKEN) -> Run:
    """``harness.publish`` with GITHUB_SHA set, as on a tag push."""
    env, out, summary = harness.env(gh, token, name=f"-{dist.name}")
    env["GITHUB_SHA"] = WORKFLOW_COMMIT
    mark = len(gh.log)
    result = harness.run_cli("publish", "--dist", dist, "--version", tag, "--no-gate", env=env, timeout=120)
    run = Run(result, out.read_text() if out.exists() else "", summary.read_text() if summary.exists() else "",
              gh.log[mark:])
    harness.check_secrets(gh, run)
    return run


def indie_guarded(harness: Harness, faults: FaultMix | None = None) -> IndieGitHub:
    gh = harness.fake(faults)
    gh.touch_workflows(OWNER, REPO, WORKFLOW_COMMIT)
    gh.touch_workflows(OWNER, REPO)
    gh.add_token(WORKFLOW_TOKEN, "write", workflows=True)
    return gh


def test_workflow_change_404_on_create_is_explained_indie(harness: Harness, publish_dist: PublishDist) -> None:
    gh = indie_guarded(harness)
    run = indie_publish(harness, gh, publish_dist("v1.2.3"), "v1.2.3")
    assert run.result.returncode != 0, run.explain()
    assert_workflow_message(run.text)
    assert gh.releases(OWNER, REPO, "v1.2.3") == []
    assert all(e.path.endswith("/generate-notes") for e in run.writes(ok_only=True)), run.explain()
    assert [e.status for e in run.log if e.method == "POST" and e.path.endswith("/releases")] == [404]


def test_workflow_change_404_on_publishing_a_draft_is_explained_indie(harness: Harness,
                                                                      publish_dist: PublishDist) -> None:
    gh = indie_guarded(harness)
    draft_id = gh.seed_release(OWNER, REPO, "v1.2.3", draft=True)
    run = indie_publish(harness, gh, publish_dist("v1.2.3"), "v1.2.3")
    assert run.result.returncode != 0, run.explain()
    assert_workflow_message(run.text)
    assert f"nothing was published: draft release {draft_id}" in run.text, run.explain()
    [release] = gh.releases(OWNER, REPO, "v1.2.3")
    assert release.draft and not release.latest and gh.latest_tag(OWNER, REPO) is None
    assert [e.status for e in run.log if e.method == "PATCH"] == [404], run.explain()


def test_a_token_allowed_to_change_workflows_publishes_indie(harness: Harness, publish_dist: PublishDist) -> None:
    gh = indie_guarded(harness)
    dist = publish_dist("v1.2.3")
    run = indie_publish(harness, gh, dist, "v1.2.3", token=WORKFLOW_TOKEN)
    assert run.result.returncode == 0, run.explain()
    indie_complete(gh, "v1.2.3", dist, run)


# --------------------------------------------------------------------------------------------------
# assets in state `open`
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    return fake_github


def test_an_open_asset_in_an_adopted_draft_is_replaced_fake_github(run_cli: RunCli, repo: FakeGitHub,
                                                                   publish_dist: PublishDist, tmp_path: Path) -> None:
    """An earlier run's upload was interrupted: the draft holds the archive in state ``open``, with every byte
    and the right size (only no digest). It must not pass for uploaded: deleted, uploaded again, then published."""
    dist = publish_dist("v1.0.0")
    archive = sorted(dist.glob("*.tar.gz"))[0]
    draft = repo.add_release(OWNER, REPO, "v1.0.0", draft=True)
    stale = repo.add_asset(OWNER, REPO, draft.id, archive.name, archive.read_bytes(), state="open")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.0.0")
    [release] = releases_for(repo, "v1.0.0")
    [replaced] = [a for a in release.assets if a.name == archive.name]  # type: ignore[attr-defined]
    assert replaced.id != stale.id and replaced.state == "uploaded"
    assert f"deleted open asset {archive.name}" in run.text, run.text
    assert "0 assets already uploaded with the same sha256, 7 to upload" in run.text, run.text
    assert [e.status for e in repo.requests("DELETE", "asset")] == [204]
    assert sum(1 for u in repo.requests("POST", "upload") if u.query["name"] == archive.name) == 1


def test_an_upload_interrupted_into_an_open_asset_is_redone_fake_github(
        run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    repo.faults.drop_connection(("POST", "upload"), times=1, after_bytes=64, leave_open=True)
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert not repo.faults.pending()
    assert_complete(repo, dist, "v1.0.0")
    assert "deleted open leftover" in run.text, run.text
    assert len(repo.requests("POST", "upload")) == 8  # 7 assets, one of them twice


def test_an_open_asset_in_an_adopted_draft_is_replaced_indie(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    archive = sorted(dist.glob("*.tar.gz"))[0]
    draft_id = gh.seed_release(OWNER, REPO, "v1.2.3", draft=True, open_assets={archive.name: archive.read_bytes()})
    [stale] = gh.releases(OWNER, REPO, "v1.2.3")[0].assets
    assert stale.state == "open" and stale.sha256 is None and stale.size == archive.stat().st_size
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    release = indie_complete(gh, "v1.2.3", dist, run)
    assert release.id == draft_id
    [replaced] = [a for a in release.assets if a.name == archive.name]
    assert replaced.id != stale.id and replaced.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert f"deleted open asset {archive.name}" in run.text, run.explain()
    uploads = [e for e in run.writes(ok_only=True) if e.role == "uploads"]
    assert len(uploads) == len(expected_assets(dist)), run.explain()


def test_an_upload_interrupted_into_an_open_asset_is_redone_indie(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake(FaultMix(seed=3, upload_drop_open=0.5, max_faults=3))
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    indie_complete(gh, "v1.2.3", dist, run)
    assert any(e.fault == "upload_drop_open" for e in run.log), run.explain()
    assert "deleted open leftover" in run.text, run.explain()


def test_an_open_asset_in_a_published_release_is_not_taken_for_published_fake_github(
        run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    """A published (mutable) release whose checksums.txt is ``open`` with all its bytes: not "nothing to do"."""
    dist = publish_dist("v1.0.0")
    files = {p.name: p.read_bytes() for p in dist.iterdir() if p.name != "metadata.json"}
    published = repo.add_release(OWNER, REPO, "v1.0.0", assets={k: v for k, v in files.items()
                                                                 if k != "checksums.txt"})
    repo.add_asset(OWNER, REPO, published.id, "checksums.txt", files["checksums.txt"], state="open")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert "already published with identical assets" not in run.text, run.text
    assert "already published but incomplete or different; repairing" in run.text, run.text
    assert_complete(repo, dist, "v1.0.0")
    assert [u.query["name"] for u in repo.requests("POST", "upload")] == ["checksums.txt"]
