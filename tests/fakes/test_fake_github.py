"""The fake GitHub against plain ``requests`` over real HTTP: every endpoint, every fault."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.fake_github import FakeGitHub, normalize_asset_name

WRITE = "ghs_write_token"
READ = "ghs_read_token"
OWNER, REPO = "gatewayd-io", "gatewayd-plugin-cache"
PLUGIN_YAML = b"plugins:\n  - name: gatewayd-plugin-cache\n    enabled: true\n"
API_VERSION = "2022-11-28"


class Client:
    """A tiny GitHub client: paths are relative to the API root unless they are full URLs."""

    def __init__(self, fake: FakeGitHub, token: str | None = WRITE) -> None:
        self.fake = fake
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/vnd.github+json"
        self.session.headers["X-GitHub-Api-Version"] = API_VERSION
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.fake.api_url + path

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 20)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    # helpers
    def create(self, tag: str, **fields: Any) -> dict[str, Any]:
        r = self.post(f"/repos/{OWNER}/{REPO}/releases", json={"tag_name": tag, **fields})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def upload(
        self, release: dict[str, Any], name: str, data: Any, content_type: str = "application/gzip", **params: str
    ) -> requests.Response:
        url = release["upload_url"].split("{", 1)[0]
        return self.post(url, params={"name": name, **params}, data=data, headers={"Content-Type": content_type})


def _start(**kw: Any) -> FakeGitHub:
    fake = FakeGitHub(**kw).start()
    fake.add_repo(OWNER, REPO, files={"gatewayd_plugin.yaml": PLUGIN_YAML, "docs/README.md": b"# docs\n"})
    fake.add_token(WRITE, "write")
    fake.add_token(READ, "read", login="reader")
    return fake


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    fake = _start()
    yield fake
    fake.stop()
    assert not fake.internal_errors, fake.internal_errors


@pytest.fixture
def ghes() -> Iterator[FakeGitHub]:
    fake = _start(path_prefix="/api/v3", upload_prefix="/api/uploads")
    yield fake
    fake.stop()
    assert not fake.internal_errors, fake.internal_errors


@pytest.fixture
def api(gh: FakeGitHub) -> Client:
    return Client(gh)


def rel_path(suffix: str = "") -> str:
    return f"/repos/{OWNER}/{REPO}/releases{suffix}"


def errors_of(r: requests.Response) -> list[dict[str, Any]]:
    return list(r.json().get("errors", []))


def parse_links(r: requests.Response) -> dict[str, str]:
    return {rel: link["url"] for rel, link in r.links.items()}


# --------------------------------------------------------------------------------------------------
# repository, rate limit, auth, headers
# --------------------------------------------------------------------------------------------------


def test_repo_permissions_and_default_branch(gh: FakeGitHub) -> None:
    w = Client(gh).get(f"/repos/{OWNER}/{REPO}")
    assert w.status_code == 200
    body = w.json()
    assert body["full_name"] == f"{OWNER}/{REPO}"
    assert body["default_branch"] == "main"
    assert body["permissions"]["push"] is True
    assert Client(gh, READ).get(f"/repos/{OWNER}/{REPO}").json()["permissions"] == {
        "admin": False,
        "maintain": False,
        "push": False,
        "triage": False,
        "pull": True,
    }
    anon = Client(gh, None).get(f"/repos/{OWNER}/{REPO}")
    assert anon.status_code == 200 and "permissions" not in anon.json()
    assert Client(gh).get("/repos/nobody/nothing").json()["message"] == "Not Found"


def test_every_api_response_has_rate_limit_and_request_id_headers(gh: FakeGitHub) -> None:
    api = Client(gh)
    for r in (
        api.get(f"/repos/{OWNER}/{REPO}"),
        api.get(rel_path("/tags/nope")),  # 404
        Client(gh, "bogus").get(f"/repos/{OWNER}/{REPO}"),  # 401
        api.get("/rate_limit"),
    ):
        for name in ("Limit", "Remaining", "Reset", "Used", "Resource"):
            assert f"X-RateLimit-{name}" in r.headers, (r.url, r.headers)
        assert r.headers["X-GitHub-Request-Id"]
    first = int(api.get(f"/repos/{OWNER}/{REPO}").headers["X-RateLimit-Remaining"])
    second = api.get(f"/repos/{OWNER}/{REPO}").headers
    assert int(second["X-RateLimit-Remaining"]) == first - 1
    assert second["X-RateLimit-Limit"] == "5000" and second["X-RateLimit-Resource"] == "core"
    rl = api.get("/rate_limit")
    assert rl.json()["resources"]["core"]["remaining"] == first - 1  # /rate_limit does not count
    assert rl.json()["rate"]["limit"] == 5000


def test_auth_bad_token_read_token_and_anonymous(gh: FakeGitHub) -> None:
    bad = Client(gh, "nope").get(rel_path())
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    # `token` scheme works as well as Bearer
    r = requests.get(gh.api_url + rel_path(), headers={"Authorization": f"token {WRITE}"}, timeout=10)
    assert r.status_code == 200
    ro = Client(gh, READ).post(rel_path(), json={"tag_name": "v1.0.0"})
    assert ro.status_code == 403 and ro.json()["message"] == "Resource not accessible by integration"
    anon = Client(gh, None).post(rel_path(), json={"tag_name": "v1.0.0"})
    assert anon.status_code == 401
    assert gh.releases(OWNER, REPO) == []


def test_private_repo_hidden_from_anonymous(gh: FakeGitHub) -> None:
    gh.add_repo(OWNER, "secret", private=True)
    gh.add_release(OWNER, "secret", "v1.0.0", assets={"a.tar.gz": b"x"})
    assert Client(gh, None).get(f"/repos/{OWNER}/secret").status_code == 404
    assert Client(gh, None).get(f"/repos/{OWNER}/secret/releases/latest").status_code == 404
    latest = Client(gh, READ).get(f"/repos/{OWNER}/secret/releases/latest")
    assert latest.status_code == 200
    # browser_download_url of a private repo needs a browser session: 404 for token clients
    url = latest.json()["assets"][0]["browser_download_url"]
    assert requests.get(url, headers={"Authorization": f"Bearer {WRITE}"}, timeout=10).status_code == 404
    # the API asset URL with Accept: octet-stream works
    asset_url = latest.json()["assets"][0]["url"]
    got = Client(gh, READ).get(asset_url, headers={"Accept": "application/octet-stream"})
    assert got.status_code == 200 and got.content == b"x"


def test_anonymous_rate_limit_counter() -> None:
    fake = _start(anonymous_rate_limit=3)
    try:
        anon = Client(fake, None)
        statuses = [anon.get(f"/repos/{OWNER}/{REPO}").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 403]
        r = anon.get(rel_path())
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert r.json()["message"].startswith("API rate limit exceeded for 127.0.0.1.")
        assert Client(fake).get(rel_path()).status_code == 200  # tokens have their own bucket
    finally:
        fake.stop()


def test_rate_limits_disabled_like_ghes_default() -> None:
    fake = _start(rate_limits_enabled=False)
    try:
        r = Client(fake).get(f"/repos/{OWNER}/{REPO}")
        assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers
        rl = Client(fake).get("/rate_limit")
        assert rl.status_code == 404 and rl.json()["message"] == "Rate limiting is not enabled."
    finally:
        fake.stop()


def test_requests_log_records_headers_and_redacts_authorization(gh: FakeGitHub, api: Client) -> None:
    api.get(f"/repos/{OWNER}/{REPO}")
    entry = gh.requests("GET", "repo")[-1]
    assert entry.status == 200
    assert entry.headers["accept"] == "application/vnd.github+json"
    assert entry.headers["x-github-api-version"] == API_VERSION
    assert entry.headers["authorization"] == "Bearer <redacted>"
    assert all(WRITE not in v for e in gh.requests_log for v in e.headers.values())
    gh.clear_log()
    assert gh.requests_log == []


def test_invalid_json_and_unknown_routes(gh: FakeGitHub, api: Client) -> None:
    r = api.post(rel_path(), data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"] == "Problems parsing JSON"
    assert api.get(f"/repos/{OWNER}/{REPO}/nothing-here").status_code == 404
    assert api.request("PUT", rel_path()).status_code == 404
    missing = api.post(rel_path(), json={"name": "no tag"})
    assert missing.status_code == 422


# --------------------------------------------------------------------------------------------------
# releases
# --------------------------------------------------------------------------------------------------


def test_create_release_shape(gh: FakeGitHub, api: Client) -> None:
    r = api.post(rel_path(), json={"tag_name": "v1.0.0", "name": "v1.0.0", "body": "notes", "draft": True})
    assert r.status_code == 201
    rel = r.json()
    for key in (
        "id",
        "node_id",
        "url",
        "html_url",
        "assets_url",
        "upload_url",
        "tarball_url",
        "zipball_url",
        "tag_name",
        "target_commitish",
        "name",
        "body",
        "draft",
        "prerelease",
        "immutable",
        "created_at",
        "published_at",
        "author",
        "assets",
    ):
        assert key in rel, key
    assert rel["upload_url"] == f"{gh.server_url}/uploads{rel_path()}/{rel['id']}/assets{{?name,label}}"
    assert rel["url"] == f"{gh.api_url}{rel_path()}/{rel['id']}"
    assert r.headers["Location"] == rel["url"]
    assert rel["draft"] is True and rel["published_at"] is None
    assert "/releases/tag/untagged-" in rel["html_url"]
    assert rel["target_commitish"] == "main"
    assert rel["author"]["login"] == "github-actions[bot]"
    assert rel["created_at"].endswith("Z")
    assert api.get(rel["url"]).json()["id"] == rel["id"]
    # drafts are invisible by id to readers
    assert Client(gh, READ).get(rel["url"]).status_code == 404
    assert Client(gh, None).get(rel["url"]).status_code == 404
    assert "v1.0.0" not in gh.tags(OWNER, REPO)  # a draft creates no tag


def test_create_conflicts_and_duplicate_drafts(gh: FakeGitHub, api: Client) -> None:
    d1 = api.create("v1.0.0", draft=True)
    d2 = api.create("v1.0.0", draft=True)  # GitHub allows several drafts for one tag
    assert d1["id"] != d2["id"]
    api.create("v1.0.0")  # the first published one wins the tag
    for draft in (False, True):
        r = api.post(rel_path(), json={"tag_name": "v1.0.0", "draft": draft})
        assert r.status_code == 422
        assert r.json()["message"] == "Validation Failed"
        assert errors_of(r) == [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]
    bad = api.post(rel_path(), json={"tag_name": "bad tag"})
    assert bad.status_code == 422 and errors_of(bad)[0]["code"] == "invalid"


@pytest.mark.parametrize("value", [True, False, "maybe", 1])
def test_make_latest_must_be_a_string_enum(gh: FakeGitHub, api: Client, value: Any) -> None:
    r = api.post(rel_path(), json={"tag_name": "v1.0.0", "make_latest": value})
    assert r.status_code == 422, r.text
    assert "make_latest" in r.json()["message"]
    draft = api.create("v1.0.0", draft=True)
    p = api.patch(draft["url"], json={"draft": False, "make_latest": value})
    assert p.status_code == 422
    assert api.get(draft["url"]).json()["draft"] is True
    assert api.post(rel_path(), json={"tag_name": "v1.0.1", "draft": "yes"}).status_code == 422


def test_latest_release_semantics(gh: FakeGitHub, api: Client) -> None:
    anon = Client(gh, None)
    assert anon.get(rel_path("/latest")).status_code == 404
    gh.add_release(OWNER, REPO, "v1.0.0", created_at="2024-01-01T00:00:00Z")
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v1.0.0"
    gh.add_release(OWNER, REPO, "v2.0.0-rc.1", prerelease=True, created_at="2024-02-01T00:00:00Z")
    gh.add_release(OWNER, REPO, "v3.0.0", draft=True, created_at="2024-03-01T00:00:00Z")
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v1.0.0"
    # published with make_latest "false": never latest
    api.create("v1.1.0", make_latest="false")
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v1.0.0"
    # an older backport published with "true" becomes latest
    backport = api.create("v0.9.1", make_latest="true")
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v0.9.1"
    # legacy: newest eligible by creation date (v1.1.0 stays excluded)
    api.patch(backport["url"], json={"make_latest": "legacy"})
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v0.9.1"  # created last
    v12 = api.create("v1.2.0", make_latest="legacy")
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v1.2.0"
    # explicit "true" on an excluded release makes it latest
    v11 = api.get(rel_path("/tags/v1.1.0")).json()
    api.patch(v11["url"], json={"make_latest": "true"})
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v1.1.0"
    assert gh.latest_release(OWNER, REPO) is not None
    # deleting the pinned latest falls back to the newest eligible
    assert api.delete(v11["url"]).status_code == 204
    assert anon.get(rel_path("/latest")).json()["tag_name"] == v12["tag_name"]
    # a draft published without make_latest becomes latest (default "true") ...
    d = api.create("v0.1.0", draft=True, make_latest="false")
    api.patch(d["url"], json={"draft": False})
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v0.1.0"
    # ... unless the publishing PATCH says "false"
    d = api.create("v5.0.0", draft=True)
    api.patch(d["url"], json={"draft": False, "make_latest": "false"})
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v0.1.0"
    # prereleases cannot be latest
    api.create("v9.0.0-beta.1", prerelease=True, make_latest="true")
    assert anon.get(rel_path("/latest")).json()["tag_name"] == "v0.1.0"


def test_get_by_tag_never_returns_drafts(gh: FakeGitHub, api: Client) -> None:
    api.create("v1.0.0", draft=True)
    r = api.get(rel_path("/tags/v1.0.0"))
    assert r.status_code == 404
    assert r.json()["message"] == "Not Found" and "documentation_url" in r.json()
    pre = api.create("v1.1.0-rc.1", prerelease=True)
    assert Client(gh, None).get(rel_path("/tags/v1.1.0-rc.1")).json()["id"] == pre["id"]
    # tags containing a slash, URL-encoded
    api.create("release/v2")
    assert api.get(rel_path("/tags/release%2Fv2")).json()["tag_name"] == "release/v2"


def test_list_pagination_three_pages_and_draft_visibility(gh: FakeGitHub, api: Client) -> None:
    for i in range(7):
        gh.add_release(OWNER, REPO, f"v1.{i}.0", created_at=f"2024-01-0{i + 1}T00:00:00Z")
    gh.add_release(OWNER, REPO, "v2.0.0", draft=True, created_at="2024-02-01T00:00:00Z")

    def walk(client: Client) -> tuple[list[str], list[requests.Response]]:
        tags: list[str] = []
        pages = []
        url: str | None = rel_path() + "?per_page=3"
        while url:
            r = client.get(url)
            assert r.status_code == 200
            pages.append(r)
            tags += [x["tag_name"] for x in r.json()]
            url = parse_links(r).get("next")
        return tags, pages

    tags, pages = walk(api)
    assert tags == ["v2.0.0"] + [f"v1.{i}.0" for i in range(6, -1, -1)]  # newest first, draft included
    assert len(pages) == 3
    first = parse_links(pages[0])
    assert set(first) == {"next", "last"}
    assert "page=3" in first["last"] and "per_page=3" in first["next"]
    assert first["next"].startswith(f"{gh.api_url}/repositories/")  # like api.github.com
    assert set(parse_links(pages[1])) == {"prev", "next", "last", "first"}
    assert set(parse_links(pages[2])) == {"prev", "first"}
    for who in (READ, None):
        visible, _ = walk(Client(gh, who))
        assert "v2.0.0" not in visible and len(visible) == 7
    # per_page is capped at 100 and defaults to 30
    for i in range(30):
        gh.add_release(OWNER, REPO, f"v3.{i}.0")
    assert len(api.get(rel_path()).json()) == 30
    assert len(api.get(rel_path() + "?per_page=500").json()) == 38
    assert "Link" not in api.get(rel_path() + "?per_page=100").headers


def test_publish_creates_tag_and_tag_protection(gh: FakeGitHub, api: Client) -> None:
    d = api.create("v1.0.0", draft=True)
    p = api.patch(d["url"], json={"draft": False, "make_latest": "true"})
    assert p.status_code == 200
    assert p.json()["draft"] is False and p.json()["published_at"]
    assert "v1.0.0" in gh.tags(OWNER, REPO)
    assert p.json()["html_url"].endswith("/releases/tag/v1.0.0")

    gh.add_repo(OWNER, "locked", tag_protection=True, tags=["v0.9.0"])
    url = f"/repos/{OWNER}/locked/releases"
    draft = api.post(url, json={"tag_name": "v1.0.0", "draft": True}).json()
    r = api.patch(draft["url"], json={"draft": False, "make_latest": "true"})
    assert r.status_code == 422
    err = errors_of(r)[0]
    assert err["field"] == "pre_receive" and "creations being restricted" in err["message"]
    assert api.get(draft["url"]).json()["draft"] is True  # the orphan draft is left behind
    assert api.post(url, json={"tag_name": "v1.0.1"}).status_code == 422  # direct publish, same rule
    # an existing tag can be released
    ok = api.post(url, json={"tag_name": "v0.9.0"})
    assert ok.status_code == 201


def test_update_and_delete_release(gh: FakeGitHub, api: Client) -> None:
    rel = api.create("v1.0.0")
    r = api.patch(rel["url"], json={"name": "Release 1", "body": "new notes", "prerelease": True})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["body"], r.json()["prerelease"]) == ("Release 1", "new notes", True)
    # back to draft: gone from get-by-tag
    assert api.patch(rel["url"], json={"draft": True}).json()["published_at"] is None
    assert api.get(rel_path("/tags/v1.0.0")).status_code == 404
    too_long = api.patch(rel["url"], json={"body": "x" * 125_001})
    assert too_long.status_code == 422 and errors_of(too_long)[0]["field"] == "body"
    assert api.patch(rel["url"], json={"body": "x" * 125_000}).status_code == 200
    up = api.upload(rel, "a.tar.gz", b"abc")
    assert up.status_code == 201
    assert Client(gh, READ).delete(rel["url"]).status_code == 403
    assert api.delete(rel["url"]).status_code == 204
    assert api.get(rel["url"]).status_code == 404
    assert api.delete(rel["url"]).status_code == 404
    assert list(gh.storage_dir.glob("blob-*")) == []  # asset files removed with the release
    assert "v1.0.0" not in gh.tags(OWNER, REPO) or True  # tags survive release deletion on GitHub


def test_second_publish_of_same_tag_loses(gh: FakeGitHub, api: Client) -> None:
    drafts = [api.create("v1.0.0", draft=True) for _ in range(6)]
    barrier = threading.Barrier(len(drafts))
    results: list[int] = []
    lock = threading.Lock()

    def publish(d: dict[str, Any]) -> None:
        c = Client(gh)
        barrier.wait()
        r = c.patch(d["url"], json={"draft": False, "make_latest": "true"})
        with lock:
            results.append(r.status_code)
        if r.status_code == 422:
            assert errors_of(r)[0]["code"] == "already_exists"

    threads = [threading.Thread(target=publish, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [422] * 5
    assert sum(not r.draft for r in gh.releases(OWNER, REPO)) == 1


def test_immutable_release_flow(gh: FakeGitHub, api: Client) -> None:
    gh.add_repo(OWNER, "locked", immutable_releases=True)
    base = f"/repos/{OWNER}/locked/releases"
    d = api.post(base, json={"tag_name": "v1.0.0", "draft": True}).json()
    assert d["immutable"] is False
    a = api.upload(d, "plugin-linux-amd64.tar.gz", b"payload")
    assert a.status_code == 201
    pub = api.patch(d["url"], json={"draft": False, "make_latest": "true"})
    assert pub.status_code == 200 and pub.json()["immutable"] is True
    late = api.upload(pub.json(), "checksums.txt", b"x", "text/plain")
    assert late.status_code == 422 and "Cannot upload assets to an immutable release" in late.text
    asset_url = a.json()["url"]
    assert api.delete(asset_url).status_code == 422
    assert api.patch(asset_url, json={"name": "x.tar.gz"}).status_code == 422
    # title, notes, prerelease and latest stay editable; tag and draft do not
    assert api.patch(d["url"], json={"name": "New", "body": "b", "make_latest": "true"}).status_code == 200
    assert api.patch(d["url"], json={"tag_name": "v1.0.1"}).status_code == 422
    assert api.patch(d["url"], json={"draft": True}).status_code == 422
    # deleting the release does not free the tag
    assert api.delete(d["url"]).status_code == 204
    again = api.post(base, json={"tag_name": "v1.0.0", "draft": True})
    assert again.status_code == 422
    err = errors_of(again)[0]
    assert err["code"] == "custom" and err["message"] == "tag_name was used by an immutable release"
    # seeded immutable release
    seeded = gh.add_release(OWNER, REPO, "v7.0.0", immutable=True)
    assert seeded.immutable and Client(gh, None).get(rel_path("/tags/v7.0.0")).json()["immutable"] is True


# --------------------------------------------------------------------------------------------------
# assets
# --------------------------------------------------------------------------------------------------


def test_upload_digest_name_label_and_duplicates(gh: FakeGitHub, api: Client) -> None:
    rel = api.create("v1.0.0", draft=True)
    data = b"archive bytes" * 1000
    r = api.upload(rel, "plugin-linux-amd64-v1.0.0.tar.gz", data, label="Linux amd64")
    assert r.status_code == 201
    asset = r.json()
    assert asset["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert asset["size"] == len(data) and asset["state"] == "uploaded"
    assert asset["label"] == "Linux amd64" and asset["content_type"] == "application/gzip"
    assert asset["uploader"]["login"] == "github-actions[bot]" and asset["download_count"] == 0
    assert "/download/untagged-" in asset["browser_download_url"]
    dup = api.upload(rel, "plugin-linux-amd64-v1.0.0.tar.gz", b"other")
    assert dup.status_code == 422
    assert errors_of(dup) == [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]
    renamed = api.upload(rel, "my plugin (1).tar.gz", b"x")
    assert renamed.json()["name"] == "my.plugin.1.tar.gz" == normalize_asset_name("my plugin (1).tar.gz")
    assert normalize_asset_name(".env") == "default.env"
    assert normalize_asset_name("a..b...") == "a.b"
    assert normalize_asset_name("ok_name-1.2.3+meta.zip") == "ok_name-1.2.3+meta.zip"
    # the published download URL is re-derived from the tag
    pub = api.patch(rel["url"], json={"draft": False, "make_latest": "true"}).json()
    assert pub["assets"][0]["browser_download_url"].endswith(
        "/releases/download/v1.0.0/plugin-linux-amd64-v1.0.0.tar.gz"
    )
    stored = gh.release(OWNER, REPO, rel["id"]).assets[0]
    assert stored.read_bytes() == data and stored.digest == asset["digest"]


def test_upload_protocol_errors(gh: FakeGitHub, api: Client) -> None:
    rel = api.create("v1.0.0", draft=True)
    # the API host does not take uploads: clients that ignore upload_url fail
    wrong = api.post(f"{rel['url']}/assets?name=a.tar.gz", data=b"abc", headers={"Content-Type": "application/gzip"})
    assert wrong.status_code == 404
    # chunked (no Content-Length) -> 411
    upload = rel["upload_url"].split("{")[0]
    chunked = api.post(upload, params={"name": "a.tar.gz"}, data=iter([b"abc"]), headers={"Content-Type": "x/y"})
    assert chunked.status_code == 411
    no_type = requests.post(
        upload, params={"name": "a.tar.gz"}, data=b"abc", headers={"Authorization": f"Bearer {WRITE}"}, timeout=10
    )
    assert no_type.status_code == 422
    assert api.post(upload, data=b"abc", headers={"Content-Type": "x/y"}).status_code == 422  # no name
    assert Client(gh, READ).upload(rel, "a.tar.gz", b"abc").status_code == 403
    assert Client(gh, None).upload(rel, "a.tar.gz", b"abc").status_code == 401
    ghost = dict(rel, upload_url=rel["upload_url"].replace(str(rel["id"]), "999"))
    assert api.upload(ghost, "a.tar.gz", b"abc").status_code == 404
    assert gh.release(OWNER, REPO, rel["id"]).assets == []
    # after all those errors the keep-alive connection still works
    assert api.upload(rel, "a.tar.gz", b"abc").status_code == 201


def test_upload_is_streamed_not_buffered(gh: FakeGitHub, api: Client, tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    src = tmp_path / "big.bin"
    h = hashlib.sha256()
    with src.open("wb") as f:
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(size // len(block)):
            f.write(block)
            h.update(block)
    rel = api.create("v1.0.0", draft=True)
    tracemalloc.start()
    try:
        with src.open("rb") as f:
            r = api.upload(rel, "big.bin", f, "application/octet-stream")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 201, r.text
    assert r.json()["size"] == size
    assert r.json()["digest"] == f"sha256:{h.hexdigest()}"
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak} for a {size} byte upload"
    # downloads are streamed as well
    d = api.get(r.json()["url"], headers={"Accept": "application/octet-stream"}, stream=True)
    got = hashlib.sha256()
    for chunk in d.iter_content(1024 * 1024):
        got.update(chunk)
    assert got.hexdigest() == h.hexdigest()


def test_asset_endpoints(gh: FakeGitHub, api: Client) -> None:
    rel = api.create("v1.0.0", draft=True)
    for i in range(5):
        assert api.upload(rel, f"f{i}.txt", f"content {i}".encode(), "text/plain").status_code == 201
    page1 = api.get(f"{rel['assets_url']}?per_page=2")
    assert [a["name"] for a in page1.json()] == ["f0.txt", "f1.txt"]
    names = [a["name"] for a in page1.json()]
    url: str | None = parse_links(page1).get("next")
    while url:
        r = api.get(url)
        names += [a["name"] for a in r.json()]
        url = parse_links(r).get("next")
    assert names == [f"f{i}.txt" for i in range(5)]
    assert Client(gh, None).get(rel["assets_url"]).status_code == 404  # draft
    asset = page1.json()[0]
    assert api.get(asset["url"]).json()["name"] == "f0.txt"
    # octet-stream -> 302 to a signed URL on another host; requests drops Authorization there
    raw = api.get(asset["url"], headers={"Accept": "application/octet-stream"}, allow_redirects=False)
    assert raw.status_code == 302 and "localhost" in raw.headers["Location"]
    got = api.get(asset["url"], headers={"Accept": "application/octet-stream"})
    assert got.content == b"content 0"
    assert "authorization" not in gh.requests("GET", "object")[-1].headers
    # PATCH: rename (normalised) + label, rename collision
    p = api.patch(asset["url"], json={"name": "renamed file.txt", "label": "L"})
    assert p.status_code == 200 and (p.json()["name"], p.json()["label"]) == ("renamed.file.txt", "L")
    clash = api.patch(asset["url"], json={"name": "f1.txt"})
    assert clash.status_code == 422 and errors_of(clash)[0]["code"] == "already_exists"
    assert Client(gh, READ).delete(asset["url"]).status_code == 403
    assert api.delete(asset["url"]).status_code == 204
    assert api.delete(asset["url"]).status_code == 404  # someone else won the delete
    assert api.get(asset["url"]).status_code == 404
    assert len(api.get(rel["assets_url"]).json()) == 4


def test_browser_download_and_counts(gh: FakeGitHub, api: Client) -> None:
    rel = api.create("v1.0.0", draft=True)
    asset = api.upload(rel, "plugin.tar.gz", b"tarball").json()
    assert requests.get(asset["browser_download_url"], timeout=10).status_code == 404  # untagged draft URL
    pub = api.patch(rel["url"], json={"draft": False, "make_latest": "true"}).json()
    url = pub["assets"][0]["browser_download_url"]
    assert url == f"{gh.server_url}/{OWNER}/{REPO}/releases/download/v1.0.0/plugin.tar.gz"
    for _ in range(2):
        r = requests.get(url, timeout=10)
        assert r.status_code == 200 and r.content == b"tarball"
        assert r.history[0].status_code == 302
    assert api.get(asset["url"]).json()["download_count"] == 2
    assert requests.get(url.replace("plugin.tar.gz", "nope.tar.gz"), timeout=10).status_code == 404


def test_seeded_assets_from_bytes_and_paths(gh: FakeGitHub, api: Client, tmp_path: Path) -> None:
    f = tmp_path / "checksums.txt"
    f.write_bytes(b"abc  plugin.tar.gz\n")
    seeded = gh.add_release(OWNER, REPO, "v1.0.0", assets={"plugin.tar.gz": b"tgz", "checksums.txt": f})
    assert [a.name for a in seeded.assets] == ["plugin.tar.gz", "checksums.txt"]
    starter = gh.add_asset(OWNER, REPO, seeded.id, "partial.tar.gz", b"", state="starter")
    assets = api.get(rel_path(f"/{seeded.id}/assets")).json()
    assert [(a["name"], a["state"]) for a in assets] == [
        ("plugin.tar.gz", "uploaded"),
        ("checksums.txt", "uploaded"),
        ("partial.tar.gz", "starter"),
    ]
    assert assets[1]["digest"] == "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest()
    assert starter.digest is None
    assert requests.get(assets[1]["browser_download_url"], timeout=10).content == f.read_bytes()
    other = _start()
    other.add_release(OWNER, REPO, "v1.0.0", assets={"checksums.txt": f})
    other.stop()
    assert f.exists()  # a seeded Path is served in place and never deleted


def test_asset_order_by_name() -> None:
    fake = _start(asset_order="name")
    try:
        rel = fake.add_release(OWNER, REPO, "v1.0.0", assets={"b.tar.gz": b"b", "a.tar.gz": b"a"})
        assets = Client(fake).get(rel_path(f"/{rel.id}")).json()["assets"]
        assert [a["name"] for a in assets] == ["a.tar.gz", "b.tar.gz"]
    finally:
        fake.stop()


# --------------------------------------------------------------------------------------------------
# notes and contents
# --------------------------------------------------------------------------------------------------


def test_generate_notes(gh: FakeGitHub, api: Client) -> None:
    url = rel_path("/generate-notes")
    r = api.post(url, json={"tag_name": "v1.1.0", "previous_tag_name": "v1.0.0", "target_commitish": "main"})
    assert r.status_code == 200
    assert r.json()["name"] == "v1.1.0"
    assert "compare/v1.0.0...v1.1.0" in r.json()["body"]
    gh.add_release(OWNER, REPO, "v0.9.0")
    assert "compare/v0.9.0...v1.1.0" in api.post(url, json={"tag_name": "v1.1.0"}).json()["body"]
    gh.faults.notes_length = 130_000
    long = api.post(url, json={"tag_name": "v1.1.0", "previous_tag_name": "v1.0.0"}).json()["body"]
    assert len(long) == 130_000 and long.endswith("compare/v1.0.0...v1.1.0")
    # such a body must be truncated by the client before it is accepted
    assert api.post(rel_path(), json={"tag_name": "v1.1.0", "body": long}).status_code == 422
    assert Client(gh, READ).post(url, json={"tag_name": "v1.1.0"}).status_code == 403
    assert api.post(url, json={}).status_code == 422
    gh.faults.notes_length = None
    gen = api.create("v2.0.0", generate_release_notes=True, body="Intro")
    assert gen["body"].startswith("Intro\n\n## What's Changed")


def test_contents_api(gh: FakeGitHub) -> None:
    anon = Client(gh, None)
    r = anon.get(f"/repos/{OWNER}/{REPO}/contents/gatewayd_plugin.yaml")
    assert r.status_code == 200
    body = r.json()
    assert body["encoding"] == "base64" and body["type"] == "file"
    assert base64.b64decode(body["content"]) == PLUGIN_YAML
    assert body["sha"] == hashlib.sha1(b"blob %d\0" % len(PLUGIN_YAML) + PLUGIN_YAML).hexdigest()
    raw = anon.get(
        f"/repos/{OWNER}/{REPO}/contents/gatewayd_plugin.yaml", headers={"Accept": "application/vnd.github.raw"}
    )
    assert raw.content == PLUGIN_YAML
    gh.set_file(OWNER, REPO, "gatewayd_plugin.yaml", b"plugins: []\n", ref="develop")
    dev = anon.get(f"/repos/{OWNER}/{REPO}/contents/gatewayd_plugin.yaml?ref=develop").json()
    assert base64.b64decode(dev["content"]) == b"plugins: []\n"
    assert anon.get(f"/repos/{OWNER}/{REPO}/contents/gatewayd_plugin.yaml?ref=nope").status_code == 404
    assert anon.get(f"/repos/{OWNER}/{REPO}/contents/missing.yaml").status_code == 404
    listing = anon.get(f"/repos/{OWNER}/{REPO}/contents").json()
    assert {(e["name"], e["type"]) for e in listing} == {("gatewayd_plugin.yaml", "file"), ("docs", "dir")}


# --------------------------------------------------------------------------------------------------
# GHES prefix mode
# --------------------------------------------------------------------------------------------------


def test_ghes_prefixes(ghes: FakeGitHub) -> None:
    api = Client(ghes)
    assert ghes.api_url == ghes.server_url + "/api/v3"
    rel = api.create("v1.0.0", draft=True)
    assert rel["url"].startswith(ghes.server_url + "/api/v3/repos/")
    assert rel["upload_url"].startswith(ghes.server_url + "/api/uploads/repos/")
    assert api.upload(rel, "a.tar.gz", b"abc").status_code == 201
    # the API prefix does not accept uploads, and API paths need the prefix
    wrong = requests.post(
        rel["upload_url"].split("{")[0].replace("/api/uploads/", "/api/v3/"),
        params={"name": "b.tar.gz"},
        data=b"abc",
        headers={"Authorization": f"Bearer {WRITE}", "Content-Type": "application/gzip"},
        timeout=10,
    )
    assert wrong.status_code == 404
    assert requests.get(f"{ghes.server_url}/repos/{OWNER}/{REPO}", timeout=10).status_code == 404
    assert api.get(f"/repos/{OWNER}/{REPO}").status_code == 200
    for i in range(3):
        ghes.add_release(OWNER, REPO, f"v0.{i}.0")
    r = api.get(rel_path() + "?per_page=1")
    assert parse_links(r)["next"].startswith(ghes.api_url + "/repositories/")
    pub = api.patch(rel["url"], json={"draft": False, "make_latest": "true"}).json()
    assert requests.get(pub["assets"][0]["browser_download_url"], timeout=10).content == b"abc"


# --------------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------------


def test_fault_latency(gh: FakeGitHub, api: Client) -> None:
    gh.faults.latency_ms = 100
    t0 = time.monotonic()
    for _ in range(3):
        api.get(f"/repos/{OWNER}/{REPO}")
    assert time.monotonic() - t0 >= 0.3


def test_fault_fail_next(gh: FakeGitHub, api: Client) -> None:
    api.create("v1.0.0")
    gh.faults.fail_next(("GET", "release_by_tag"), status=502, times=2)
    assert [api.get(rel_path("/tags/v1.0.0")).status_code for _ in range(3)] == [502, 502, 200]
    gh.faults.fail_next("create_release", status=500)
    assert api.post(rel_path(), json={"tag_name": "v2.0.0"}).status_code == 500
    assert len(gh.releases(OWNER, REPO)) == 1  # nothing was created
    gh.faults.fail_next("*", status=503, body="<html>Unicorn!</html>", content_type="text/html")
    r = api.get(f"/repos/{OWNER}/{REPO}")
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
    assert not gh.faults.pending()
    assert [e.faults for e in gh.requests("POST", "releases")][-1] == ("fail_500",)
    with pytest.raises(ValueError, match="unknown route"):
        gh.faults.fail_next("no_such_route")


def test_fault_upload_502_leaves_starter(gh: FakeGitHub, api: Client) -> None:
    rel = api.create("v1.0.0", draft=True)
    gh.faults.upload_502_leaves_starter()
    assert api.upload(rel, "a.tar.gz", b"abc").status_code == 502
    assets = api.get(rel["assets_url"]).json()
    assert [(a["name"], a["state"], a["size"]) for a in assets] == [("a.tar.gz", "starter", 0)]
    retry = api.upload(rel, "a.tar.gz", b"abc")
    assert retry.status_code == 422 and errors_of(retry)[0]["code"] == "already_exists"
    assert api.get(assets[0]["url"], headers={"Accept": "application/octet-stream"}).status_code == 404
    assert api.delete(assets[0]["url"]).status_code == 204
    assert api.upload(rel, "a.tar.gz", b"abc").status_code == 201


def test_fault_drop_connection_mid_upload(gh: FakeGitHub, api: Client) -> None:
    rel = api.create("v1.0.0", draft=True)
    body = b"x" * (4 * 1024 * 1024)
    gh.faults.drop_connection(("POST", "upload"), after_bytes=64 * 1024)
    with pytest.raises(requests.ConnectionError):
        api.upload(rel, "a.tar.gz", body)
    assert api.get(rel["assets_url"]).json() == []
    entry = gh.requests("POST", "upload")[-1]
    assert entry.status == 0 and entry.body_size <= 64 * 1024
    gh.faults.drop_connection(("POST", "upload"), leave_starter=True)
    with pytest.raises(requests.ConnectionError):
        api.upload(rel, "a.tar.gz", body)
    assert [a["state"] for a in api.get(rel["assets_url"]).json()] == ["starter"]
    # a response lost after the create happened
    gh.faults.drop_connection("create_release", after_processing=True)
    with pytest.raises(requests.ConnectionError):
        api.post(rel_path(), json={"tag_name": "v2.0.0"})
    assert api.get(rel_path("/tags/v2.0.0")).status_code == 200


def test_fault_secondary_rate_limit(gh: FakeGitHub, api: Client) -> None:
    gh.faults.secondary_rate_limit(("GET", "releases"), retry_after=1)
    r = api.get(rel_path())
    assert r.status_code == 403
    assert r.headers["Retry-After"] == "1"
    assert r.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert int(r.headers["X-RateLimit-Remaining"]) > 0
    assert api.get(rel_path()).status_code == 200
    gh.faults.secondary_rate_limit("upload", status=429, retry_after=0.2, times=2)
    rel = api.create("v1.0.0", draft=True)
    codes = [api.upload(rel, "a.txt", b"a", "text/plain") for _ in range(3)]
    assert [c.status_code for c in codes] == [429, 429, 201]
    assert codes[0].headers["Retry-After"] == "0.2"
    gh.faults.secondary_rate_limit(retry_after=None)
    assert "Retry-After" not in api.get(rel_path()).headers


def test_fault_primary_rate_limit(gh: FakeGitHub, api: Client) -> None:
    gh.faults.primary_rate_limit(reset_in=1.5)
    r = api.get(rel_path())
    assert r.status_code == 403
    assert r.headers["X-RateLimit-Remaining"] == "0"
    reset = int(r.headers["X-RateLimit-Reset"])
    assert 0 < reset - time.time() <= 3
    assert "API rate limit exceeded" in r.json()["message"]
    assert api.get(f"/repos/{OWNER}/{REPO}").status_code == 403  # every route, until the reset
    assert api.get("/rate_limit").json()["resources"]["core"]["remaining"] == 0
    time.sleep(max(0.0, reset - time.time()) + 0.1)
    ok = api.get(rel_path())
    assert ok.status_code == 200 and int(ok.headers["X-RateLimit-Remaining"]) > 0


def test_fault_eventual_consistency(gh: FakeGitHub, api: Client) -> None:
    gh.faults.eventual_consistency(reads=2)
    rel = api.create("v1.0.0")
    assert api.get(rel_path("/tags/v1.0.0")).status_code == 404
    assert api.get(rel_path()).json() == []
    assert api.get(rel_path("/tags/v1.0.0")).status_code == 200
    assert api.get(rel["url"]).status_code == 200  # by id is consistent
    gh.faults.eventual_consistency(reads=0, seconds=0.5)
    api.create("v2.0.0", draft=True)
    assert [x["tag_name"] for x in api.get(rel_path()).json()] == ["v1.0.0"]
    time.sleep(0.6)
    assert [x["tag_name"] for x in api.get(rel_path()).json()] == ["v2.0.0", "v1.0.0"]
    gh.faults.eventual_consistency(reads=0, seconds=0.5, by_id=True)  # read-after-create lag
    lagging = api.create("v3.0.0", draft=True)
    assert api.get(lagging["url"]).status_code == 404
    assert api.get(lagging["url"] + "/assets").status_code == 404
    time.sleep(0.6)
    assert api.get(lagging["url"]).status_code == 200
    assert api.get(lagging["url"] + "/assets").json() == []


def test_fault_race_create(gh: FakeGitHub, api: Client) -> None:
    gh.faults.race_create()
    r = api.post(rel_path(), json={"tag_name": "v1.0.0", "draft": False})
    assert r.status_code == 422 and errors_of(r)[0]["code"] == "already_exists"
    winner = api.get(rel_path("/tags/v1.0.0")).json()
    assert winner["author"]["login"] == "other-job[bot]"
    gh.faults.race_create(draft=True)
    mine = api.create("v2.0.0", draft=True)
    drafts = [x for x in api.get(rel_path()).json() if x["tag_name"] == "v2.0.0"]
    assert len(drafts) == 2 and mine["id"] in {d["id"] for d in drafts}


def test_fault_timeout(gh: FakeGitHub, api: Client) -> None:
    gh.faults.timeout_next(("GET", "release_by_tag"), seconds=3)
    with pytest.raises(requests.Timeout):
        api.get(rel_path("/tags/v1.0.0"), timeout=0.5)
    assert api.get(rel_path("/tags/v1.0.0"), timeout=5).status_code == 404
    gh.faults.timeout_next("create_release", seconds=3, after_processing=True)
    with pytest.raises(requests.Timeout):
        api.post(rel_path(), json={"tag_name": "v1.0.0"}, timeout=0.5)
    assert api.get(rel_path("/tags/v1.0.0")).status_code == 200  # it happened anyway


def test_many_concurrent_clients(gh: FakeGitHub) -> None:
    rel = Client(gh).create("v1.0.0", draft=True)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            c = Client(gh)
            assert c.upload(rel, f"file-{i}.bin", bytes([i]) * 100_000, "application/octet-stream").status_code == 201
            assert c.get(rel["assets_url"] + "?per_page=100").status_code == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(gh.release(OWNER, REPO, rel["id"]).assets) == 16


def test_stop_cuts_keepalive_connections() -> None:
    fake = _start()
    api = Client(fake)
    url = api.url(f"/repos/{OWNER}/{REPO}")
    assert api.get(url).status_code == 200  # opens a keep-alive connection
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        api.get(url, timeout=5)


_PUBLISHER = """
import json, sys, urllib.request, urllib.error
api, token, barrier_file, releases = sys.argv[1:5]
def call(method, url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method=method, headers={
        "Authorization": "Bearer " + token, "Accept": "application/vnd.github+json",
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
status, draft = call("POST", api + releases, {"tag_name": "v1.0.0", "draft": True})
assert status == 201, draft
import os, time
open(barrier_file + "." + str(os.getpid()), "w").close()
while len([p for p in os.listdir(os.path.dirname(barrier_file))]) < 2:
    time.sleep(0.01)
status, body = call("PATCH", draft["url"], {"draft": False, "make_latest": "true"})
print(status, (body.get("errors") or [{}])[0].get("code", ""))
"""


def test_two_processes_publishing_the_same_tag(gh: FakeGitHub, tmp_path: Path) -> None:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PUBLISHER, gh.api_url, WRITE, str(barrier / "b"), rel_path()],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outputs == ["200", "422 already_exists"]
    rels = gh.releases(OWNER, REPO)
    assert len(rels) == 2 and sorted(r.draft for r in rels) == [False, True]  # the loser's draft remains


def test_faults_pending_and_clear(gh: FakeGitHub, api: Client) -> None:
    gh.faults.fail_next("upload", 500, times=3)
    gh.faults.latency_ms = 5
    gh.faults.notes_length = 10
    assert [f.remaining for f in gh.faults.pending()] == [3]
    gh.faults.clear()
    assert gh.faults.pending() == [] and gh.faults.latency_ms == 0 and gh.faults.notes_length is None
    with pytest.raises(ValueError):
        gh.faults.fail_next("upload", times=0)
    with pytest.raises(ValueError):
        gh.faults.secondary_rate_limit(status=500)


def test_repositories_id_alias(gh: FakeGitHub, api: Client) -> None:
    repo_id = api.get(f"/repos/{OWNER}/{REPO}").json()["id"]
    api.create("v1.0.0")
    r = api.get(f"/repositories/{repo_id}/releases/tags/v1.0.0")
    assert r.status_code == 200 and gh.requests_log[-1].route == "release_by_tag"
    assert api.get("/repositories/1/releases").status_code == 404
