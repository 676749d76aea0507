"""``test-plugin`` where self-hosted and GitHub Enterprise runners are: GatewayD's release is looked up on
github.com's API through a real forward proxy (proxy.py) and over TLS with a private CA, never on the GHES
server the workflow runs on, with no GHES token sent to github.com; and offline, a cached GatewayD is used
without a single request, while ``latest`` fails fast with the fix.

"api.github.com" here is the fake GitHub with a throwaway CA's certificate for that name, reached because the
proxy routes the name to it (tests/fixtures/proxy_routes.py), so the code's *default* API base is what runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.network import ForwardProxy, ThrowawayCA, free_port
from tests.gatewayd.test_download import gatewayd_release_assets
from tests.integration.test_test_plugin import FAST, Runner

pytestmark = [pytest.mark.gatewayd, pytest.mark.postgres]

GHES_TOKEN = "ghs_GhesOnlyCanary0123456789abcdefXYZ"
TAG = "v0.11.1"


@pytest.fixture
def github_com(gatewayd_binaries: dict[str, Path], throwaway_ca: ThrowawayCA,
               tmp_path: Path) -> Iterator[FakeGitHub]:
    """gatewayd-io/gatewayd's v0.11.1 (the real binary) as latest, on "https://api.github.com"."""
    with FakeGitHub(tls=throwaway_ca.server_context(), public_host="api.github.com",
                    objects_host="objects.githubusercontent.com") as fake:
        fake.add_repo("gatewayd-io", "gatewayd")
        assets = gatewayd_release_assets(gatewayd_binaries[TAG].read_bytes(), TAG, tmp_path / "release")
        fake.add_release("gatewayd-io", "gatewayd", TAG, assets=assets)
        yield fake


@pytest.fixture
def ghes() -> Iterator[FakeGitHub]:
    """The GitHub Enterprise Server the workflow runs on (it has no gatewayd-io/gatewayd)."""
    with FakeGitHub(path_prefix="/api/v3", upload_prefix="/api/uploads") as fake:
        fake.add_token(GHES_TOKEN, "write")
        yield fake


def ghes_runner(runner: Runner, ghes: FakeGitHub, tmp_path: Path, **env: str) -> Runner:
    runner.env.pop("GPA_GATEWAYD_API_URL", None)  # the default, https://api.github.com, is under test
    runner.env.update(GITHUB_API_URL=ghes.api_url, GITHUB_SERVER_URL=ghes.server_url, GITHUB_TOKEN=GHES_TOKEN,
                      XDG_CACHE_HOME=str(tmp_path / "fresh-cache"), **env)
    return runner


def test_on_ghes_gatewayd_comes_from_github_com_through_the_proxy_without_the_ghes_token(
        runner: Runner, project: Path, github_com: FakeGitHub, ghes: FakeGitHub, throwaway_ca: ThrowawayCA,
        forward_proxy: Callable[[dict[str, str]], ForwardProxy], tmp_path: Path) -> None:
    here = f"127.0.0.1:{github_com.port}"
    proxy = forward_proxy({"api.github.com:443": here, "objects.githubusercontent.com:443": here})
    run = ghes_runner(runner, ghes, tmp_path, HTTPS_PROXY=proxy.url, NO_PROXY="127.0.0.1,localhost",
                      REQUESTS_CA_BUNDLE=str(throwaway_ca.pem))
    result = run(project, "--gatewayd-version", "latest", *FAST)
    assert result.returncode == 0, result.stderr
    assert f"downloading gatewayd-linux-amd64-{TAG}.tar.gz from gatewayd-io/gatewayd {TAG}" in result.stderr
    assert "looking up GatewayD without a token" in result.stderr
    # github.com's API answered every lookup, through the tunnel, and never saw the GHES token
    hosts = {entry.headers.get("host") for entry in github_com.requests_log}
    assert hosts == {"api.github.com", "objects.githubusercontent.com"}, hosts
    assert not [e for e in github_com.requests_log if "authorization" in e.headers]
    assert ghes.requests_log == [], "the GHES server has no gatewayd-io/gatewayd"
    tunnels = [line for line in proxy.seen().splitlines() if line.startswith("CONNECT")]
    assert {line.split()[1] for line in tunnels} == {"api.github.com:443", "objects.githubusercontent.com:443"}
    assert GHES_TOKEN not in proxy.seen() + result.stdout + result.stderr

    # Offline now: the proxy is gone and Go may not download either. The exact version is in the cache.
    seen_before = len(github_com.requests_log)
    dead = f"http://127.0.0.1:{free_port()}"
    run.env.update(HTTPS_PROXY=dead, HTTP_PROXY=dead, GOPROXY="off", GOFLAGS="-mod=mod")
    cached = run(project, "--gatewayd-version", TAG, *FAST)
    assert cached.returncode == 0, cached.stderr
    assert f"gatewayd-linux-amd64-{TAG}.tar.gz (cached)" in cached.stderr
    assert len(github_com.requests_log) == seen_before and ghes.requests_log == []

    # `latest` needs the network: one line, fast, with both ways out.
    started = time.monotonic()
    offline = run(project, "--gatewayd-version", "latest", *FAST)
    elapsed = time.monotonic() - started
    assert offline.returncode != 0 and elapsed < 30, (elapsed, offline.stderr)
    reason = offline.stderr.strip().splitlines()[-1]
    assert reason.startswith("cannot reach https://api.github.com to download the latest GatewayD"), reason
    assert "gatewayd-binary: <path to a gatewayd>" in reason and f"gatewayd-version: {TAG} (cached here" in reason
    assert "HTTPS_PROXY=" in reason, reason


def test_the_workflow_token_goes_to_the_gatewayd_lookup_only_on_the_same_server(
        runner: Runner, project: Path, gatewayd_releases: FakeGitHub, tmp_path: Path) -> None:
    """On github.com (GITHUB_API_URL is the lookup's own base) the workflow's token is sent, as before."""
    runner.env.update(GITHUB_API_URL=gatewayd_releases.api_url, GITHUB_TOKEN=GHES_TOKEN,
                      XDG_CACHE_HOME=str(tmp_path / "fresh-cache"))
    gatewayd_releases.add_token(GHES_TOKEN, "read")
    before = len(gatewayd_releases.requests_log)
    result = runner(project, "--gatewayd-version", TAG, "--no-install", *FAST)
    assert result.returncode == 0, result.stderr
    lookups = [e for e in gatewayd_releases.requests_log[before:] if e.kind == "api"]
    assert lookups and all(e.headers.get("authorization") for e in lookups)
