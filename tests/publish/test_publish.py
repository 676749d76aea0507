"""``publish`` (the real CLI, as a process) against the fake GitHub: the happy path, re-runs, policy, errors.

Every run goes through :func:`publish`, which also asserts the canary token never appears in stdout,
stderr, GITHUB_OUTPUT or the step summary.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from gatewayd_plugin_actions.dist import merge_dists
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS
from tests.conftest import CLI, RunCli, clean_env, parse_output_file
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.github import OWNER, READ_TOKEN, REPO, REPOSITORY, TOKEN, PublishDist

WRITES = {"POST", "PATCH", "DELETE", "PUT"}


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    outputs: dict[str, str]
    summary: str

    @property
    def code(self) -> int:
        return self.result.returncode

    @property
    def text(self) -> str:
        return self.result.stdout + self.result.stderr


def publish_env(fake: FakeGitHub, tmp_path: Path, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    env = clean_env(GITHUB_API_URL=fake.api_url, GITHUB_SERVER_URL=fake.server_url, GITHUB_REPOSITORY=REPOSITORY,
                    GITHUB_OUTPUT=str(tmp_path / "github_output"), GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
                    GPA_GITHUB_BACKOFF="0.05", GPA_GITHUB_BACKOFF_MAX="0.5", GPA_GITHUB_SECONDARY_WAIT="0.2",
                    GPA_GITHUB_MAX_WAIT="20", GPA_GITHUB_STARTER_GRACE="1")
    if token is not None:
        env["GITHUB_TOKEN"] = token
    env.update(extra)
    return env


def check_no_canary(*texts: str) -> None:
    for text in texts:
        for secret in (TOKEN, READ_TOKEN):
            assert secret not in text, f"token leaked: {text[:2000]}"


def collect(result: subprocess.CompletedProcess[str], tmp_path: Path) -> Run:
    output = tmp_path / "github_output"
    summary = tmp_path / "summary.md"
    out_text = output.read_text() if output.exists() else ""
    summary_text = summary.read_text() if summary.exists() else ""
    check_no_canary(result.stdout, result.stderr, out_text, summary_text)
    for path in (output, summary):
        path.unlink(missing_ok=True)
    return Run(result, parse_output_file(out_text), summary_text)


def publish(run_cli: RunCli, fake: FakeGitHub, tmp_path: Path, dist: Path, tag: str, *args: str,
            token: str | None = TOKEN, **env: str) -> Run:
    # --no-gate: the fake binaries cannot start (the gate has its own tests with real builds).
    result = run_cli("publish", "--dist", dist, "--version", tag, "--no-gate", *args,
                     env=publish_env(fake, tmp_path, token, **env), timeout=300)
    return collect(result, tmp_path)


def writes(fake: FakeGitHub) -> list[tuple[str, str, int]]:
    return [(e.method, e.route, e.status) for e in fake.requests_log if e.method in WRITES]


def releases_for(fake: FakeGitHub, tag: str) -> list[object]:
    return [r for r in fake.releases(OWNER, REPO) if r.tag_name == tag]


def assert_complete(fake: FakeGitHub, dist: Path, tag: str) -> None:
    """Exactly one published release for ``tag`` whose uploaded assets are the dist's files, byte for byte."""
    matching = [r for r in fake.releases(OWNER, REPO) if r.tag_name == tag]
    assert len(matching) == 1, [(r.id, r.draft) for r in matching]
    release = matching[0]
    assert not release.draft
    expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in dist.iterdir()
                if p.is_file() and p.name != "metadata.json"}
    got = {a.name: a.sha256 for a in release.assets}
    assert got == expected
    assert all(a.state == "uploaded" for a in release.assets)
    assert not fake.internal_errors


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    fake_github.add_token(READ_TOKEN, "read")
    return fake_github


# --------------------------------------------------------------------------------------------------
# happy path and re-runs
# --------------------------------------------------------------------------------------------------


def test_clean_publish(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.0.0")
    latest = repo.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v1.0.0"
    release = releases_for(repo, "v1.0.0")[0]
    assert release.body and "What's Changed" in release.body  # type: ignore[attr-defined]
    assert not release.prerelease  # type: ignore[attr-defined]
    # Outputs for the action.
    assert run.outputs["release-url"].endswith(f"/{OWNER}/{REPO}/releases/tag/v1.0.0")
    assets = json.loads(run.outputs["assets"])
    assert {a["name"] for a in assets} == {p.name for p in dist.iterdir() if p.name != "metadata.json"}
    assert all(len(a["sha256"]) == 64 for a in assets)
    assert run.outputs["version"] == "v1.0.0"
    # The step summary: asset table, install and verify commands.
    assert f"gatewayd plugin install github.com/{REPOSITORY}@v1.0.0" in run.summary
    assert "sha256sum -c checksums.txt" in run.summary
    assert "| `checksums.txt` |" in run.summary
    # Uploads went to the upload host, streamed with a length and a real content type.
    uploads = repo.requests("POST", "upload")
    assert len(uploads) == 7
    assert all(u.kind == "upload" and u.headers.get("content-length") for u in uploads)
    types = {u.query["name"]: u.headers["content-type"] for u in uploads}
    assert types["checksums.txt"] == "text/plain"
    assert all(t == "application/gzip" for n, t in types.items() if n.endswith(".tar.gz"))
    assert all(t == "application/zip" for n, t in types.items() if n.endswith(".zip"))
    # API conventions.
    api = [e for e in repo.requests_log if e.kind == "api"]
    assert all(e.headers.get("x-github-api-version") == "2022-11-28" for e in api)
    assert all("application/vnd.github+json" in e.headers.get("accept", "") for e in api
               if e.route not in ("asset",))
    assert all(TOKEN not in e.path for e in repo.requests_log)
    # The digests GitHub reports prove the stored bytes: the live check downloads nothing.
    assert not repo.requests("GET", "object")


def test_rerun_on_finished_release_changes_nothing(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                                   tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    assert publish(run_cli, repo, tmp_path, dist, "v1.0.0").code == 0
    before = [(r.id, r.updated_at, [(a.id, a.sha256) for a in r.assets]) for r in repo.releases(OWNER, REPO)]
    repo.clear_log()
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert "nothing changed" in run.text
    assert writes(repo) == []
    after = [(r.id, r.updated_at, [(a.id, a.sha256) for a in r.assets]) for r in repo.releases(OWNER, REPO)]
    assert after == before
    assert run.outputs["release-url"]
    assert "already published with identical assets" in run.summary


def test_rerun_repairs_a_partial_draft_and_drops_leftovers(run_cli: RunCli, repo: FakeGitHub,
                                                           publish_dist: PublishDist, tmp_path: Path) -> None:
    """A draft from a crashed run (invisible to get-by-tag) is adopted: only missing/different assets move."""
    dist = publish_dist("v1.0.0")
    names = sorted(p.name for p in dist.iterdir() if p.name != "metadata.json")
    draft = repo.add_release(OWNER, REPO, "v1.0.0", draft=True,
                             assets={names[0]: (dist / names[0]).read_bytes(),  # identical: kept
                                     names[1]: b"stale content",  # different: replaced
                                     "stray-leftover.txt": b"not in the dist"})  # not in the dist: deleted
    repo.add_asset(OWNER, REPO, draft.id, names[2], b"", state="starter")  # a failed upload's leftover
    kept_id = next(a.id for a in repo.release(OWNER, REPO, draft.id).assets if a.name == names[0])
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.0.0")
    release = releases_for(repo, "v1.0.0")[0]
    assert release.id == draft.id  # type: ignore[attr-defined]
    assert any(a.id == kept_id for a in release.assets)  # type: ignore[attr-defined]
    uploaded = {e.query["name"] for e in repo.requests("POST", "upload")}
    assert names[0] not in uploaded and names[1] in uploaded and names[2] in uploaded
    assert not repo.requests("POST", "releases")  # adopted, not created


def test_draft_found_beyond_the_first_page(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                           tmp_path: Path) -> None:
    """get-by-tag hides drafts and ncipollo-style first-page scans miss old ones: page through the list."""
    draft = repo.add_release(OWNER, REPO, "v1.0.0", draft=True, created_at="2020-01-01T00:00:00Z")
    for minor in range(130):
        repo.add_release(OWNER, REPO, f"v0.{minor}.0", created_at=f"2021-01-01T00:{minor // 60:02d}:{minor % 60:02d}Z")
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.0.0")
    assert releases_for(repo, "v1.0.0")[0].id == draft.id  # type: ignore[attr-defined]
    assert any("page=2" in e.path for e in repo.requests("GET", "releases"))


def test_draft_option_leaves_a_draft_then_publish_finishes(run_cli: RunCli, repo: FakeGitHub,
                                                           publish_dist: PublishDist, tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0", "--draft")
    assert run.code == 0, run.text
    (release,) = releases_for(repo, "v1.0.0")
    assert release.draft  # type: ignore[attr-defined]
    assert "draft" in run.summary
    repo.clear_log()
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.0.0")
    assert not repo.requests("POST", "upload")  # everything was already there


# --------------------------------------------------------------------------------------------------
# prerelease and make_latest policy
# --------------------------------------------------------------------------------------------------


def test_prerelease_is_never_latest(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                    tmp_path: Path) -> None:
    repo.add_release(OWNER, REPO, "v1.0.0", created_at="2025-01-01T00:00:00Z")
    dist = publish_dist("v1.1.0-rc.1")
    run = publish(run_cli, repo, tmp_path, dist, "v1.1.0-rc.1")
    assert run.code == 0, run.text
    (release,) = releases_for(repo, "v1.1.0-rc.1")
    assert release.prerelease and not release.draft  # type: ignore[attr-defined]
    latest = repo.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v1.0.0"
    assert "make_latest: false" in run.summary


def test_final_after_older_final_becomes_latest(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                                tmp_path: Path) -> None:
    repo.add_release(OWNER, REPO, "v1.0.0", created_at="2025-01-01T00:00:00Z")
    repo.add_release(OWNER, REPO, "v1.1.0-rc.1", prerelease=True, make_latest=False,
                     created_at="2025-02-01T00:00:00Z")
    dist = publish_dist("v1.1.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.1.0")
    assert run.code == 0, run.text
    latest = repo.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v1.1.0"
    # notes are generated against the previous final release, not the release candidate
    body = releases_for(repo, "v1.1.0")[0].body  # type: ignore[attr-defined]
    assert "compare/v1.0.0...v1.1.0" in body


def test_backport_does_not_become_latest(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                         tmp_path: Path) -> None:
    repo.add_release(OWNER, REPO, "v1.4.0", created_at="2025-01-01T00:00:00Z")
    repo.add_release(OWNER, REPO, "v2.0.0", created_at="2025-03-01T00:00:00Z")
    dist = publish_dist("v1.4.1")
    run = publish(run_cli, repo, tmp_path, dist, "v1.4.1")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.4.1")
    latest = repo.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v2.0.0"
    assert not releases_for(repo, "v1.4.1")[0].prerelease  # type: ignore[attr-defined]
    assert "back-port" in run.text


def test_explicit_policies(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    repo.add_release(OWNER, REPO, "v2.0.0", created_at="2025-03-01T00:00:00Z")
    dist = publish_dist("v1.5.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.5.0", "--make-latest", "true", "--prerelease", "false")
    assert run.code == 0, run.text
    latest = repo.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v1.5.0"


def test_generated_notes_are_truncated(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                       tmp_path: Path) -> None:
    repo.faults.notes_length = 200_000
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    body = releases_for(repo, "v1.0.0")[0].body  # type: ignore[attr-defined]
    assert len(body) == 125_000
    assert body.endswith("(release notes truncated to 125 000 characters)")


def test_notes_file(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    notes = tmp_path / "NOTES.md"
    notes.write_text("Hand-written notes.\n")
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0", "--notes-file", str(notes))
    assert run.code == 0, run.text
    assert releases_for(repo, "v1.0.0")[0].body == "Hand-written notes.\n"  # type: ignore[attr-defined]
    assert not repo.requests("POST", "generate_notes")


# --------------------------------------------------------------------------------------------------
# clear failures, nothing published
# --------------------------------------------------------------------------------------------------


def test_immutable_release_on_the_tag(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                      tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    seeded = repo.add_release(OWNER, REPO, "v1.0.0", immutable=True,
                              assets={"checksums.txt": b"0" * 64 + b"  something-else.tar.gz\n"})
    repo.clear_log()
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code != 0
    assert "immutable" in run.result.stderr and "nothing was changed" in run.result.stderr
    assert "Traceback" not in run.result.stderr
    assert writes(repo) == []
    (release,) = releases_for(repo, "v1.0.0")
    assert [(a.name, a.sha256) for a in release.assets] == [(a.name, a.sha256) for a in seeded.assets]  # type: ignore[attr-defined]


def test_rerun_on_finished_immutable_release_is_a_no_op(run_cli: RunCli, repo: FakeGitHub,
                                                        publish_dist: PublishDist, tmp_path: Path) -> None:
    repo.set_repo_options(OWNER, REPO, immutable_releases=True)
    dist = publish_dist("v1.0.0")
    assert publish(run_cli, repo, tmp_path, dist, "v1.0.0").code == 0
    assert releases_for(repo, "v1.0.0")[0].immutable  # type: ignore[attr-defined]
    repo.clear_log()
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert writes(repo) == []


def test_burned_tag_of_a_deleted_immutable_release(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                                   tmp_path: Path) -> None:
    repo.repo(OWNER, REPO).burned_tags.add("v1.0.0")
    run = publish(run_cli, repo, tmp_path, publish_dist("v1.0.0"), "v1.0.0")
    assert run.code != 0
    assert "immutable" in run.result.stderr and "new version" in run.result.stderr
    assert releases_for(repo, "v1.0.0") == []


def test_no_token(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    run = publish(run_cli, repo, tmp_path, publish_dist("v1.0.0"), "v1.0.0", token=None)
    assert run.code != 0
    assert "no GitHub token" in run.result.stderr and "contents: write" in run.result.stderr
    assert repo.requests_log == []


def test_read_only_token(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    run = publish(run_cli, repo, tmp_path, publish_dist("v1.0.0"), "v1.0.0", token=READ_TOKEN)
    assert run.code != 0
    assert "contents: write" in run.result.stderr
    assert writes(repo) == []
    assert repo.releases(OWNER, REPO) == []


def test_bad_token(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    run = publish(run_cli, repo, tmp_path, publish_dist("v1.0.0"), "v1.0.0",
                  token="ghs_Unknown0123456789abcdefghij", GITHUB_ACTIONS="true")
    assert run.code != 0
    assert "401" in run.result.stderr and "Bad credentials" in run.result.stderr
    assert "::error" in run.result.stdout  # an annotation on Actions, still without the token
    assert "ghs_Unknown0123456789abcdefghij" not in run.text


def test_tag_not_semver(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "1.0.0")
    assert run.code != 0
    assert "'v' + semver" in run.result.stderr
    assert writes(repo) == []


def test_dist_built_for_another_version(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                        tmp_path: Path) -> None:
    run = publish(run_cli, repo, tmp_path, publish_dist("v1.0.0"), "v1.0.1")
    assert run.code != 0
    assert "built for v1.0.0" in run.result.stderr
    assert repo.requests_log == [] or writes(repo) == []


def test_dist_failing_verification(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                   tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    checksums = dist / "checksums.txt"
    checksums.write_text(checksums.read_text().replace("linux-amd64", "linux-amd65"))
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code != 0
    assert "not installable" in run.result.stderr and "nothing was published" in run.result.stderr
    assert writes(repo) == []


def test_tag_rules_block_publishing_name_the_draft(run_cli: RunCli, repo: FakeGitHub, publish_dist: PublishDist,
                                                   tmp_path: Path) -> None:
    repo.set_repo_options(OWNER, REPO, tag_protection=True)
    run = publish(run_cli, repo, tmp_path, publish_dist("v1.0.0"), "v1.0.0")
    assert run.code != 0
    (draft,) = releases_for(repo, "v1.0.0")
    assert draft.draft  # type: ignore[attr-defined]
    err = run.result.stderr
    assert "tag rule" in err and "nothing was published" in err
    assert f"draft release {draft.id}" in err  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# GHES, concurrency
# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def ghes(**options: Any) -> Iterator[FakeGitHub]:
    """A GitHub Enterprise Server: API under /api/v3, uploads under /api/uploads, our repo and token."""
    with FakeGitHub(path_prefix="/api/v3", upload_prefix="/api/uploads", **options) as fake:
        fake.add_repo(OWNER, REPO)
        fake.add_token(TOKEN, "write")
        yield fake


def test_ghes_path_prefix(run_cli: RunCli, publish_dist: PublishDist, tmp_path: Path) -> None:
    with ghes() as fake:
        dist = publish_dist("v1.0.0")
        run = publish(run_cli, fake, tmp_path, dist, "v1.0.0")
        assert run.code == 0, run.text
        assert_complete(fake, dist, "v1.0.0")
        assert all(e.path.startswith("/api/v3/") for e in fake.requests_log if e.kind == "api")
        uploads = fake.requests("POST", "upload")
        assert uploads and all(e.path.startswith("/api/uploads/") for e in uploads)
        assert not [e for e in fake.requests_log if e.route == "unknown"]


def test_server_without_asset_digests(run_cli: RunCli, publish_dist: PublishDist, tmp_path: Path) -> None:
    """An older GHES (no asset ``digest``): every upload is verified by downloading and hashing it through
    the API (the redirect to the storage host drops the token), the live check reads the stored
    checksums.txt, and a re-run hashes the downloads to find them identical instead of uploading again."""
    with ghes(asset_digests=False) as fake:
        dist = publish_dist("v1.0.0")
        run = publish(run_cli, fake, tmp_path, dist, "v1.0.0")
        assert run.code == 0, run.text
        assert_complete(fake, dist, "v1.0.0")
        live = requests.get(f"{fake.api_url}/repos/{OWNER}/{REPO}/releases/tags/v1.0.0",
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
        assert live["assets"] and all("digest" not in a for a in live["assets"])
        local_names = {p.name for p in dist.iterdir() if p.name != "metadata.json"}
        objects = fake.requests("GET", "object")
        assert {o.path.rsplit("/", 1)[-1] for o in objects} == local_names
        assert all("authorization" not in e.headers for e in objects)

        fake.clear_log()
        again = publish(run_cli, fake, tmp_path, dist, "v1.0.0")
        assert again.code == 0, again.text
        assert "nothing to do" in again.text
        assert not fake.requests("POST", "upload")
        downloaded = {o.path.rsplit("/", 1)[-1] for o in fake.requests("GET", "object")}
        assert downloaded == local_names


@pytest.mark.parametrize("uploads", ["fast", "slow"])
def test_duplicate_fresh_draft_moves_to_the_older_one(uploads: str, run_cli: RunCli, repo: FakeGitHub,
                                                      publish_dist: PublishDist, tmp_path: Path) -> None:
    """Another job's draft for the tag appears just before ours. The check for an older draft runs beside our
    first uploads; ours loses, so uploads not yet started are skipped, our draft is deleted by us (its maker)
    once the uploads in flight have ended, and the run finishes on the older draft: one release, no leftovers."""
    repo.faults.race_create(draft=True)
    if uploads == "slow":  # the check answers after 0.3 s, while the first wave (the pool's 4) takes 0.8 s
        repo.faults.timeout_next(("GET", "releases"), seconds=0.3, times=2)  # the lookup, then the check
        repo.faults.timeout_next(("POST", "upload"), seconds=0.8, times=4)
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, repo, tmp_path, dist, "v1.0.0")
    assert run.code == 0, run.text
    assert_complete(repo, dist, "v1.0.0")
    (release,) = repo.releases(OWNER, REPO)
    created = [e for e in repo.requests("POST", "releases") if e.status == 201]
    assert len(created) == 1
    assert "is older than ours" in run.text
    ours = [e for e in repo.requests("DELETE") if e.route == "release"]
    assert len(ours) == 1 and ours[0].status == 204
    our_id = ours[0].path.rstrip("/").rsplit("/", 1)[-1]
    assert our_id != str(release.id)  # type: ignore[attr-defined]
    uploads_into_ours = [e for e in repo.requests("POST", "upload") if f"/releases/{our_id}/assets" in e.path]
    if uploads == "slow":
        assert len(uploads_into_ours) == 4, "only the uploads already in flight went into the dropped draft"
        assert "uploads not started yet are skipped" in run.text
    # Every upload into our draft had ended before we deleted it: none races the delete.
    assert all(e.started_at + e.duration <= ours[0].started_at for e in uploads_into_ours)


@pytest.mark.parametrize("faults", ["none", "eventual consistency", "failing uploads"])
def test_concurrent_publishes_make_one_release(faults: str, repo: FakeGitHub, publish_dist: PublishDist,
                                               tmp_path: Path) -> None:
    """Three jobs publish one tag at once (the matrix anti-pattern): exactly one complete release, all green."""
    repo.faults.latency_ms = 15
    if faults == "eventual consistency":  # nobody sees the others' drafts at first: three drafts, one wins
        repo.faults.eventual_consistency(reads=3, times=3)
    elif faults == "failing uploads":
        repo.faults.upload_502_leaves_starter(times=3)
        repo.faults.drop_connection(("POST", "upload"), times=2, after_bytes=64)
    dist = publish_dist("v1.0.0")
    procs = []
    for n in range(3):
        (tmp_path / f"job{n}").mkdir()
        env = publish_env(repo, tmp_path / f"job{n}")
        procs.append(subprocess.Popen([*CLI, "publish", "--dist", str(dist), "--version", "v1.0.0", "--no-gate"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      stdin=subprocess.DEVNULL))
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    for n, result in enumerate(results):
        collect(result, tmp_path / f"job{n}")
        assert "Traceback" not in result.stderr
        assert result.returncode == 0, result.stderr
    assert_complete(repo, dist, "v1.0.0")
    assert len(repo.releases(OWNER, REPO)) == 1, "duplicate drafts must not be left behind"
    latest = repo.latest_release(OWNER, REPO)
    assert latest is not None and latest.tag_name == "v1.0.0"


# --------------------------------------------------------------------------------------------------
# split mode
# --------------------------------------------------------------------------------------------------


def test_split_mode_merges_dists_of_several_build_jobs(run_cli: RunCli, repo: FakeGitHub,
                                                       publish_dist: PublishDist, tmp_path: Path) -> None:
    linux = [t for t in DEFAULT_TARGETS if t.goos == "linux"]
    others = [t for t in DEFAULT_TARGETS if t.goos != "linux"]
    part_a = publish_dist("v1.0.0", targets=linux, name="gpa-dist-linux")
    part_b = publish_dist("v1.0.0", targets=others, name="gpa-dist-darwin-windows")
    merged = tmp_path / "merged"
    result = run_cli("publish", "--dist", part_a, "--dist", part_b, "--version", "v1.0.0", "--no-gate",
                     "--merge-dir", merged, env=publish_env(repo, tmp_path), timeout=300)
    run = collect(result, tmp_path)
    assert run.code == 0, run.text
    assert_complete(repo, merged, "v1.0.0")
    (release,) = releases_for(repo, "v1.0.0")
    assert len(release.assets) == 7  # type: ignore[attr-defined]
    checksums = (merged / "checksums.txt").read_text().splitlines()
    assert len(checksums) == 6


def test_split_mode_refuses_parts_of_different_versions(run_cli: RunCli, repo: FakeGitHub,
                                                        publish_dist: PublishDist, tmp_path: Path) -> None:
    part_a = publish_dist("v1.0.0", name="a")
    part_b = publish_dist("v1.0.1", name="b")
    result = run_cli("publish", "--dist", part_a, "--dist", part_b, "--no-gate", env=publish_env(repo, tmp_path))
    run = collect(result, tmp_path)
    assert run.code != 0
    assert "disagree on the version" in run.result.stderr
    assert writes(repo) == []


def test_merge_restores_exec_bits_of_staged_binaries(tmp_path: Path) -> None:
    """upload-artifact drops file modes: binaries staged by `build` come back 0644."""
    parts = []
    for goos in ("linux", "darwin"):
        part = tmp_path / goos
        binary = part / ".build" / f"{goos}-amd64" / REPO
        binary.parent.mkdir(parents=True)
        binary.write_bytes(b"\x7fELF")
        binary.chmod(0o644)
        (part / "metadata.json").write_text(json.dumps({
            "plugin": REPO, "version": "v1.0.0", "targets": [f"{goos}/amd64"],
            "binaries": [{"target": f"{goos}/amd64", "path": f".build/{goos}-amd64/{REPO}"}], "archives": []}))
        parts.append(part)
    out = merge_dists(parts, tmp_path / "merged")
    for goos in ("linux", "darwin"):
        assert (out / ".build" / f"{goos}-amd64" / REPO).stat().st_mode & 0o777 == 0o755
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["targets"] == ["darwin/amd64", "linux/amd64"]
    assert len(meta["binaries"]) == 2
