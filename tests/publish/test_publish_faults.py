"""``publish`` under every fault the fake GitHub can inject, alone and together: the release still ends up
complete and correct (exactly one release, every digest equal to the dist), or fails with a clear message."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS
from tests.conftest import RunCli
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.github import OWNER, REPO, TOKEN, PublishDist
from tests.publish.test_publish import assert_complete, publish, releases_for

# Every scenario runs against two servers that differ where GitHub deployments differ: github.com, and an
# older GitHub Enterprise Server (API under /api/v3, uploads under /api/uploads, no asset ``digest``, so
# every upload is verified by downloading it, and assets listed by name).
SERVERS: dict[str, dict[str, Any]] = {
    "github.com": {},
    "older GHES": {"path_prefix": "/api/v3", "upload_prefix": "/api/uploads", "asset_digests": False,
                   "asset_order": "name"},
}


@pytest.fixture(params=list(SERVERS))
def repo(request: pytest.FixtureRequest) -> Iterator[FakeGitHub]:
    with FakeGitHub(**SERVERS[request.param]) as fake:
        fake.add_repo(OWNER, REPO)
        fake.add_token(TOKEN, "write")
        yield fake


def fired(fake: FakeGitHub, name: str) -> int:
    return sum(1 for e in fake.requests_log for f in e.faults if f.startswith(name))


FAULTS = {
    "upload 502 leaves starter assets": lambda f: f.faults.upload_502_leaves_starter(times=3),
    "connection dropped mid-upload": lambda f: f.faults.drop_connection(("POST", "upload"), times=2, after_bytes=64),
    "connection dropped mid-upload, starter left": lambda f: f.faults.drop_connection(
        ("POST", "upload"), times=2, after_bytes=64, leave_starter=True),
    "connection dropped mid-upload, the asset left open": lambda f: f.faults.drop_connection(
        ("POST", "upload"), times=2, after_bytes=64, leave_open=True),
    "upload landed but the answer was lost": lambda f: f.faults.drop_connection(
        ("POST", "upload"), times=2, after_processing=True),
    "create answered 500": lambda f: f.faults.fail_next("create_release", 500),
    "create landed but the answer was lost": lambda f: f.faults.drop_connection(
        "create_release", after_processing=True),
    "publish PATCH answered 502 twice": lambda f: f.faults.fail_next("update_release", 502, times=2),
    "publish PATCH landed but the answer was lost": lambda f: f.faults.drop_connection(
        "update_release", after_processing=True),
    "asset list answered 503 with HTML": lambda f: f.faults.fail_next(
        "list_assets", 503, times=2, body="<html>unicorn</html>", content_type="text/html"),
    "release list answered 500": lambda f: f.faults.fail_next("list_releases", 500, times=2),
    "secondary rate limit 403 + Retry-After on uploads": lambda f: f.faults.secondary_rate_limit(
        ("POST", "upload"), times=2, status=403, retry_after=0.3),
    "secondary rate limit 429 without Retry-After": lambda f: f.faults.secondary_rate_limit(
        "list_assets", times=1, status=429, retry_after=None),
    "secondary rate limit on create": lambda f: f.faults.secondary_rate_limit(
        "create_release", status=403, retry_after=0.2),
    "primary rate limit until reset": lambda f: f.faults.primary_rate_limit(("GET", "assets"), reset_in=1.0),
    "eventual consistency after create": lambda f: f.faults.eventual_consistency(reads=4),
    "read-after-create lag: the new draft 404s by id too": lambda f: f.faults.eventual_consistency(
        reads=0, seconds=0.8, by_id=True),
    "a competing job published the tag first": lambda f: f.faults.race_create(),
    "a competing job created a draft too": lambda f: f.faults.race_create(draft=True),
    # Downloads only happen where no digest proves an upload (older GHES): verified by fetching it.
    "no asset digests, a verifying download answered 500": lambda f: (
        setattr(f, "asset_digests", False), f.faults.fail_next(("GET", "object"), 500)),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault(fault: str, run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    FAULTS[fault](repo)
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert not repo.faults.pending(), f"fault never fired: {repo.faults.pending()}"
    assert_complete(repo, dist, "v1.0.0")
    latest = repo.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v1.0.0"
    if "competing job" not in fault:  # alone, a job makes one draft whatever GitHub answers: none to delete
        creates = [e for e in repo.requests_log
                   if e.method == "POST" and e.path.endswith("/releases") and e.status == 201]
        deletes = [e for e in repo.requests_log if e.method == "DELETE" and "/releases/assets/" not in e.path]
        assert len(creates) <= 1 and not deletes, [(e.method, e.path, e.status) for e in creates + deletes]


def test_rate_limit_waits_are_honoured(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                       tmp_path: Path) -> None:
    repo.faults.secondary_rate_limit(("POST", "upload"), times=1, status=429, retry_after=1)
    dist = publish_dist("v1.0.0")
    started = time.monotonic()
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0", "--concurrency", "1")
    assert run.code == 0, run.text
    assert time.monotonic() - started >= 1.0
    limited = [e for e in repo.requests_log if "secondary_rate_limit" in e.faults]
    retried = [e for e in repo.requests("POST", "upload") if e.started_at > limited[0].started_at]
    assert retried and retried[0].started_at - limited[0].started_at >= 0.95
    assert "rate limited" in run.result.stderr


def test_a_wait_beyond_the_cap_fails_clearly_and_names_the_draft(run_cli: RunCli, repo: FakeGitHub,
                                                                 publish_dist: PublishDist, tmp_path: Path) -> None:
    repo.faults.secondary_rate_limit(("POST", "upload"), times=50, status=403, retry_after=3600)
    run = publish(run_cli, repo, tmp_path, publish_dist("v1.0.0"), "v1.0.0", GPA_GITHUB_MAX_WAIT="5")
    assert run.code != 0
    (draft,) = releases_for(repo, "v1.0.0")
    assert draft.draft  # type: ignore[attr-defined]
    err = run.result.stderr
    assert "GPA_GITHUB_MAX_WAIT" in err and "re-run the job later" in err
    assert f"draft release {draft.id}" in err and "nothing was published" in err  # type: ignore[attr-defined]


def test_upload_timeout_reconciles(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                   tmp_path: Path) -> None:
    """The upload landed, but the answer came after the client's read timeout."""
    repo.faults.timeout_next(("POST", "upload"), seconds=3, after_processing=True)
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0", GPA_GITHUB_UPLOAD_TIMEOUT="1")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.0.0")


def test_several_faults_together(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                 tmp_path: Path) -> None:
    faults = repo.faults
    faults.latency_ms = 20
    faults.eventual_consistency(reads=3)
    faults.fail_next("create_release", 502)
    faults.upload_502_leaves_starter(times=2)
    faults.drop_connection(("POST", "upload"), times=2, after_bytes=100)
    faults.drop_connection(("POST", "upload"), after_processing=True)
    faults.secondary_rate_limit(("POST", "upload"), times=2, retry_after=0.2)
    faults.secondary_rate_limit("list_assets", status=429, retry_after=0.1)
    faults.fail_next("list_assets", 500)
    faults.fail_next("update_release", 503)
    faults.fail_next("list_releases", 500)
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0", GITHUB_ACTIONS="true")
    assert run.code == 0, run.text
    assert not faults.pending(), faults.pending()
    assert_complete(repo, dist, "v1.0.0")
    assert len(repo.releases(OWNER, REPO)) == 1
    # A re-run under new faults still changes nothing.
    faults.fail_next("list_assets", 502)
    faults.secondary_rate_limit("release_by_tag", retry_after=0.1)
    repo.clear_log()
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0", GITHUB_ACTIONS="true")
    assert run.code == 0, run.text
    assert [e for e in repo.requests_log if e.method in ("POST", "PATCH", "DELETE")] == []


def test_different_build_for_a_published_mutable_release_is_repaired(run_cli: RunCli, repo: FakeGitHub,
                                                                     publish_dist: PublishDist,
                                                                     tmp_path: Path) -> None:
    first = publish_dist("v1.0.0", flavour="first build", name="first")
    assert publish(run_cli, repo, tmp_path, first, "v1.0.0").code == 0
    second = publish_dist("v1.0.0", flavour="second build", name="second")
    repo.clear_log()
    run = publish(run_cli, repo, tmp_path, second, "v1.0.0")
    assert run.code == 0, run.text
    assert "repairing" in run.result.stderr
    assert_complete(repo, second, "v1.0.0")
    # Every changed asset was uploaded beside the old one under a name the installer cannot pick, then the old
    # one deleted and the new one renamed: a name is missing from the live release only between those two.
    changed = len(list(second.glob("*.tar.gz"))) + len(list(second.glob("*.zip"))) + 1  # + checksums.txt
    staged = [e for e in repo.requests_log if e.kind == "upload" and e.status == 201]
    deletes = [e for e in repo.requests_log if e.method == "DELETE" and e.status == 204]
    renames = [e for e in repo.requests_log if e.method == "PATCH" and "/releases/assets/" in e.path]
    assert len(staged) == len(deletes) == len(renames) == changed, (len(staged), len(deletes), len(renames))
    assert all(e.query["name"].startswith("gpa-staging-") for e in staged)
    assert not any(contract.installer_matches_archive(e.query["name"], t) or "checksums.txt" in e.query["name"]
                   for e in staged for t in DEFAULT_TARGETS)
    for k, delete in enumerate(sorted(deletes, key=lambda e: e.started_at), start=1):  # each after its upload
        assert sum(e.started_at + e.duration <= delete.started_at for e in staged) >= k
