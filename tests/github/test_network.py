"""Where plugin authors' CI really runs: behind a forward proxy, with a private CA, on GitHub Enterprise Server.

Real parts: proxy.py (a maintained forward proxy, as a process), a fake GitHub served over HTTPS with a
certificate from a throwaway CA (trustme), and the CLI as a process. The proxy routes ``api.github.com`` to
the fake (tests/fixtures/proxy_routes.py) and refuses anything else off loopback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.github.network import Network, bypasses
from tests.conftest import RunCli
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.github import OWNER, REPO, TOKEN, PublishDist
from tests.fixtures.network import ForwardProxy, ThrowawayCA, free_port
from tests.publish.test_publish import assert_complete, publish, writes

StartProxy = Callable[[dict[str, str]], ForwardProxy]


@pytest.fixture
def tls_repo(throwaway_ca: ThrowawayCA) -> Iterator[FakeGitHub]:
    """The plugin's repository on a fake GitHub that speaks HTTPS only, with the throwaway CA's certificate."""
    with FakeGitHub(tls=throwaway_ca.server_context()) as fake:
        fake.add_repo(OWNER, REPO)
        fake.add_token(TOKEN, "write")
        yield fake


def route_to(fake: FakeGitHub) -> dict[str, str]:
    return {f"127.0.0.1:{fake.port}": f"127.0.0.1:{fake.port}"}


# --- publish -------------------------------------------------------------------------------------------


def test_publish_goes_through_the_proxy_over_tls_and_the_proxy_never_sees_the_token(
        run_cli: RunCli, tls_repo: FakeGitHub, publish_dist: PublishDist, throwaway_ca: ThrowawayCA,
        forward_proxy: StartProxy, tmp_path: Path) -> None:
    proxy = forward_proxy(route_to(tls_repo))
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, tls_repo, tmp_path, dist, "v1.0.0", HTTPS_PROXY=proxy.url,
                  REQUESTS_CA_BUNDLE=str(throwaway_ca.pem), NO_PROXY="")
    assert run.code == 0, run.text
    assert_complete(tls_repo, dist, "v1.0.0")
    seen = proxy.seen()
    tunnels = [line for line in seen.splitlines() if line.startswith("CONNECT ")]
    assert tunnels and all(f"127.0.0.1:{tls_repo.port}" in line for line in tunnels), seen
    assert TOKEN not in seen and "authorization" not in seen.lower(), "the proxy must only see CONNECT"
    assert all(e.headers.get("authorization") for e in tls_repo.requests_log if e.kind in ("api", "upload"))


def test_no_proxy_sends_matching_hosts_around_the_proxy(
        run_cli: RunCli, tls_repo: FakeGitHub, publish_dist: PublishDist, throwaway_ca: ThrowawayCA,
        forward_proxy: StartProxy, tmp_path: Path) -> None:
    proxy = forward_proxy(route_to(tls_repo))
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, tls_repo, tmp_path, dist, "v1.0.0", HTTPS_PROXY=proxy.url,
                  REQUESTS_CA_BUNDLE=str(throwaway_ca.pem), NO_PROXY="example.com,.127.0.0.0/8,localhost")
    assert run.code == 0, run.text
    assert_complete(tls_repo, dist, "v1.0.0")
    assert proxy.seen() == "", "127.0.0.1 is in NO_PROXY (as a CIDR range)"


def test_an_untrusted_certificate_fails_fast_with_the_variable_to_set(
        run_cli: RunCli, tls_repo: FakeGitHub, publish_dist: PublishDist, tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    started = time.monotonic()
    # The machine's own bundle: the public roots, not the throwaway CA.
    run = publish(run_cli, tls_repo, tmp_path, dist, "v1.0.0", REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt")
    elapsed = time.monotonic() - started
    assert run.code != 0 and elapsed < 30, (elapsed, run.text)
    assert "TLS certificate not trusted" in run.text
    assert "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt does not vouch for it" in run.text
    assert "Traceback" not in run.text
    assert writes(tls_repo) == [] and tls_repo.releases(OWNER, REPO) == []


def test_the_throwaway_ca_added_with_node_extra_ca_certs_is_trusted(
        run_cli: RunCli, tls_repo: FakeGitHub, publish_dist: PublishDist, throwaway_ca: ThrowawayCA,
        tmp_path: Path) -> None:
    """What self-hosted runners set for the Node actions works here too: added to the public roots."""
    dist = publish_dist("v1.0.0")
    run = publish(run_cli, tls_repo, tmp_path, dist, "v1.0.0", REQUESTS_CA_BUNDLE="", CURL_CA_BUNDLE="",
                  SSL_CERT_FILE="", SSL_CERT_DIR="", NODE_EXTRA_CA_CERTS=str(throwaway_ca.pem))
    assert run.code == 0, run.text
    assert_complete(tls_repo, dist, "v1.0.0")


def test_a_proxy_that_is_down_fails_fast_naming_the_proxy(
        run_cli: RunCli, tls_repo: FakeGitHub, publish_dist: PublishDist, throwaway_ca: ThrowawayCA,
        tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    dead = f"http://user:hunter2hunter2@127.0.0.1:{free_port()}"
    started = time.monotonic()
    run = publish(run_cli, tls_repo, tmp_path, dist, "v1.0.0", HTTPS_PROXY=dead,
                  REQUESTS_CA_BUNDLE=str(throwaway_ca.pem), NO_PROXY="", GPA_GITHUB_BACKOFF="1")
    elapsed = time.monotonic() - started
    assert run.code != 0 and elapsed < 30, (elapsed, run.text)
    assert "cannot connect to the proxy" in run.text
    assert "The request to 127.0.0.1:" in run.text, run.text
    assert "goes through HTTPS_PROXY=http://***@127.0.0.1:" in run.text, run.text
    assert "hunter2" not in run.text
    assert tls_repo.requests_log == [] and tls_repo.releases(OWNER, REPO) == []


def test_bad_network_settings_are_one_line_errors(run_cli: RunCli, tls_repo: FakeGitHub,
                                                  publish_dist: PublishDist, tmp_path: Path) -> None:
    dist = publish_dist("v1.0.0")
    cases = {
        "REQUESTS_CA_BUNDLE": (str(tmp_path / "missing.pem"), "missing.pem: no such file"),
        "HTTPS_PROXY": ("socks5://127.0.0.1:1080", "SOCKS proxies are not supported"),
    }
    for variable, (value, message) in cases.items():
        run = publish(run_cli, tls_repo, tmp_path, dist, "v1.0.0", **{variable: value})
        assert run.code != 0 and message in run.text and "Traceback" not in run.text, run.text
    assert tls_repo.requests_log == []


# --- the rules, against curl's documented behaviour -------------------------------------------------------


@pytest.mark.parametrize(("host", "port", "no_proxy", "bypass"), [
    ("api.github.com", 443, "github.com", True),  # a domain covers its subdomains
    ("api.github.com", 443, ".github.com", True),  # a leading dot is ignored
    ("notgithub.com", 443, "github.com", False),  # but not a longer name that ends the same
    ("ghe.corp", 443, "ghe.corp:443", True),
    ("ghe.corp", 8443, "ghe.corp:443", False),
    ("10.1.2.3", 443, "10.0.0.0/8", True),
    ("10.1.2.3", 443, "11.0.0.0/8", False),
    ("::1", 443, "::1", True),
    ("anything", None, "*", True),
    ("api.github.com", 443, "", False),
])
def test_no_proxy_rules(host: str, port: int | None, no_proxy: str, bypass: bool) -> None:
    entries = tuple(e.strip().lower() for e in no_proxy.split(",") if e.strip())
    assert bypasses(host, port, entries) is bypass


def test_lower_case_proxy_variables_win_and_all_proxy_is_the_fallback() -> None:
    network = Network.from_env({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2",
                                "ALL_PROXY": "http://all:3", "REQUESTS_CA_BUNDLE": ""})
    assert network.proxy_for("https://api.github.com/x") == "http://lower:2"
    assert network.proxy_for("http://127.0.0.1:5/x") == "http://all:3"
    assert Network.from_env({}).proxy_for("https://api.github.com") is None
    with pytest.raises(UserError, match="not a proxy URL"):
        Network.from_env({"HTTPS_PROXY": "ftp://proxy"})
