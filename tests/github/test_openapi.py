"""The check of our exchanges with the fake GitHubs against GitHub's official OpenAPI description
(``tests/fixtures/openapi.py``, the description fetched by ``tools/openapi_spec.py``): it is the pinned one, it is
really applied to publish runs, and it flags wrong requests and wrong answers."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import requests

from gatewayd_plugin_actions.github.client import USER_AGENT
from tests.conftest import REPO_ROOT, RunCli, clean_env
from tests.fakes import exchanges
from tests.fakes.exchanges import Exchange
from tests.fakes.fake_github import FakeGitHub
from tests.fakes.indie_github import IndieGitHub
from tests.fixtures.github import OWNER, REPO, REPOSITORY, TOKEN, PublishDist
from tests.fixtures.openapi import api_description, conformance_problems, description_path


@pytest.fixture
def spec_tool(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(REPO_ROOT / "tools"))
    yield importlib.import_module("openapi_spec")
    sys.modules.pop("openapi_spec", None)


def test_the_cached_description_is_the_pinned_version(spec_tool: ModuleType) -> None:
    spec = json.loads(description_path().read_bytes())
    assert spec["info"]["version"] == spec_tool.VERSION
    assert spec["openapi"].startswith("3.0")
    assert "/repos/{owner}/{repo}/releases" in spec["paths"]


def test_other_bytes_than_the_pinned_integrity_are_refused(spec_tool: ModuleType, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(spec_tool, "INTEGRITY", "sha512-" + "A" * 86 + "==")
    with pytest.raises(spec_tool.SpecError, match="not the pinned sha512-AAAA"):
        spec_tool.ensure()
    assert not spec_tool.spec_file().exists()
    assert not any(tmp_path.rglob("*.tgz")), "the tarball is not left behind"


def our_request(fake: FakeGitHub | IndieGitHub, method: str, path: str, **kwargs: object) -> None:
    headers = {"User-Agent": USER_AGENT, "Authorization": f"Bearer {TOKEN}",
               "Accept": "application/vnd.github+json", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    requests.request(method, fake.api_url + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def problems_of(seen: list[Exchange], method: str, path: str) -> list[str]:
    mine = [e for e in seen if e.method == method and e.path == path]
    assert mine, f"no {method} {path} in {[str(e) for e in seen]}"
    return conformance_problems(mine)


@pytest.mark.openapi_exempt("sends wrong requests on purpose, to see them flagged")
@pytest.mark.parametrize("fake_kind", ["fake_github", "indie_github"])
def test_wrong_requests_to_either_fake_are_flagged(fake_kind: str) -> None:
    fake: FakeGitHub | IndieGitHub = FakeGitHub() if fake_kind == "fake_github" else IndieGitHub()
    seen: list[Exchange] = []
    with fake, exchanges.listen(seen.append):
        fake.add_repo(OWNER, REPO)
        fake.add_token(TOKEN, "write")
        releases = f"/repos/{OWNER}/{REPO}/releases"
        our_request(fake, "POST", releases, json={"tag_name": "v1.0.0", "draft": "yes"})
        our_request(fake, "PATCH", releases + "/1", json={"make_lastest": "true"})
        our_request(fake, "GET", releases, params={"perpage": "100"})
        our_request(fake, "GET", releases + "/latest", params={"per_page": "many"})
        our_request(fake, "DELETE", f"/repos/{OWNER}/{REPO}/tags/v1.0.0")
        our_request(fake, "GET", f"/repos/{OWNER}/{REPO}")  # right: the control
    assert seen and all(e.fake == fake_kind for e in seen)
    bad_type = problems_of(seen, "POST", releases)
    assert any("draft: 'yes' is not of type 'boolean'" in p for p in bad_type), bad_type
    assert any("body field 'make_lastest' is not in the requestBody schema" in p
               for p in problems_of(seen, "PATCH", releases + "/1"))
    assert any("query parameter 'perpage' is not one the operation declares" in p
               for p in problems_of(seen, "GET", releases))
    assert any("per_page" in p for p in problems_of(seen, "GET", releases + "/latest"))
    assert any("no such operation" in p for p in problems_of(seen, "DELETE", f"/repos/{OWNER}/{REPO}/tags/v1.0.0"))
    assert problems_of(seen, "GET", f"/repos/{OWNER}/{REPO}") == []
    # Requests of other clients are not ours to check.
    assert conformance_problems([Exchange("fake_github", "api", "DELETE", "/nowhere", (),
                                          {"user-agent": "curl/8"}, None, 404)]) == []


ASSET_PATH = f"/repos/{OWNER}/{REPO}/releases/assets/7"


def asset_exchange(fake_answer: dict[str, object] | None = None, *, status: int = 200,
                   older_server: bool = False) -> Exchange:
    asset = {"url": f"https://api.github.com{ASSET_PATH}", "browser_download_url": "https://github.com/x",
             "id": 7, "node_id": "RA_x", "name": "a.tar.gz", "label": None, "state": "uploaded",
             "content_type": "application/gzip", "size": 3, "digest": "sha256:" + "0" * 64, "download_count": 0,
             "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z", "uploader": None}
    asset.update(fake_answer or {})
    return Exchange("fake_github", "api", "GET", ASSET_PATH, (), {"user-agent": USER_AGENT}, None, status,
                    "application/json; charset=utf-8", json.dumps(asset).encode(), older_server=older_server)


def test_wrong_answers_are_flagged() -> None:
    assert conformance_problems([asset_exchange()]) == []
    assert conformance_problems([asset_exchange({"state": "open", "digest": None})]) == []
    # `starter` is documented in the upload operation's text, not in the schema's enum: accepted (adapted).
    assert conformance_problems([asset_exchange({"state": "starter", "size": 0, "digest": None})]) == []
    finished = conformance_problems([asset_exchange({"state": "finished"})])
    assert any("'finished' is not one of" in p for p in finished), finished
    sized = conformance_problems([asset_exchange({"size": "3"})])
    assert any("size: '3' is not of type 'integer'" in p for p in sized), sized
    undocumented = conformance_problems([asset_exchange(status=418)])
    assert any("status 418 is not documented for this operation" in p for p in undocumented), undocumented
    # A server from before asset digests may leave `digest` out; github.com may not.
    without = {"state": "uploaded"}
    no_digest = asset_exchange(without)
    legacy = asset_exchange(without, older_server=True)
    for exchange in (no_digest, legacy):
        body = json.loads(exchange.response_body)
        del body["digest"]
        object.__setattr__(exchange, "response_body", json.dumps(body).encode())
    assert any("'digest' is a required property" in p for p in conformance_problems([no_digest]))
    assert conformance_problems([legacy]) == []


def test_every_call_of_a_publish_run_is_checked(run_cli: RunCli, fake_github: FakeGitHub,
                                                publish_dist: PublishDist, tmp_path: Path) -> None:
    """The autouse check sees what the CLI (a subprocess) sent: the publish flow's operations, all conforming."""
    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    seen: list[Exchange] = []
    env = clean_env(GITHUB_API_URL=fake_github.api_url, GITHUB_SERVER_URL=fake_github.server_url,
                    GITHUB_REPOSITORY=REPOSITORY, GITHUB_TOKEN=TOKEN)
    with exchanges.listen(seen.append):
        result = run_cli("publish", "--dist", publish_dist("v1.0.0"), "--version", "v1.0.0", "--no-gate", env=env)
    assert result.returncode == 0, result.stderr
    description = api_description()
    operations = {op.operation_id for e in seen if (op := description.operation(e.method, e.path)) is not None}
    assert {"repos/get", "repos/list-releases", "repos/create-release", "repos/generate-release-notes",
            "repos/upload-release-asset", "repos/list-release-assets", "repos/update-release"} <= operations
    assert all(e.request_headers["user-agent"] == USER_AGENT for e in seen)
    assert conformance_problems(seen) == []
