"""Black-box scenarios for ``publish`` against an *independent* fake GitHub (``tests/fakes/indie_github``), written
from GitHub's documentation without reading the project's own fake or the publish client.

Every scenario runs the real CLI as a subprocess and asserts on the fake's final state (releases, draft /
prerelease / latest flags, assets with their state and sha256) and on its request log, not on the CLI's wording,
except where a clear message is required (then loosely). Every run also checks that neither token appears in
stdout, stderr, GITHUB_OUTPUT or the step summary, and that the fake saw no token in a URL nor sent to the
object store.

Scenarios: clean publish; re-run of a finished release (no write request at all); repository with immutable
releases; GHES; ``--draft`` then publish; a leftover draft on page 2 with starter and stale assets; a published
mutable release repaired; prerelease / newer final / back-port / ``--make-latest false``; the mixed fault mix
(six seeds) and each fault kind alone; answers lost after the change was made (create, publish, upload,
delete); two concurrent jobs; an immutable release holding the tag (refused; or identical: nothing to do); no
token, a read-only token, a tag that is not semver, a dist failing verification; a primary rate limit longer
than GPA_GITHUB_MAX_WAIT; over-long generated notes; an old server without digests; a new release not yet
visible to reads (GitHub's read-after-create lag), alone and with two concurrent jobs. The last two found a real
client bug (a 404 for the draft just created was taken for a deletion, so a job made 2-3 drafts).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import CLI, RunCli, clean_env, parse_output_file
from tests.fakes.indie_github import FaultMix, IndieGitHub, LogEntry, ReleaseView
from tests.fixtures.github import OWNER, READ_TOKEN, REPO, REPOSITORY, TOKEN, PublishDist

# Client knobs: short waits so that a faulty run takes seconds.
FAST = {
    "GPA_GITHUB_BACKOFF": "0.05",
    "GPA_GITHUB_BACKOFF_MAX": "0.4",
    "GPA_GITHUB_RETRIES": "6",
    "GPA_GITHUB_MAX_WAIT": "5",
    "GPA_GITHUB_SECONDARY_WAIT": "0.2",
    "GPA_GITHUB_TIMEOUT": "5",
    "GPA_GITHUB_UPLOAD_TIMEOUT": "10",
    "GPA_GITHUB_STARTER_GRACE": "0.5",
}
TAGS = ("v0.9.0", "v1.0.0", "v1.0.1", "v1.1.0", "v1.1.0-rc.1", "v1.2.0", "v1.2.3")


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    output: str
    summary: str
    log: list[LogEntry]  # the requests of this run only

    @property
    def text(self) -> str:
        return self.result.stdout + self.result.stderr

    def writes(self, *, ok_only: bool = False) -> list[LogEntry]:
        return [e for e in self.log if e.is_write and (e.ok or not ok_only)]

    def explain(self) -> str:
        return f"exit {self.result.returncode}\n{self.text[-4000:]}\n--- requests ---\n" + \
            "\n".join(map(str, self.log[-150:]))


def expected_assets(dist: Path) -> dict[str, str]:
    """What a release of ``dist`` must hold: every archive and checksums.txt, by sha256 (not metadata.json)."""
    files = [*dist.glob("*.tar.gz"), *dist.glob("*.zip"), dist / "checksums.txt"]
    assert len(files) >= 3, sorted(p.name for p in dist.iterdir())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


class Harness:
    """Starts fakes, runs the CLI against them, checks the secrets."""

    def __init__(self, tmp_path: Path, run_cli: RunCli) -> None:
        self.tmp_path = tmp_path
        self.run_cli = run_cli
        self.fakes: list[IndieGitHub] = []
        self.runs = itertools.count(1)

    def fake(self, faults: FaultMix | None = None, *, flavour: str = "github", immutable_releases: bool = False,
             notes_padding: int = 0, old_fields: bool = False) -> IndieGitHub:
        gh = IndieGitHub(faults=faults, flavour=flavour, notes_padding=notes_padding, old_fields=old_fields).start()
        self.fakes.append(gh)
        # The workflow runs on a tag push: the tags exist before publish.
        gh.add_repo(OWNER, REPO, immutable_releases=immutable_releases, tags=TAGS)
        gh.add_token(TOKEN, "write")
        gh.add_token(READ_TOKEN, "read")
        return gh

    def env(self, gh: IndieGitHub, token: str | None = TOKEN, name: str = "") -> tuple[dict[str, str], Path, Path]:
        number = next(self.runs)
        out = self.tmp_path / f"output-{number}{name}"
        summary = self.tmp_path / f"summary-{number}{name}"
        extra = {"GITHUB_API_URL": gh.api_url, "GITHUB_SERVER_URL": gh.server_url, "GITHUB_REPOSITORY": REPOSITORY,
                 "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary), **FAST}
        if token is not None:
            extra["GITHUB_TOKEN"] = token
        return clean_env(**extra), out, summary

    def publish(self, gh: IndieGitHub, dist: Path, tag: str, *args: str, token: str | None = TOKEN) -> Run:
        env, out, summary = self.env(gh, token, name=f"-{dist.name}")
        mark = len(gh.log)
        # --no-gate: the fake binaries cannot start (the gate has its own tests with real builds).
        result = self.run_cli("publish", "--dist", dist, "--version", tag, "--no-gate", *args, env=env, timeout=120)
        run = Run(result, _read(out), _read(summary), gh.log[mark:])
        self.check_secrets(gh, run)
        return run

    def check_secrets(self, gh: IndieGitHub, run: Run) -> None:
        for secret in (TOKEN, READ_TOKEN):
            for where, text in (("stdout", run.result.stdout), ("stderr", run.result.stderr),
                                ("GITHUB_OUTPUT", run.output), ("step summary", run.summary)):
                assert secret not in text, f"a token leaked into {where}"
        assert gh.violations == [], gh.violations

    def stop(self) -> None:
        for gh in self.fakes:
            gh.stop()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.fixture
def harness(tmp_path: Path, run_cli: RunCli) -> Iterator[Harness]:
    h = Harness(tmp_path, run_cli)
    try:
        yield h
    finally:
        h.stop()


def the_release(gh: IndieGitHub, tag: str) -> ReleaseView:
    releases = gh.releases(OWNER, REPO, tag)
    assert len(releases) == 1, f"expected one release for {tag}, got {releases}"
    return releases[0]


def assert_complete(gh: IndieGitHub, tag: str, dist: Path, run: Run, *, draft: bool = False) -> ReleaseView:
    """One release for the tag (no leftover drafts), in the wanted state, holding exactly the dist's files."""
    release = the_release(gh, tag)
    assert release.draft is draft, run.explain()
    assert {a.name: a.sha256 for a in release.assets} == expected_assets(dist), run.explain()
    assert all(a.state == "uploaded" for a in release.assets), run.explain()
    return release


def request_body(run: Run, method: str, suffix: str) -> dict[str, Any]:
    """The JSON body of the last successful ``method`` request whose path ends with ``suffix`` (a regex)."""
    found = [e for e in run.log if e.method == method and e.ok and re.search(suffix + "$", e.path)]
    assert found, f"no {method} …{suffix}\n{run.explain()}"
    body = json.loads(found[-1].body or "{}")
    assert isinstance(body, dict)
    return body


def assert_no_writes(run: Run) -> None:
    assert run.writes() == [], run.explain()
    assert not [e for e in run.log if e.role == "uploads"], run.explain()


# --- the happy paths ----------------------------------------------------------------------------------------


def test_clean_publish(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    release = assert_complete(gh, "v1.2.3", dist, run)
    assert release.latest and not release.prerelease
    assert gh.latest_tag(OWNER, REPO) == "v1.2.3"
    assert "v1.2.3" in parse_output_file(run.output).get("version", ""), run.output
    assert gh.advisories == set(), gh.advisories  # Accept: application/vnd.github+json and an API version sent
    # The flow: draft first, uploads on the upload host, publish last.
    writes = [e for e in run.writes(ok_only=True) if not e.path.endswith("/generate-notes")]
    assert writes[0].method == "POST" and writes[0].path.endswith("/releases"), run.explain()
    assert writes[-1].method == "PATCH", run.explain()
    assert sum(1 for e in writes if e.role == "uploads") == len(expected_assets(dist))


def test_rerun_of_a_finished_release_changes_nothing(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    first = harness.publish(gh, dist, "v1.2.3")
    assert first.result.returncode == 0, first.explain()
    before = gh.releases(OWNER, REPO)
    again = harness.publish(gh, dist, "v1.2.3")
    assert again.result.returncode == 0, again.explain()
    assert_no_writes(again)
    assert gh.releases(OWNER, REPO) == before


def test_repository_with_immutable_releases(harness: Harness, publish_dist: PublishDist) -> None:
    """The setting makes a release immutable when it is published: only draft → upload → publish works."""
    gh = harness.fake(immutable_releases=True)
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    assert assert_complete(gh, "v1.2.3", dist, run).immutable
    again = harness.publish(gh, dist, "v1.2.3")
    assert again.result.returncode == 0, again.explain()
    assert_no_writes(again)


def test_ghes_flavour(harness: Harness, publish_dist: PublishDist) -> None:
    """GHES: API under /api/v3, uploads under /api/uploads, one host, rate limits off (no headers)."""
    gh = harness.fake(flavour="ghes")
    assert gh.api_url.endswith("/api/v3")
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    assert assert_complete(gh, "v1.2.3", dist, run).latest
    assert any(e.role == "uploads" for e in run.log)
    again = harness.publish(gh, dist, "v1.2.3")
    assert again.result.returncode == 0, again.explain()
    assert_no_writes(again)


def test_draft_flag_leaves_a_complete_draft_then_a_rerun_publishes_it(harness: Harness,
                                                                      publish_dist: PublishDist) -> None:
    gh = harness.fake()
    gh.seed_release(OWNER, REPO, "v1.1.0", latest=True)
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3", "--draft")
    assert run.result.returncode == 0, run.explain()
    assert_complete(gh, "v1.2.3", dist, run, draft=True)
    assert gh.latest_tag(OWNER, REPO) == "v1.1.0"
    final = harness.publish(gh, dist, "v1.2.3")
    assert final.result.returncode == 0, final.explain()
    assert assert_complete(gh, "v1.2.3", dist, final).latest
    assert not [e for e in final.log if e.role == "uploads"], final.explain()  # the draft's assets were reused


def test_leftover_draft_on_page_two_with_starter_and_stale_assets_is_adopted(harness: Harness,
                                                                              publish_dist: PublishDist) -> None:
    """An earlier failed run left a draft (older than 120 other releases, so it is on page 2 of the list),
    with one good asset, one stale asset (other bytes) and one ``starter`` leftover. get-by-tag cannot see it."""
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    names = sorted(expected_assets(dist))
    good = names[0]
    draft_id = gh.seed_release(OWNER, REPO, "v1.2.3", draft=True, age=7200,
                               assets={good: (dist / good).read_bytes(), names[1]: b"stale bytes"},
                               starter_assets=(names[2],))
    for i in range(120):
        gh.seed_release(OWNER, REPO, f"v0.{i}.0", latest=(i == 119), age=3600 - i)
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    release = assert_complete(gh, "v1.2.3", dist, run)
    assert release.id == draft_id, "the leftover draft should be adopted, not duplicated or replaced"
    uploaded = {e.query for e in run.writes(ok_only=True) if e.role == "uploads"}
    assert not any(good in q for q in uploaded), f"{good} had the right digest: no need to upload it again"
    assert any(e.path.endswith("/releases") and "page=2" in e.query for e in run.log), run.explain()


def test_published_mutable_release_missing_an_asset_is_repaired(harness: Harness,
                                                                publish_dist: PublishDist) -> None:
    """A release already published (not immutable) by an earlier, broken run: one asset stale, one missing.
    Observed behaviour: repaired in place, with a warning (the issue does not say; recorded here)."""
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    names = sorted(expected_assets(dist))
    release_id = gh.seed_release(OWNER, REPO, "v1.2.3", latest=True,
                                 assets={n: (b"stale" if i == 0 else (dist / n).read_bytes())
                                         for i, n in enumerate(names[:-1])})
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    assert assert_complete(gh, "v1.2.3", dist, run).id == release_id
    assert "warning" in run.text.lower(), run.explain()


# --- latest / prerelease policy ---------------------------------------------------------------------------


def test_prerelease_is_never_latest(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    gh.seed_release(OWNER, REPO, "v1.0.0", latest=True)
    dist = publish_dist("v1.1.0-rc.1")
    run = harness.publish(gh, dist, "v1.1.0-rc.1")
    assert run.result.returncode == 0, run.explain()
    release = assert_complete(gh, "v1.1.0-rc.1", dist, run)
    assert release.prerelease and not release.latest
    assert gh.latest_tag(OWNER, REPO) == "v1.0.0"
    assert request_body(run, "PATCH", r"/releases/\d+")["make_latest"] == "false"


def test_a_newer_final_becomes_latest(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    gh.seed_release(OWNER, REPO, "v1.0.0", latest=True)
    dist = publish_dist("v1.1.0")
    run = harness.publish(gh, dist, "v1.1.0")
    assert run.result.returncode == 0, run.explain()
    assert assert_complete(gh, "v1.1.0", dist, run).latest
    assert gh.latest_tag(OWNER, REPO) == "v1.1.0"
    assert request_body(run, "PATCH", r"/releases/\d+")["make_latest"] == "true"
    # Release notes against the previous tag.
    assert request_body(run, "POST", "/releases/generate-notes").get("previous_tag_name") == "v1.0.0"


def test_a_backport_does_not_become_latest(harness: Harness, publish_dist: PublishDist) -> None:
    """v1.0.1 published after v1.1.0: the newest by date, so GitHub's default would make it latest."""
    gh = harness.fake()
    gh.seed_release(OWNER, REPO, "v1.0.0", latest=False, age=7200)
    gh.seed_release(OWNER, REPO, "v1.1.0", latest=True, age=3600)
    dist = publish_dist("v1.0.1")
    run = harness.publish(gh, dist, "v1.0.1")
    assert run.result.returncode == 0, run.explain()
    release = assert_complete(gh, "v1.0.1", dist, run)
    assert not release.latest and not release.prerelease
    assert gh.latest_tag(OWNER, REPO) == "v1.1.0"
    assert request_body(run, "PATCH", r"/releases/\d+")["make_latest"] == "false"
    assert request_body(run, "POST", "/releases/generate-notes").get("previous_tag_name") == "v1.0.0"


def test_make_latest_false_is_obeyed(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    gh.seed_release(OWNER, REPO, "v1.0.0", latest=True)
    dist = publish_dist("v1.1.0")
    run = harness.publish(gh, dist, "v1.1.0", "--make-latest", "false")
    assert run.result.returncode == 0, run.explain()
    assert not assert_complete(gh, "v1.1.0", dist, run).latest
    assert gh.latest_tag(OWNER, REPO) == "v1.0.0"


# --- faults -------------------------------------------------------------------------------------------------


def assert_survived(harness: Harness, gh: IndieGitHub, dist: Path, tag: str, run: Run) -> None:
    assert run.result.returncode == 0, f"{gh.faults.describe()}\n{run.explain()}"
    release = assert_complete(gh, tag, dist, run)
    assert release.latest, run.explain()
    assert not [a for a in release.assets if a.state == "starter"]
    # And a re-run, under the same fault mix, changes nothing.
    again = harness.publish(gh, dist, tag)
    assert again.result.returncode == 0, f"{gh.faults.describe()}\n{again.explain()}"
    assert_no_writes(again)


MIXED_SEEDS = (11, 23, 37, 41, 53, 67)


def test_mixed_fault_mix_several_seeds(harness: Harness, publish_dist: PublishDist) -> None:
    """Every fault kind at once (~30 % of requests get a blocking fault; half of the new assets and publications
    lag, and so does a newly created release), one fake per seed, the seeds run side by side to keep the module
    fast."""

    setups = {seed: (harness.fake(FaultMix.mixed(seed=seed, rate=0.3)),
                     publish_dist("v1.2.3", name=f"dist-{seed}")) for seed in MIXED_SEEDS}

    def one(seed: int) -> str:
        gh, dist = setups[seed]
        try:
            run = harness.publish(gh, dist, "v1.2.3")
            assert gh.faults_fired(), "the mix should have fired at least once"
            assert_survived(harness, gh, dist, "v1.2.3", run)
        except AssertionError as failure:
            return f"=== seed {seed}: {failure}"
        return ""

    with ThreadPoolExecutor(len(MIXED_SEEDS)) as pool:
        failures = [f for f in pool.map(one, MIXED_SEEDS) if f]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", ["server_error", "secondary_403", "secondary_429", "secondary_bare", "primary",
                                  "upload_starter_502", "upload_drop", "upload_drop_open", "lost_response", "asset_lag",
                                  "publish_lag", "latency"])
def test_each_fault_kind_alone(harness: Harness, publish_dist: PublishDist, kind: str) -> None:
    mix = FaultMix.only(kind, seed=5, rate=0.35)
    if kind in ("primary", "secondary_403", "secondary_429", "secondary_bare"):
        mix.max_faults = 3  # each one costs a wait of up to a second
    gh = harness.fake(mix)
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    if not kind.endswith(("_lag", "latency")):
        assert any(e.fault == kind for e in run.log), f"{kind} never fired: {gh.faults.describe()}"
    assert_survived(harness, gh, dist, "v1.2.3", run)


def creates(log: list[LogEntry]) -> list[LogEntry]:
    return [e for e in log if e.method == "POST" and e.role == "api" and e.path.endswith("/releases") and e.ok]


def test_new_release_not_yet_visible_to_reads(harness: Harness, publish_dist: PublishDist) -> None:
    """Eventual consistency after POST /releases: for 1 s the new draft is missing from the list, and GET by id
    and its asset list answer 404 (writes, uploads included, work at once). The issue: "tolerate eventual
    consistency". One job alone must create one draft, and finish."""
    gh = harness.fake(FaultMix(seed=5, release_lag=1.0, lag_seconds=1.0))
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert len(creates(run.log)) == 1, run.explain()
    assert_survived(harness, gh, dist, "v1.2.3", run)


def run_concurrently(harness: Harness, gh: IndieGitHub, dists: list[Path], tag: str) -> list[Run]:
    """Start one CLI process per dist at the same moment; wait for all."""
    started = []
    for i, dist in enumerate(dists):
        env, out, summary = harness.env(gh, name=f"-p{i}")
        proc = subprocess.Popen([*CLI, "publish", "--dist", str(dist), "--version", tag, "--no-gate"], env=env,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        started.append((proc, out, summary))
    runs = []
    for proc, out, summary in started:
        stdout, stderr = proc.communicate(timeout=120)
        assert "Traceback (most recent call last)" not in stderr, stderr
        run = Run(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), _read(out), _read(summary),
                  gh.log)
        harness.check_secrets(gh, run)
        runs.append(run)
    return runs


def assert_one_winner(gh: IndieGitHub, runs: list[Run], dist: Path, tag: str) -> None:
    """Exactly one complete published release, no leftover draft; every process exits 0 or fails cleanly."""
    story = "\n".join(f"--- process {i}: exit {r.result.returncode}\n{r.text[-2500:]}" for i, r in enumerate(runs))
    story += "\n--- requests ---\n" + gh.log_text(250)
    assert any(r.result.returncode == 0 for r in runs), story
    for r in runs:
        if r.result.returncode != 0:
            assert tag in r.text, story  # a clean failure names what it was doing
    releases = gh.releases(OWNER, REPO, tag)
    assert len(releases) == 1, f"{[(r.id, r.draft, len(r.assets)) for r in releases]}\n{story}"
    assert not releases[0].draft and releases[0].latest, story
    assert {a.name: a.sha256 for a in releases[0].assets} == expected_assets(dist), story


def test_two_concurrent_publishes_of_one_tag(harness: Harness, publish_dist: PublishDist) -> None:
    """Two jobs publish the same tag at once. GitHub allows several drafts for one tag; only one can be
    published. Observed: both exit 0."""
    gh = harness.fake()
    dists = [publish_dist("v1.2.3", name="dist-a"), publish_dist("v1.2.3", name="dist-b")]
    runs = run_concurrently(harness, gh, dists, "v1.2.3")
    assert_one_winner(gh, runs, dists[0], "v1.2.3")
    assert all(r.result.returncode == 0 for r in runs), [r.text[-2000:] for r in runs]


def test_two_concurrent_publishes_with_lagging_assets_and_publication(harness: Harness,
                                                                      publish_dist: PublishDist) -> None:
    gh = harness.fake(FaultMix(seed=9, asset_lag=1.0, publish_lag=1.0, lag_seconds=0.4))
    dists = [publish_dist("v1.2.3", name="dist-a"), publish_dist("v1.2.3", name="dist-b")]
    runs = run_concurrently(harness, gh, dists, "v1.2.3")
    assert_one_winner(gh, runs, dists[0], "v1.2.3")


def test_two_concurrent_publishes_with_lagging_new_releases(harness: Harness, publish_dist: PublishDist) -> None:
    """As above with two jobs: at most one draft per job, one winner, no leftover draft."""
    gh = harness.fake(FaultMix(seed=9, release_lag=1.0, lag_seconds=1.0))
    dists = [publish_dist("v1.2.3", name="dist-a"), publish_dist("v1.2.3", name="dist-b")]
    runs = run_concurrently(harness, gh, dists, "v1.2.3")
    assert len(creates(gh.log)) <= 2, gh.log_text()
    assert_one_winner(gh, runs, dists[0], "v1.2.3")


# --- clear failures ---------------------------------------------------------------------------------------


def test_immutable_release_holding_the_tag_is_refused(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    names = sorted(expected_assets(dist))
    # Published earlier from another build: one asset with other bytes, one missing.
    gh.seed_release(OWNER, REPO, "v1.2.3", immutable=True, latest=True,
                    assets={n: (b"other build" if i == 0 else (dist / n).read_bytes())
                            for i, n in enumerate(names[:-1])})
    before = gh.releases(OWNER, REPO)
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode != 0, run.explain()
    assert "immutable" in run.text.lower() and "v1.2.3" in run.text, run.explain()
    assert run.writes(ok_only=True) == [], run.explain()
    assert gh.releases(OWNER, REPO) == before


def test_immutable_release_already_identical_is_nothing_to_do(harness: Harness, publish_dist: PublishDist) -> None:
    """Re-running a finished release exits 0 even when the release is immutable."""
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    gh.seed_release(OWNER, REPO, "v1.2.3", immutable=True, latest=True,
                    assets={n: (dist / n).read_bytes() for n in expected_assets(dist)})
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    assert_no_writes(run)


def test_no_token(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    run = harness.publish(gh, publish_dist("v1.2.3"), "v1.2.3", token=None)
    assert run.result.returncode != 0, run.explain()
    assert "token" in run.text.lower(), run.explain()
    assert gh.releases(OWNER, REPO) == []
    assert run.writes(ok_only=True) == []


def test_read_only_token(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    run = harness.publish(gh, publish_dist("v1.2.3"), "v1.2.3", token=READ_TOKEN)
    assert run.result.returncode != 0, run.explain()
    text = run.text.lower()
    assert "token" in text or "permission" in text or "write" in text, run.explain()
    assert gh.releases(OWNER, REPO) == []
    assert run.writes(ok_only=True) == []


def test_not_semver_tag_is_refused_before_any_request(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    run = harness.publish(gh, publish_dist("v1.2.3"), "1.2.3")
    assert run.result.returncode != 0, run.explain()
    assert "1.2.3" in run.text, run.explain()
    assert run.writes() == [] and gh.releases(OWNER, REPO) == []


def test_the_fake_itself_follows_the_documented_rules() -> None:
    """A self-check of the independent fake (plain requests, no CLI), so that a scenario failure can be trusted
    to be the client's."""
    with IndieGitHub() as gh:
        gh.add_repo(OWNER, REPO, tags=("v1.0.0",))
        gh.add_token(TOKEN, "write")
        gh.add_token(READ_TOKEN, "read")
        api = f"{gh.api_url}/repos/{REPOSITORY}"
        auth = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
        with requests.Session() as http:
            assert "permissions" not in http.get(api, timeout=5).json()  # anonymous
            assert http.get(api, headers=auth, timeout=5).json()["permissions"]["push"] is True
            draft = http.post(f"{api}/releases", json={"tag_name": "v1.0.0", "draft": True}, headers=auth, timeout=5)
            assert draft.status_code == 201
            assert http.post(f"{api}/releases", json={"tag_name": "v1.0.0", "draft": True}, headers=auth,
                             timeout=5).status_code == 201  # several drafts for one tag: allowed
            assert http.get(f"{api}/releases/tags/v1.0.0", headers=auth, timeout=5).status_code == 404
            assert len(http.get(f"{api}/releases", headers=auth, timeout=5).json()) == 2
            assert http.get(f"{api}/releases", timeout=5).json() == []  # drafts need push access
            upload = draft.json()["upload_url"].split("{")[0]
            first = http.post(upload, params={"name": "a.txt"}, data=b"abc",
                              headers={**auth, "Content-Type": "text/plain"}, timeout=5)
            assert first.status_code == 201
            assert first.json()["digest"] == "sha256:" + hashlib.sha256(b"abc").hexdigest()
            again = http.post(upload, params={"name": "a.txt"}, data=b"abc",
                              headers={**auth, "Content-Type": "text/plain"}, timeout=5)
            assert again.status_code == 422 and again.json()["errors"][0]["code"] == "already_exists"
            url = draft.json()["url"]
            boolean = http.patch(url, json={"draft": False, "make_latest": True}, headers=auth, timeout=5)
            assert boolean.status_code == 422 and "is not a string" in boolean.json()["message"]
            read_only = {**auth, "Authorization": f"token {READ_TOKEN}"}
            assert http.patch(url, json={"draft": False}, headers=read_only, timeout=5).status_code == 403
            assert http.patch(url, json={"draft": False, "make_latest": "true"}, headers=auth,
                              timeout=5).status_code == 200
            other = http.get(f"{api}/releases", headers=auth, timeout=5).json()
            second = next(r for r in other if r["draft"])
            published = http.patch(second["url"], json={"draft": False}, headers=auth, timeout=5)
            assert published.status_code == 422  # the tag already has a published release
            assert http.get(f"{api}/releases/latest", timeout=5).json()["tag_name"] == "v1.0.0"
            asset = http.get(f"{api}/releases/tags/v1.0.0", timeout=5).json()["assets"][0]
            download = http.get(asset["url"], headers={**auth, "Accept": "application/octet-stream"}, timeout=5)
            assert download.content == b"abc" and download.history[0].status_code == 302
            assert "Authorization" not in download.request.headers  # dropped on the cross-host redirect
    assert gh.violations == []


def test_generated_notes_longer_than_a_release_body_may_be(harness: Harness, publish_dist: PublishDist) -> None:
    """generate-notes can return more than the 125 000 characters a release body holds (a long history:
    confluentinc/vscode#2801); the create / update is then a 422. Expected: the notes are cut, the release is
    published (as action-gh-release does: it truncates generated notes)."""
    gh = harness.fake(notes_padding=130_000)
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    release = assert_complete(gh, "v1.2.3", dist, run)
    assert release.body is not None and 1000 < len(release.body) <= 125_000


@pytest.mark.parametrize("flavour", ["ghes", "github"])
def test_without_digests_verifies_by_download(harness: Harness, publish_dist: PublishDist, flavour: str) -> None:
    """An older server (GHES before asset digests): assets carry no ``digest`` and releases no ``immutable``.
    The client must still verify what it uploaded (here: by downloading through the API asset URL, 302 to the
    object store, without sending the token to another host) and re-runs must still change nothing."""
    gh = harness.fake(flavour=flavour, old_fields=True)
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode == 0, run.explain()
    assert assert_complete(gh, "v1.2.3", dist, run).latest
    downloaded = {e.path for e in run.log if e.role == "objects" and e.ok}
    assert len(downloaded) >= len(expected_assets(dist)), run.explain()
    again = harness.publish(gh, dist, "v1.2.3")
    assert again.result.returncode == 0, again.explain()
    assert_no_writes(again)


@pytest.mark.parametrize("where", [r"^api POST \S+/releases ", r"^api PATCH \S+/releases/<",
                                   r"^(uploads POST|api DELETE)"])
def test_answers_lost_after_the_change_was_made(harness: Harness, publish_dist: PublishDist, where: str) -> None:
    """The create, the publishing PATCH, or the uploads and the DELETEs of their ``starter`` leftovers are done
    by the server but the answer never arrives (twice in a row at most). Non-idempotent calls must be
    reconciled, not blindly repeated; a DELETE answered 404 on retry is a success."""
    mix = FaultMix(seed=2, lost_response=1.0, matching=where)
    if "uploads" in where:
        mix.upload_starter_502 = 0.5
    gh = harness.fake(mix)
    dist = publish_dist("v1.2.3")
    run = harness.publish(gh, dist, "v1.2.3")
    assert any(e.fault == "lost_response" for e in run.log), run.explain()
    assert_survived(harness, gh, dist, "v1.2.3", run)


def test_primary_rate_limit_longer_than_max_wait_fails_fast(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake(FaultMix(primary=1.0, primary_window=30, max_primary=1))
    started = time.monotonic()
    run = harness.publish(gh, publish_dist("v1.2.3"), "v1.2.3")
    assert run.result.returncode != 0, run.explain()
    assert time.monotonic() - started < 15, "GPA_GITHUB_MAX_WAIT=5: it must not wait for the 30 s reset"
    assert "rate limit" in run.text.lower(), run.explain()
    assert run.writes(ok_only=True) == [] and gh.releases(OWNER, REPO) == []


def test_a_dist_that_fails_verification_is_refused(harness: Harness, publish_dist: PublishDist) -> None:
    gh = harness.fake()
    dist = publish_dist("v1.2.3")
    archive = sorted(dist.glob("*.tar.gz"))[0]
    archive.write_bytes(archive.read_bytes() + b"tampered")  # no longer matches checksums.txt
    run = harness.publish(gh, dist, "v1.2.3")
    assert run.result.returncode != 0, run.explain()
    assert archive.name in run.text, run.explain()
    assert run.writes() == [] and gh.releases(OWNER, REPO) == []
