"""The GitHub client on its own, against the fake: the calls other parts use, retries, waits and redaction."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gatewayd_plugin_actions.github.client import GitHubClient, Limits, content_type_for, strip_url_template
from gatewayd_plugin_actions.github.errors import GitHubError, hint_for, redact, register_secret
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.github import OWNER, REPO, TOKEN


@pytest.fixture
def client(fake_github: FakeGitHub) -> GitHubClient:
    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    limits = Limits(backoff=0.01, backoff_max=0.05, secondary_wait=0.1, max_wait=5)
    return GitHubClient(fake_github.api_url, TOKEN, limits=limits)


def test_redaction() -> None:
    register_secret("my-very-secret-value")
    text = redact("token my-very-secret-value; Authorization: Bearer abc.def; ghp_" + "a" * 36)
    assert "my-very-secret-value" not in text and "abc.def" not in text and "ghp_" not in text
    assert redact("the token may not write releases") == "the token may not write releases"


def test_helpers() -> None:
    assert strip_url_template("https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}") == \
        "https://uploads.github.com/repos/o/r/releases/1/assets"
    assert content_type_for("x.tar.gz") == "application/gzip"
    assert content_type_for("x.zip") == "application/zip"
    assert content_type_for("checksums.txt") == "text/plain"
    limits = Limits.from_env({"GPA_GITHUB_MAX_WAIT": "7", "GPA_GITHUB_RETRIES": "2"})
    assert limits.max_wait == 7 and limits.retries == 2


def test_from_env_defaults_and_ghes() -> None:
    public = GitHubClient.from_env({})
    assert public.api_url == "https://api.github.com" and public.server_url == "https://github.com"
    assert not public.has_token
    ghes = GitHubClient.from_env({"GITHUB_API_URL": "https://ghe.example.com/api/v3", "GITHUB_TOKEN": "x" * 20})
    assert ghes.server_url == "https://ghe.example.com" and ghes.has_token
    assert "x" * 20 not in repr(ghes)


def test_release_lookups(client: GitHubClient, fake_github: FakeGitHub, tmp_path: Path) -> None:
    assert client.get_release_by_tag(OWNER, REPO, "v1.0.0") is None
    assert client.get_latest_release(OWNER, REPO) is None
    for minor in range(105):
        fake_github.add_release(OWNER, REPO, f"v0.{minor}.0", created_at=f"2025-01-01T00:{minor // 60:02d}:"
                                                                          f"{minor % 60:02d}Z")
    fake_github.add_release(OWNER, REPO, "v1.0.0", assets={"checksums.txt": b"abc\n"},
                            created_at="2025-06-01T00:00:00Z")
    assert len(list(client.list_releases(OWNER, REPO))) == 106  # two pages, followed by Link
    release = client.get_release_by_tag(OWNER, REPO, "v1.0.0")
    assert release is not None
    latest = client.get_latest_release(OWNER, REPO)
    assert latest is not None and latest["tag_name"] == "v1.0.0"
    (asset,) = client.list_assets(OWNER, REPO, release["id"])
    path = client.download_asset(OWNER, REPO, asset, tmp_path / "checksums.txt")
    assert path.read_bytes() == b"abc\n"
    assert all("authorization" not in e.headers for e in fake_github.requests("GET", "object"))


def test_retries_and_waits(client: GitHubClient, fake_github: FakeGitHub) -> None:
    fake_github.faults.fail_next("latest_release", 502, times=2)
    fake_github.faults.secondary_rate_limit("latest_release", status=429, retry_after=0.2)
    fake_github.faults.secondary_rate_limit("latest_release", status=403, retry_after=None)
    started = time.monotonic()
    assert client.get_latest_release(OWNER, REPO) is None
    assert time.monotonic() - started >= 0.3
    # urllib3's Retry honours a 429's Retry-After itself (GET is idempotent); the 403 secondary limit without
    # Retry-After is ours: secondary_wait.
    assert client.stats.rate_limit_waits == [0.1]
    assert not fake_github.faults.pending()


def test_a_wait_beyond_the_cap_fails_at_once(client: GitHubClient, fake_github: FakeGitHub) -> None:
    fake_github.faults.primary_rate_limit("latest_release", reset_in=60)
    started = time.monotonic()
    with pytest.raises(GitHubError) as caught:
        client.get_latest_release(OWNER, REPO)
    assert time.monotonic() - started < 5
    assert "GPA_GITHUB_MAX_WAIT" in caught.value.message and caught.value.status == 403


def test_errors_are_clear(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(OWNER, REPO)
    anonymous = GitHubClient(fake_github.api_url, "ghs_NotKnown0123456789abcdefghij",
                             limits=Limits(backoff=0.01))
    with pytest.raises(GitHubError) as caught:
        anonymous.get_repo(OWNER, REPO)
    assert caught.value.status == 401 and "Bad credentials" in caught.value.message
    assert "ghs_NotKnown" not in caught.value.message


def test_error_text_joins_a_hint_after_a_message_ending_in_a_period() -> None:
    error = GitHubError("GET", "https://api.example/x", 403, "Request ID ABC.", hint="GitHub asks to wait 30s")
    assert "ABC. GitHub asks to wait 30s" in error.message
    plain = GitHubError("GET", "https://api.example/x", 403, "rate limited", hint="re-run later")
    assert plain.message.endswith("failed (HTTP 403): rate limited. re-run later")


@pytest.mark.parametrize(("method", "path", "explained"), [
    ("POST", "/repos/o/r/releases", True),  # create a release
    ("PATCH", "/api/v3/repos/o/r/releases/42", True),  # update (publish) one, on GHES
    ("GET", "/repos/o/r/releases/42", False),
    ("POST", "/repos/o/r/releases/42/assets", False),  # an upload
    ("PATCH", "/repos/o/r/releases/assets/7", False),  # an asset rename
    ("POST", "/repos/o/r/releases/generate-notes", False),
])
def test_a_release_write_404_names_the_workflow_file_rule(method: str, path: str, explained: bool) -> None:
    """GitHub documents a 404 (or 403) for creating or updating a release whose target commit changes
    .github/workflows/ without a token allowed to: those two calls say so, every 404 still names the repository."""
    not_found = hint_for(404, "Not Found", method, f"https://api.example{path}")
    forbidden = hint_for(403, "Resource not accessible by integration", method, f"https://api.example{path}")
    assert ("`workflow` scope" in not_found) is explained and ("`workflow` scope" in forbidden) is explained
    assert ".github/workflows/" in not_found if explained else "workflow" not in not_found + forbidden
    assert "GITHUB_REPOSITORY" in not_found and "contents: write" in forbidden
