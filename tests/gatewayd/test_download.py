"""Downloading GatewayD from its GitHub releases (served by the fake GitHub API), verified and cached."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.gatewayd import download
from gatewayd_plugin_actions.github.client import GitHubClient
from gatewayd_plugin_actions.targets import Target, host_target
from tests.fakes.fake_github import FakeGitHub

HOST = host_target()
OTHER = next(t for t in (Target("darwin", "arm64"), Target("linux", "amd64")) if t != HOST)


def gatewayd_archive(binary: bytes, dest: Path) -> Path:
    """A tarball laid out like GatewayD's own release archives (flat: gatewayd, README, LICENSE, configs)."""
    members = {"gatewayd": (binary, 0o755), "README.md": (b"# GatewayD\n", 0o644),
               "LICENSE": (b"AGPL\n", 0o644), "gatewayd.yaml": (b"loggers: {}\n", 0o644),
               "gatewayd_plugins.yaml": (b"plugins: []\n", 0o644)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    dest.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return dest


def gatewayd_release_assets(binary: bytes, tag: str, workdir: Path, *, targets: tuple[Target, ...] = (HOST, OTHER),
                            tamper: str | None = None) -> dict[str, bytes | Path]:
    """The assets of a GatewayD release: one archive per target, .deb noise and checksums.txt.

    ``tamper``: "archive" serves an archive whose bytes differ from its checksums.txt line, "missing-line"
    leaves the host archive out of checksums.txt.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    assets: dict[str, bytes | Path] = {}
    for target in targets:
        name = download.archive_name(target, tag)
        assets[name] = gatewayd_archive(binary if target == HOST else b"other platform", workdir / name)
    assets[f"gatewayd_{tag[1:]}_amd64.deb"] = b"deb package"
    lines = []
    for name, content in assets.items():
        data = content.read_bytes() if isinstance(content, Path) else content
        if tamper == "missing-line" and name == download.archive_name(HOST, tag):
            continue
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    assets["checksums.txt"] = "".join(lines).encode()
    if tamper == "archive":
        host = workdir / download.archive_name(HOST, tag)
        gatewayd_archive(binary + b"\n# tampered", host)
    return assets


@pytest.fixture
def gatewayd_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_repo("gatewayd-io", "gatewayd")
        yield fake


def client_for(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient.from_env({"GITHUB_API_URL": fake.api_url})


FAKE_BINARY = b"#!/bin/sh\necho 'GatewayD v0.0.0-test'\n"


def test_downloads_verifies_extracts_and_caches(gatewayd_github: FakeGitHub, tmp_path: Path) -> None:
    gatewayd_github.add_release("gatewayd-io", "gatewayd", "v0.10.3",
                            assets=gatewayd_release_assets(FAKE_BINARY + b"# old\n", "v0.10.3", tmp_path / "old"))
    gatewayd_github.add_release("gatewayd-io", "gatewayd", "v0.11.1",
                            assets=gatewayd_release_assets(FAKE_BINARY, "v0.11.1", tmp_path / "new"))
    env = {"GPA_GATEWAYD_API_URL": gatewayd_github.api_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    got = download.fetch("latest", client=client_for(gatewayd_github), env=env)
    assert (got.tag, got.source, got.archive) == ("v0.11.1", "download", f"gatewayd-{HOST.slug}-v0.11.1.tar.gz")
    assert got.path.read_bytes() == FAKE_BINARY
    assert got.path.stat().st_mode & 0o111
    assert got.path == tmp_path / "cache/gatewayd-plugin-actions/gatewayd/v0.11.1" / HOST.slug / "gatewayd"
    assert sorted(p.name for p in got.path.parent.iterdir()) == ["gatewayd", "gatewayd-release.json"]

    downloads = len(gatewayd_github.requests("GET"))
    again = download.fetch("v0.11.1", client=client_for(gatewayd_github), env=env)
    assert (again.path, again.source) == (got.path, "cache")
    assert len(gatewayd_github.requests("GET")) == downloads, "a pinned, cached version needs no API call"

    old = download.fetch("v0.10.3", client=client_for(gatewayd_github), env=env)
    assert old.path.read_bytes() == FAKE_BINARY + b"# old\n"


def test_tool_cache_layout_on_actions(gatewayd_github: FakeGitHub, tmp_path: Path) -> None:
    gatewayd_github.add_release("gatewayd-io", "gatewayd", "v0.11.1",
                            assets=gatewayd_release_assets(FAKE_BINARY, "v0.11.1", tmp_path / "rel"))
    env = {"GPA_GATEWAYD_API_URL": gatewayd_github.api_url, "RUNNER_TOOL_CACHE": str(tmp_path / "tools")}
    got = download.fetch("v0.11.1", client=client_for(gatewayd_github), env=env)
    arch = {"amd64": "x64"}.get(HOST.goarch, HOST.goarch)
    assert got.path == tmp_path / "tools/gatewayd/0.11.1" / arch / "gatewayd"
    assert (tmp_path / "tools/gatewayd/0.11.1" / f"{arch}.complete").is_file()


def test_corrupt_cache_is_downloaded_again(gatewayd_github: FakeGitHub, tmp_path: Path) -> None:
    gatewayd_github.add_release("gatewayd-io", "gatewayd", "v0.11.1",
                            assets=gatewayd_release_assets(FAKE_BINARY, "v0.11.1", tmp_path / "rel"))
    env = {"GPA_GATEWAYD_API_URL": gatewayd_github.api_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    got = download.fetch("v0.11.1", client=client_for(gatewayd_github), env=env)
    got.path.write_bytes(b"truncated")
    again = download.fetch("v0.11.1", client=client_for(gatewayd_github), env=env)
    assert again.source == "download"
    assert again.path.read_bytes() == FAKE_BINARY


@pytest.mark.parametrize(("tamper", "message"), [
    ("archive", "GatewayD download checksum mismatch: gatewayd-{slug}-v0.11.1.tar.gz has sha256 "),
    ("missing-line", "GatewayD download not verified: checksums.txt has no line for gatewayd-{slug}-v0.11.1.tar.gz"),
])
def test_checksum_problems_are_hard_errors(gatewayd_github: FakeGitHub, tmp_path: Path, tamper: str,
                                           message: str) -> None:
    gatewayd_github.add_release("gatewayd-io", "gatewayd", "v0.11.1",
                            assets=gatewayd_release_assets(FAKE_BINARY, "v0.11.1", tmp_path / "rel", tamper=tamper))
    env = {"GPA_GATEWAYD_API_URL": gatewayd_github.api_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with pytest.raises(UserError) as info:
        download.fetch("v0.11.1", client=client_for(gatewayd_github), env=env)
    assert info.value.message.startswith(message.format(slug=HOST.slug))
    assert "\n" not in info.value.message
    cache = tmp_path / "cache/gatewayd-plugin-actions/gatewayd"
    assert not any(p.is_file() for p in cache.rglob("*")), "nothing unverified is cached or left behind"


def test_missing_release_and_bad_tag(gatewayd_github: FakeGitHub, tmp_path: Path) -> None:
    env = {"GPA_GATEWAYD_API_URL": gatewayd_github.api_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with pytest.raises(UserError, match=r"GatewayD release v9\.9\.9 not found in gatewayd-io/gatewayd"):
        download.fetch("v9.9.9", client=client_for(gatewayd_github), env=env)
    with pytest.raises(UserError, match="has no latest release"):
        download.fetch("latest", client=client_for(gatewayd_github), env=env)
    with pytest.raises(UserError, match="expected a release tag"):
        download.fetch("0.11.1", client=client_for(gatewayd_github), env=env)


def test_release_without_an_archive_for_this_machine(gatewayd_github: FakeGitHub, tmp_path: Path) -> None:
    gatewayd_github.add_release("gatewayd-io", "gatewayd", "v0.11.1",
                            assets=gatewayd_release_assets(FAKE_BINARY, "v0.11.1", tmp_path / "rel", targets=(OTHER,)))
    env = {"GPA_GATEWAYD_API_URL": gatewayd_github.api_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with pytest.raises(UserError, match=f"has no release asset for {HOST}"):
        download.fetch("v0.11.1", client=client_for(gatewayd_github), env=env)


# --- which server, which token: github.com's API, and a GHES token never leaves GHES ---------------------

GHES = "https://ghes.corp.example/api/v3"


@pytest.mark.parametrize(("env", "api_url", "token"), [
    ({}, "https://api.github.com", None),
    ({"GITHUB_TOKEN": "wf-token-1234"}, "https://api.github.com", "wf-token-1234"),  # github.com: same server
    ({"GITHUB_API_URL": GHES, "GITHUB_TOKEN": "ghes-token-1234"}, "https://api.github.com", None),
    ({"GITHUB_API_URL": GHES, "GPA_WORKFLOW_TOKEN": "ghes-token-1234"}, "https://api.github.com", None),
    ({"GITHUB_API_URL": GHES, "GITHUB_TOKEN": "ghes-token-1234", "GPA_GATEWAYD_TOKEN": "com-token-1234"},
     "https://api.github.com", "com-token-1234"),
    ({"GITHUB_API_URL": GHES, "GITHUB_TOKEN": "ghes-token-1234", "GPA_GATEWAYD_API_URL": GHES + "/"},
     GHES, "ghes-token-1234"),  # a mirror on the GHES server itself gets the GHES token
    ({"GATEWAYD_RELEASES_API_URL": "http://mirror.corp:8080", "GITHUB_TOKEN": "wf-token-1234"},
     "http://mirror.corp:8080", None),
    ({"GATEWAYD_RELEASES_API_URL": "http://mirror.corp:8080", "GPA_GATEWAYD_API_URL": "https://api.github.com"},
     "https://api.github.com", None),  # the input wins over the runner's variable
])
def test_lookup_goes_to_github_com_and_sends_a_token_only_to_its_own_server(
        env: dict[str, str], api_url: str, token: str | None) -> None:
    client = download.lookup_client(env)
    assert client.api_url == api_url
    assert client._token == token


def test_a_bad_lookup_url_is_one_line() -> None:
    with pytest.raises(UserError, match=r"GPA_GATEWAYD_API_URL='api.github.com' is not an http\(s\) URL"):
        download.lookup_client({"GPA_GATEWAYD_API_URL": "api.github.com"})


def test_offline_the_exact_cached_version_needs_no_client_and_latest_names_the_ways_out(
        gatewayd_github: FakeGitHub, tmp_path: Path) -> None:
    env = {"GPA_GATEWAYD_API_URL": gatewayd_github.api_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    gatewayd_github.add_release("gatewayd-io", "gatewayd", "v0.10.3",
                                assets=gatewayd_release_assets(FAKE_BINARY, "v0.10.3", tmp_path / "r"))
    download.fetch("v0.10.3", env=env)
    api_url = gatewayd_github.api_url
    gatewayd_github.stop()  # offline from here on
    hit = download.fetch("v0.10.3", env=env)
    assert hit.source == "cache" and hit.tag == "v0.10.3"
    assert download.cached_tags(HOST, env) == ["v0.10.3"]
    with pytest.raises(UserError) as caught:
        download.fetch("latest", env={**env, "GPA_GITHUB_RETRIES": "1", "GPA_GITHUB_BACKOFF": "0"})
    message = str(caught.value)
    assert message.startswith(f"cannot reach {api_url} to download the latest GatewayD "
                              "(connection refused)"), message
    assert "gatewayd-binary: <path to a gatewayd>" in message and "gatewayd-version: v0.10.3 (cached here)" in message
    assert "\n" not in message
