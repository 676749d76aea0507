"""HTTP side of the independent fake: real ``ThreadingHTTPServer`` instances on 127.0.0.1 (port 0).

github.com flavour: four servers, as on github.com: the API (``api.github.com``), the upload host
(``uploads.github.com``; the release's ``upload_url`` points there), the web server (``github.com``:
``browser_download_url`` lives there and answers 302) and an object store (``*.githubusercontent.com``: signed
URLs, no token needed). GHES flavour: one server, API under ``/api/v3``, uploads under ``/api/uploads``,
downloads under the host root and ``/storage``; rate limits are off (no ``x-ratelimit-*`` headers,
``/rate_limit`` → 404 "Rate limiting is not enabled.", as reported by GHES users) and so are rate-limit faults.

Also modelled: ``User-Agent`` is required (403 otherwise, documented); ``Authorization: Bearer|token``;
unknown token → 401 "Bad credentials"; no token → 401 on writes, 404 on a private repository; a read-only
token writing → 403 "Resource not accessible by integration"; drafts visible only with push access; Link
headers point at ``/repositories/{id}/…`` URLs (as github.com's do; undocumented, observed) and those URLs work.

Options: ``faults`` (see ``faults.py``), ``notes_padding`` (generate-notes returns more than a release body may
hold), ``old_fields`` (an older GHES: no asset ``digest``, no release ``immutable``).

Recorded for the tests: a request log (with JSON bodies), ``violations`` (a token in a URL; a token sent to the
object store on another host) and ``advisories`` (missing ``Accept: application/vnd.github+json`` /
``X-GitHub-Api-Version``: recommended, not enforced by GitHub).

Choices and GUESSES of this module: writes (uploads included) always see the newest state, only reads lag;
a ``starter`` asset exists (and holds its name) from the moment an upload's headers are accepted; the 5xx bodies
(JSON, or an HTML "Unicorn" page for 502); the API asset download answers 302 to the object store and a
``starter`` asset there is a 404; ``browser_download_url`` of drafts and of private repositories is a 404 without
a browser session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit

from tests.fakes import exchanges, github_shapes
from tests.fakes.indie_github.faults import PRE_KINDS, UPLOAD_KINDS, FaultMix, FaultPlanner
from tests.fakes.indie_github.model import (
    ASSET_LIMIT,
    ApiError,
    Asset,
    AssetView,
    Release,
    ReleaseView,
    Repo,
    Token,
    apply_make_latest,
    check_tag_free,
    check_types,
    iso,
    latest_release,
    normalise_asset_name,
    validation_failed,
)

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                     "If you reach out to GitHub Support for help, please include the request ID {rid}.")
UNICORN = b"<!DOCTYPE html><html><head><title>Unicorn! &middot; GitHub</title></head><body>No server is " \
          b"currently available to service your request.</body></html>"


@dataclass(frozen=True)
class LogEntry:
    """One request as the fake saw it. ``status`` is None when the connection was closed without an answer."""

    seq: int
    role: str  # "api" | "uploads" | "web" | "objects"
    method: str
    path: str  # without the query string and without the GHES prefix
    query: str
    status: int | None
    fault: str | None
    token: str  # "none" | "write" | "read" | "unknown"
    started: float
    ended: float
    body: str = ""  # the JSON body of an API request (uploads: empty), long strings cut at 200 characters

    @property
    def is_write(self) -> bool:
        return self.role in ("api", "uploads") and self.method in WRITE_METHODS

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        fault = f" [{self.fault}]" if self.fault else ""
        return f"#{self.seq} {self.role:7} {self.method:6} {self.path}{query} -> {self.status}{fault}"


def _summary(payload: dict[str, Any]) -> str:
    return json.dumps({k: v[:200] if isinstance(v, str) else v for k, v in payload.items()}) if payload else ""


class _Drop(Exception):
    """Close the connection without an answer."""


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload, indent=1).encode(), headers=dict(headers or {}))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: IndieGitHub, mounts: list[tuple[str, str]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.mounts = mounts  # (path prefix, role), longest prefix first

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:  # dropped connections are expected
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_HEAD(self) -> None:
        self.server.fake._handle(self, "HEAD")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_PATCH(self) -> None:
        self.server.fake._handle(self, "PATCH")

    def do_PUT(self) -> None:
        self.server.fake._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")


@dataclass
class _Ctx:
    """One request being handled."""

    handler: _Handler
    method: str
    role: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    token: Token | None
    token_kind: str
    started: float
    fault: str | None = None
    body_read: bool = False
    payload: dict[str, Any] = field(default_factory=dict)
    raw_body: bytes | None = None  # a JSON body as read (for the request log's listeners)

    def header(self, name: str) -> str | None:
        return self.handler.headers.get(name)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class IndieGitHub:
    """An independent fake of GitHub's Releases REST API. Use as a context manager, or ``start()``/``stop()``.

    >>> with IndieGitHub(faults=FaultMix.mixed(seed=3)) as gh:
    ...     gh.add_repo("o", "r"); gh.add_token("t", "write")
    ...     # GITHUB_API_URL=gh.api_url GITHUB_SERVER_URL=gh.server_url ...
    """

    def __init__(self, *, flavour: str = "github", faults: FaultMix | None = None, rate_limit: int = 5000,
                 notes_padding: int = 0, old_fields: bool = False) -> None:
        """``notes_padding``: extra characters in generated notes (a long history: GitHub then returns more than
        the 125 000 characters a release body may hold, as reported in confluentinc/vscode#2801).
        ``old_fields``: an older server (GHES before asset digests and immutable releases): no ``digest`` on
        assets, no ``immutable`` on releases."""
        if flavour not in ("github", "ghes"):
            raise ValueError(flavour)
        self.flavour = flavour
        self.notes_padding = notes_padding
        self.old_fields = old_fields
        self.faults = faults or FaultMix()
        self.planner = FaultPlanner(self.faults)
        self.rate_limit = rate_limit
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}
        self.tokens: dict[str, Token] = {}
        self._log: list[LogEntry] = []
        self.violations: list[str] = []
        self.advisories: set[str] = set()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        ids = random.Random(f"ids:{self.faults.seed}")
        self._next_release = 180_000_000 + ids.randrange(1_000_000)
        self._next_asset = 260_000_000 + ids.randrange(1_000_000)
        self._next_repo = 700_000 + ids.randrange(1000)
        self._objects: dict[str, tuple[str, str, int, int]] = {}  # key -> (owner, repo, release id, asset id)
        self._used: dict[str, int] = {}
        self._window_start = time.time()
        self._primary_reset = 0
        self._seq = 0
        self.api_url = self.uploads_url = self.server_url = self.objects_url = ""

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> IndieGitHub:
        if self.flavour == "github":
            api, uploads = _Server(self, [("", "api")]), _Server(self, [("", "uploads")])
            web, objects = _Server(self, [("", "web")]), _Server(self, [("", "objects")])
            self._servers = [api, uploads, web, objects]
            self.api_url, self.uploads_url = api.base, uploads.base
            self.server_url, self.objects_url = web.base, objects.base
        else:
            one = _Server(self, [("/api/v3", "api"), ("/api/uploads", "uploads"), ("/storage", "objects"),
                                 ("", "web")])
            self._servers = [one]
            self.api_url, self.uploads_url = one.base + "/api/v3", one.base + "/api/uploads"
            self.server_url, self.objects_url = one.base, one.base + "/storage"
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> IndieGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- seeding ----------------------------------------------------------------------------------------------

    def add_token(self, value: str, access: str = "write", login: str = "github-actions[bot]", *,
                  workflows: bool = False) -> None:
        """``workflows``: the token may change workflow files (a job's GITHUB_TOKEN never may)."""
        if access not in ("write", "read"):
            raise ValueError(access)
        with self.lock:
            self.tokens[value] = Token(value, access, login, workflows)

    def touch_workflows(self, owner: str, name: str, commit: str | None = None) -> None:
        """Make ``commit`` (default: the default branch's head) one that changes ``.github/workflows/``: creating
        or updating a release that targets it then needs a token allowed to change workflows (documented)."""
        with self.lock:
            repo = self._repo(owner, name)
            repo.workflow_commits.add(commit or repo.default_branch)

    def add_repo(self, owner: str, name: str, *, private: bool = False, immutable_releases: bool = False,
                 tags: tuple[str, ...] = ()) -> None:
        with self.lock:
            self._next_repo += 1
            repo = Repo(owner, name, self._next_repo, private=private, immutable_releases=immutable_releases)
            self.repos[(owner.lower(), name.lower())] = repo
            for tag in tags:
                repo.tags[tag] = self._sha(tag)

    def add_tag(self, owner: str, name: str, tag: str) -> None:
        with self.lock:
            self._repo(owner, name).tags[tag] = self._sha(tag)

    def seed_release(self, owner: str, name: str, tag: str, *, draft: bool = False, prerelease: bool = False,
                     immutable: bool = False, latest: bool | None = None, assets: dict[str, bytes] | None = None,
                     starter_assets: tuple[str, ...] = (), open_assets: dict[str, bytes] | None = None,
                     age: float = 3600.0, body: str = "seeded") -> int:
        """Put a release straight into the state (no request, no fault). ``latest``: True marks it latest,
        False publishes it with make_latest "false", None leaves the pointer alone. ``age`` seconds back.
        ``open_assets``: assets left in state ``open`` (an interrupted upload) holding the given bytes."""
        with self.lock:
            repo = self._repo(owner, name)
            created = time.time() - age
            release = self._new_release(repo, tag, "main", tag, body, draft, prerelease, created)
            release.visible_at = release.published_visible_at = created
            if not draft:
                release.published_at = created
                release.immutable = immutable
                repo.tags.setdefault(tag, self._sha(tag))
                if latest is True:
                    repo.latest_history.append((created, release.id))
                elif latest is False:
                    apply_make_latest(repo, release, "false", newly_published=True, effective=created)
            for asset_name, data in (assets or {}).items():
                asset = self._new_asset(repo, release, asset_name, None, "application/octet-stream", created)
                asset.data, asset.state, asset.visible_at = data, "uploaded", created
            for asset_name in starter_assets:
                asset = self._new_asset(repo, release, asset_name, None, "application/octet-stream", created)
                asset.visible_at = created
            for asset_name, data in (open_assets or {}).items():
                asset = self._new_asset(repo, release, asset_name, None, "application/octet-stream", created)
                asset.data, asset.state, asset.visible_at = data, "open", created
            return release.id

    # --- inspection (true state, no eventual consistency) -------------------------------------------------

    def releases(self, owner: str, name: str, tag: str | None = None) -> list[ReleaseView]:
        with self.lock:
            repo = self._repo(owner, name)
            latest = latest_release(repo)
            out = []
            for release in sorted(repo.releases.values(), key=lambda r: r.id):
                if tag is not None and release.tag_name != tag:
                    continue
                assets = tuple(AssetView(a.id, a.name, a.label, a.state, a.size, a.content_type, a.sha256)
                               for a in sorted(release.assets.values(), key=lambda a: a.id))
                out.append(ReleaseView(release.id, release.tag_name, release.name, release.body, release.draft,
                                       release.prerelease, release.immutable,
                                       latest is not None and latest.id == release.id, assets))
            return out

    def latest_tag(self, owner: str, name: str) -> str | None:
        with self.lock:
            latest = latest_release(self._repo(owner, name))
            return latest.tag_name if latest else None

    @property
    def log(self) -> list[LogEntry]:
        with self.lock:
            return list(self._log)

    def writes(self, *, ok_only: bool = False) -> list[LogEntry]:
        return [e for e in self.log if e.is_write and (e.ok or not ok_only)]

    def faults_fired(self) -> list[LogEntry]:
        return [e for e in self.log if e.fault]

    def log_text(self, limit: int = 200) -> str:
        entries = self.log
        lines = [str(e) for e in entries[-limit:]]
        return "\n".join(lines)

    # --- internals: state helpers (lock held) -----------------------------------------------------------

    def _sha(self, text: str) -> str:
        return hashlib.sha1(f"commit:{text}".encode()).hexdigest()

    def _repo(self, owner: str, name: str) -> Repo:
        repo = self.repos.get((owner.lower(), name.lower()))
        if repo is None:
            raise ApiError(404, "Not Found")
        return repo

    def _new_release(self, repo: Repo, tag: str, target: str, name: str | None, body: str | None, draft: bool,
                     prerelease: bool, now: float) -> Release:
        self._next_release += random.Random(f"gap:{self._next_release}").randrange(1, 40)
        release = Release(self._next_release, tag, target, name, body, draft, prerelease, False, now, now,
                          None, now, now, "github-actions[bot]",
                          hashlib.sha1(f"untagged:{self._next_release}".encode()).hexdigest()[:20])
        repo.releases[release.id] = release
        return release

    def _new_asset(self, repo: Repo, release: Release, name: str, label: str | None, content_type: str,
                   now: float) -> Asset:
        self._next_asset += random.Random(f"gap:{self._next_asset}").randrange(1, 40)
        key = hashlib.sha256(f"object:{self.faults.seed}:{self._next_asset}".encode()).hexdigest()[:32]
        asset = Asset(self._next_asset, release.id, name, label, content_type, "starter", now, now, now,
                      "github-actions[bot]", key)
        release.assets[asset.id] = asset
        self._objects[key] = (repo.owner, repo.name, release.id, asset.id)
        return asset

    # --- request handling -------------------------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str) -> None:
        started = time.time()
        split = urlsplit(handler.path)
        path = split.path
        role = "web"
        for prefix, mount_role in handler.server.mounts:
            if prefix in ("", path) or path.startswith(prefix + "/"):
                role, path = mount_role, path[len(prefix):] or "/"
                break
        token, token_kind, bad_auth = self._token(handler)
        ctx = _Ctx(handler, method, role, path, parse_qs(split.query), split.query, token, token_kind, started)
        self._check_hygiene(ctx, handler.path)
        reply: _Reply | None = None
        try:
            if bad_auth and role in ("api", "uploads"):
                reply = _json_reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                          "status": "401"})
            elif not handler.headers.get("User-Agent") and role in ("api", "uploads"):
                reply = _json_reply(403, {"message": "Request forbidden by administrative rules. Please make sure "
                                                     "your request has a User-Agent header."})
            elif role in ("api", "uploads"):
                reply = self._api(ctx)
            elif role == "web":
                reply = self._web(ctx)
            else:
                reply = self._object(ctx)
        except (_Drop, OSError):
            reply = None  # dropped on purpose, or the client went away mid-request
        # Logged before the answer goes out: when the client has its answer, the log has the request.
        with self.lock:
            self._seq += 1
            self._log.append(LogEntry(self._seq, role, method, ctx.path, ctx.raw_query,
                                      reply.status if reply else None, ctx.fault, token_kind, started, time.time(),
                                      _summary(ctx.payload)))
        if role in ("api", "uploads") and exchanges.listening():
            if role == "api" and reply is not None and not ctx.body_read and method in WRITE_METHODS:
                self._read_unread_body(ctx)  # answered before reading it (a fault): still the request's body
            self._tell_listeners(ctx, reply)
        try:
            if reply is None:
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
            else:
                self._send(ctx, reply)
        except OSError:
            handler.close_connection = True

    @staticmethod
    def _read_unread_body(ctx: _Ctx) -> None:
        length = int(ctx.header("Content-Length") or 0)
        if 0 < length <= 1 << 20:
            with contextlib.suppress(OSError):
                ctx.raw_body = ctx.handler.rfile.read(length)
                ctx.body_read = True

    def _tell_listeners(self, ctx: _Ctx, reply: _Reply | None) -> None:
        exchanges.record(exchanges.Exchange(
            fake="indie_github", host=ctx.role, method=ctx.method, path=ctx.path,
            query=tuple(parse_qsl(ctx.raw_query, keep_blank_values=True)),
            request_headers=exchanges.redact_headers(dict(ctx.handler.headers.items())),
            request_body=ctx.raw_body if ctx.role == "api" else None, status=reply.status if reply else 0,
            response_content_type=reply.content_type if reply else "", response_body=reply.body if reply else b"",
            older_server=self.old_fields, faults=(ctx.fault,) if ctx.fault else ()))

    def _token(self, handler: _Handler) -> tuple[Token | None, str, bool]:
        header = handler.headers.get("Authorization")
        if not header:
            return None, "none", False
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() not in ("bearer", "token") or not value.strip():
            return None, "unknown", True
        with self.lock:
            token = self.tokens.get(value.strip())
        if token is None:
            return None, "unknown", True
        return token, token.access, False

    def _check_hygiene(self, ctx: _Ctx, raw_path: str) -> None:
        with self.lock:
            for value in self.tokens:
                if value in raw_path:
                    self.violations.append(f"token in URL: {ctx.method} {ctx.role} {ctx.path}")
            if "access_token=" in raw_path:
                self.violations.append(f"access_token query parameter: {ctx.method} {ctx.path}")
            if ctx.role == "objects" and ctx.header("Authorization") and self.flavour == "github":
                # Another host (objects.githubusercontent.com): a token sent there leaks. On GHES without
                # subdomain isolation /storage is the same origin as the API: not a leak.
                self.violations.append(f"Authorization header sent to the object store: {ctx.path}")
            if ctx.role in ("api", "uploads"):
                accept = ctx.header("Accept") or ""
                if "application/vnd.github" not in accept and "application/octet-stream" not in accept:
                    self.advisories.add(f"no 'Accept: application/vnd.github+json' ({ctx.method} {ctx.role})")
                if not ctx.header("X-GitHub-Api-Version"):
                    self.advisories.add(f"no X-GitHub-Api-Version header ({ctx.method} {ctx.role})")

    def _send(self, ctx: _Ctx, reply: _Reply) -> None:
        handler = ctx.handler
        if not ctx.body_read and ctx.method in WRITE_METHODS:
            # A refused upload/write whose body we did not read: do not reuse the connection.
            length = int(ctx.header("Content-Length") or 0)
            if length and length <= 1 << 20:
                with contextlib.suppress(OSError):
                    handler.rfile.read(length)
            else:
                handler.close_connection = True
        handler.send_response(reply.status)
        headers = {"Content-Type": reply.content_type, "Content-Length": str(len(reply.body)),
                   "X-GitHub-Request-Id": f"{ctx.started:.6f}".replace(".", ":"), **reply.headers}
        if ctx.role in ("api", "uploads") and self.flavour == "github" and "x-ratelimit-limit" not in headers:
            headers.update(self._rate_headers(ctx, count=True))
        for key, value in headers.items():
            handler.send_header(key, value)
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if ctx.method != "HEAD":
            handler.wfile.write(reply.body)

    def _rate_headers(self, ctx: _Ctx, *, count: bool, remaining_zero: bool = False) -> dict[str, str]:
        who = ctx.token.value if ctx.token else "anonymous"
        limit = self.rate_limit if ctx.token else 60
        with self.lock:
            used = self._used.get(who, 0) + (1 if count else 0)
            self._used[who] = used
        remaining = 0 if remaining_zero else max(0, limit - used)
        reset = self._primary_reset if remaining_zero else int(self._window_start) + 3600
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(reset), "x-ratelimit-used": str(min(used, limit)),
                "x-ratelimit-resource": "core"}

    def _body(self, ctx: _Ctx) -> dict[str, Any]:
        ctx.body_read = True
        handler = ctx.handler
        if (ctx.header("Transfer-Encoding") or "").lower() == "chunked":
            raw = b""
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    break
                raw += handler.rfile.read(size)
                handler.rfile.readline()
        else:
            raw = handler.rfile.read(int(ctx.header("Content-Length") or 0))
        ctx.raw_body = raw
        if not raw.strip():
            return {}
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON") from exc
        if not isinstance(payload, dict):
            raise ApiError(400, "Problems parsing JSON")
        return payload

    # --- faults -------------------------------------------------------------------------------------------

    def _fault_key(self, ctx: _Ctx) -> str:
        """Request identity for fault draws: ids replaced by tag / asset names (stable across runs)."""
        path = ctx.path
        with self.lock:
            def asset_name(match: re.Match[str]) -> str:
                for repo in self.repos.values():
                    for release in repo.releases.values():
                        asset = release.assets.get(int(match.group(1)))
                        if asset:
                            return f"/releases/assets/<{asset.name}>"
                return "/releases/assets/<gone>"

            def release_tag(match: re.Match[str]) -> str:
                for repo in self.repos.values():
                    release = repo.releases.get(int(match.group(1)))
                    if release:
                        return f"/releases/<{release.tag_name}>"
                return "/releases/<gone>"

            path = re.sub(r"/releases/assets/(\d+)", asset_name, path)
            path = re.sub(r"/releases/(\d+)", release_tag, path)
        name = ctx.param("name") or ""
        page = ctx.param("page") or ""
        return f"{ctx.role} {ctx.method} {path} {name} {page} {ctx.token_kind}"

    def _pre_fault(self, ctx: _Ctx, kind: str, pick: float) -> _Reply:
        rid = f"{ctx.started:.6f}"
        if kind == "server_error":
            status = (500, 502, 503, 504)[int(pick * 4)]
            if status == 502:
                return _Reply(502, UNICORN, content_type="text/html; charset=utf-8")
            message = {500: "Server Error", 503: "Service Unavailable",
                       504: "We couldn't respond to your request in time. Sorry about that. Please try resubmitting "
                            "your request and contact us if the problem persists."}[status]
            return _json_reply(status, {"message": message})
        if kind in ("secondary_403", "secondary_429", "secondary_bare"):
            headers = self._rate_headers(ctx, count=True)
            if kind != "secondary_bare":
                headers["Retry-After"] = str(self.faults.retry_after)
            return _json_reply(429 if kind == "secondary_429" else 403,
                               {"message": SECONDARY_MESSAGE.format(rid=rid), "documentation_url":
                                "https://docs.github.com/free-pro-team@latest/rest/overview/"
                                "rate-limits-for-the-rest-api#about-secondary-rate-limits"}, headers)
        # primary: the window starts now and ends at the next whole second (x-ratelimit-reset is epoch seconds)
        with self.lock:
            if self._primary_reset <= time.time():
                self._primary_reset = int(time.time()) + self.faults.primary_window
        return self._primary_reply(ctx)

    def _primary_reply(self, ctx: _Ctx) -> _Reply:
        headers = self._rate_headers(ctx, count=False, remaining_zero=True)
        return _json_reply(403, {"message": "API rate limit exceeded for installation ID 4242. If you reach out to "
                                            "GitHub Support for help, please include the request ID "
                                            f"{ctx.started:.6f}.", "documentation_url": RATE_DOCS}, headers)

    # --- API and uploads --------------------------------------------------------------------------------

    def _api(self, ctx: _Ctx) -> _Reply:
        is_upload = ctx.role == "uploads"
        kinds: tuple[str, ...] = PRE_KINDS if self.flavour == "github" else ("server_error",)
        if is_upload:
            kinds = (*kinds, *UPLOAD_KINDS)
        if ctx.method in WRITE_METHODS:
            kinds = (*kinds, "lost_response")
        key = self._fault_key(ctx)
        fault, latency, pick = self.planner.draw(key, kinds)
        if ctx.path == "/rate_limit":
            fault = None
        if latency:
            time.sleep(self.faults.latency_seconds)
        reply: _Reply | None = None
        try:
            reply = self._answer(ctx, fault, pick)
            return reply
        finally:
            self.planner.record(key, ctx.fault, reply.status if reply is not None else None)

    def _answer(self, ctx: _Ctx, fault: str | None, pick: float) -> _Reply:
        if self.flavour == "github" and time.time() < self._primary_reset and ctx.path != "/rate_limit":
            ctx.fault = "primary"
            return self._primary_reply(ctx)
        if fault in PRE_KINDS:
            ctx.fault = fault
            return self._pre_fault(ctx, fault, pick)
        try:
            if ctx.role == "uploads":
                return self._upload(ctx, fault)
            if ctx.method in ("POST", "PATCH", "PUT"):
                ctx.payload = self._body(ctx)  # read before taking the state lock
            reply = self._route(ctx)
        except ApiError as error:
            return _json_reply(error.status, error.body(), error.headers)
        if fault == "lost_response" and 200 <= reply.status < 300:
            ctx.fault = fault
            raise _Drop
        return reply

    def _repo_and_rest(self, path: str) -> tuple[Repo, str]:
        match = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        if match:
            return self._repo(unquote(match.group(1)), unquote(match.group(2))), match.group(3) or ""
        match = re.match(r"^/repositories/(\d+)(/.*)?$", path)
        if match:
            for repo in self.repos.values():
                if repo.id == int(match.group(1)):
                    return repo, match.group(2) or ""
        raise ApiError(404, "Not Found")

    def _authorize(self, ctx: _Ctx, repo: Repo, need: str) -> None:
        if ctx.token is None:
            if repo.private:
                raise ApiError(404, "Not Found")
            if need == "write":
                raise ApiError(401, "Requires authentication")
            return
        if need == "write" and ctx.token.access != "write":
            raise ApiError(403, "Resource not accessible by integration")

    def _can_push(self, ctx: _Ctx) -> bool:
        return ctx.token is not None and ctx.token.access == "write"

    def _route(self, ctx: _Ctx) -> _Reply:
        method, path = ctx.method, ctx.path
        if path == "/rate_limit" and method == "GET":
            if self.flavour == "ghes":
                raise ApiError(404, "Rate limiting is not enabled.")
            headers = self._rate_headers(ctx, count=False)
            core = {"limit": int(headers["x-ratelimit-limit"]), "remaining": int(headers["x-ratelimit-remaining"]),
                    "reset": int(headers["x-ratelimit-reset"]), "used": int(headers["x-ratelimit-used"])}
            if time.time() < self._primary_reset:
                core.update(remaining=0, reset=self._primary_reset)
            return _json_reply(200, {"resources": {"core": core}, "rate": core}, headers)
        with self.lock:
            repo, rest = self._repo_and_rest(path)
            self._authorize(ctx, repo, "write" if method in WRITE_METHODS else "read")
            now = time.time()
            if rest == "" and method == "GET":
                return _json_reply(200, self._repo_json(ctx, repo))
            if rest == "/releases" and method == "GET":
                visible = [r for r in repo.releases.values() if r.visible_at <= now
                           and (self._can_push(ctx) or not self._seen_draft(r, now))]
                visible.sort(key=lambda r: (r.created_at, r.id), reverse=True)
                return self._paginate(ctx, [self._release_json(repo, r, now) for r in visible],
                                      f"/repositories/{repo.id}/releases")
            if rest == "/releases" and method == "POST":
                return self._create_release(ctx, repo, now)
            if rest == "/releases/generate-notes" and method == "POST":
                return self._generate_notes(ctx, repo)
            if rest == "/releases/latest" and method == "GET":
                latest = latest_release(repo, now)
                if latest is None or latest.visible_at > now:
                    raise ApiError(404, "Not Found")
                return _json_reply(200, self._release_json(repo, latest, now))
            match = re.match(r"^/releases/tags/(.+)$", rest)
            if match and method == "GET":
                tag = unquote(match.group(1))
                for release in repo.releases.values():
                    if release.tag_name == tag and release.visible_at <= now and not self._seen_draft(release, now):
                        return _json_reply(200, self._release_json(repo, release, now))
                raise ApiError(404, "Not Found")
            match = re.match(r"^/releases/assets/(\d+)$", rest)
            if match:
                return self._asset_endpoint(ctx, repo, int(match.group(1)), now)
            match = re.match(r"^/releases/(\d+)/assets$", rest)
            if match and method == "GET":
                release = self._visible_release(ctx, repo, int(match.group(1)), now)
                assets = [self._asset_json(repo, release, a, now) for a in sorted(release.assets.values(),
                                                                                  key=lambda a: a.id)
                          if a.visible_at <= now]
                return self._paginate(ctx, assets, f"/repositories/{repo.id}/releases/{release.id}/assets")
            match = re.match(r"^/releases/(\d+)$", rest)
            if match:
                return self._release_endpoint(ctx, repo, int(match.group(1)), now)
            match = re.match(r"^/git/refs?/tags/(.+)$", rest)
            if match and method == "GET":
                tag = unquote(match.group(1))
                if tag not in repo.tags:
                    raise ApiError(404, "Not Found")
                return _json_reply(200, {"ref": f"refs/tags/{tag}", "object": {"sha": repo.tags[tag],
                                                                               "type": "commit"}})
            if rest == "/tags" and method == "GET":
                tags = [{"name": t, "commit": {"sha": s}} for t, s in sorted(repo.tags.items(), reverse=True)]
                return self._paginate(ctx, tags, f"/repositories/{repo.id}/tags")
        raise ApiError(404, "Not Found")

    def _seen_draft(self, release: Release, now: float) -> bool:
        """Draft as a (possibly lagging) read sees it."""
        return release.draft or release.published_visible_at > now

    def _visible_release(self, ctx: _Ctx, repo: Repo, release_id: int, now: float) -> Release:
        release = repo.releases.get(release_id)
        if release is None or release.visible_at > now or (self._seen_draft(release, now)
                                                          and not self._can_push(ctx)):
            raise ApiError(404, "Not Found")
        return release

    def _paginate(self, ctx: _Ctx, items: list[Any], link_path: str) -> _Reply:
        try:
            per_page = int(ctx.param("per_page") or 30)
        except ValueError:
            per_page = 30
        try:
            page = int(ctx.param("page") or 1)
        except ValueError:
            page = 1
        per_page, page = min(max(per_page, 1), 100), max(page, 1)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []

        def link(n: int, rel: str) -> str:
            params = {k: v[0] for k, v in ctx.query.items() if k not in ("page", "per_page")}
            params.update(per_page=str(per_page), page=str(n))
            return f'<{self.api_url}{link_path}?{urlencode(params)}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        headers = {"Link": ", ".join(links)} if links else {}
        return _json_reply(200, chunk, headers)

    # --- JSON shapes ------------------------------------------------------------------------------------

    def _user(self, login: str) -> dict[str, Any]:
        """A user as the REST API shows one (``simple-user``: every field is required)."""
        url = f"{self.api_url}/users/{quote(login)}"
        return {"login": login, "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=", "type": "Bot", "url": url,
                "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4", "gravatar_id": "",
                "html_url": f"{self.server_url}/apps/github-actions", "site_admin": False,
                **github_shapes.user_links(url)}

    def _repo_json(self, ctx: _Ctx, repo: Repo) -> dict[str, Any]:
        out: dict[str, Any] = {"id": repo.id, "name": repo.name, "full_name": repo.full_name,
                               "private": repo.private, "visibility": "private" if repo.private else "public",
                               "owner": {**self._user(repo.owner), "type": "Organization"},
                               "html_url": f"{self.server_url}/{repo.full_name}", "default_branch": repo.default_branch,
                               "url": f"{self.api_url}/repos/{repo.full_name}", "node_id": f"R_kgDO{repo.id:x}",
                               "description": None, "fork": False, "archived": False, "disabled": False,
                               **github_shapes.repository_padding(f"{self.api_url}/repos/{repo.full_name}",
                                                                  f"{self.server_url}/{repo.full_name}",
                                                                  created_at=iso(self._window_start) or "")}
        if ctx.token is not None:
            push = ctx.token.access == "write"
            out["permissions"] = {"admin": False, "maintain": False, "push": push, "triage": push, "pull": True}
        return out

    def _release_json(self, repo: Repo, release: Release, now: float) -> dict[str, Any]:
        out = self._release_fields(repo, release, now)
        if self.old_fields:
            del out["immutable"]
        return out

    def _release_fields(self, repo: Repo, release: Release, now: float) -> dict[str, Any]:
        draft = self._seen_draft(release, now)
        base = f"{self.api_url}/repos/{repo.full_name}/releases/{release.id}"
        tag_path = f"untagged-{release.untagged}" if draft else quote(release.tag_name)
        return {
            "url": base, "assets_url": base + "/assets",
            "upload_url": f"{self.uploads_url}/repos/{repo.full_name}/releases/{release.id}/assets{{?name,label}}",
            "html_url": f"{self.server_url}/{repo.full_name}/releases/tag/{tag_path}",
            "id": release.id, "node_id": f"RE_kwDO{release.id:x}", "author": self._user(release.author),
            "tag_name": release.tag_name, "target_commitish": release.target_commitish, "name": release.name,
            "body": release.body, "draft": draft, "prerelease": release.prerelease,
            "immutable": release.immutable and not draft,
            "created_at": iso(release.created_at), "updated_at": iso(release.updated_at),
            "published_at": None if draft else iso(release.published_at),
            "tarball_url": f"{self.api_url}/repos/{repo.full_name}/tarball/{quote(release.tag_name)}",
            "zipball_url": f"{self.api_url}/repos/{repo.full_name}/zipball/{quote(release.tag_name)}",
            "assets": [self._asset_json(repo, release, a, now) for a in sorted(release.assets.values(),
                                                                                key=lambda a: a.id)
                       if a.visible_at <= now],
        }

    def _asset_json(self, repo: Repo, release: Release, asset: Asset, now: float) -> dict[str, Any]:
        out = self._asset_fields(repo, release, asset, now)
        if self.old_fields:
            del out["digest"]
        return out

    def _asset_fields(self, repo: Repo, release: Release, asset: Asset, now: float) -> dict[str, Any]:
        draft = self._seen_draft(release, now)
        tag_path = f"untagged-{release.untagged}" if draft else quote(release.tag_name)
        return {
            "url": f"{self.api_url}/repos/{repo.full_name}/releases/assets/{asset.id}",
            "browser_download_url": f"{self.server_url}/{repo.full_name}/releases/download/{tag_path}/"
                                    f"{quote(asset.name)}",
            "id": asset.id, "node_id": f"RA_kwDO{asset.id:x}", "name": asset.name, "label": asset.label,
            "state": asset.state, "content_type": asset.content_type, "size": asset.size,
            "digest": f"sha256:{asset.sha256}" if asset.sha256 else None, "download_count": asset.download_count,
            "created_at": iso(asset.created_at), "updated_at": iso(asset.updated_at),
            "uploader": self._user(asset.uploader),
        }

    # --- releases -------------------------------------------------------------------------------------

    def _create_release(self, ctx: _Ctx, repo: Repo, now: float) -> _Reply:
        payload = ctx.payload
        check_types(payload, strings=("tag_name", "target_commitish", "name", "body", "make_latest",
                                      "discussion_category_name"), booleans=("draft", "prerelease",
                                                                             "generate_release_notes"))
        tag = payload.get("tag_name")
        if not tag:
            raise validation_failed("Release", "missing_field", "tag_name")
        draft, prerelease = bool(payload.get("draft", False)), bool(payload.get("prerelease", False))
        self._check_workflows(ctx, repo, payload.get("target_commitish") or repo.default_branch, "create-a-release")
        check_tag_free(repo, tag)  # GUESS for drafts: refused like a published release when the tag is taken
        body = payload.get("body")
        if payload.get("generate_release_notes"):
            notes = self._notes(repo, tag, None)["body"]
            body = f"{body}\n\n{notes}" if body else notes
        release = self._new_release(repo, tag, payload.get("target_commitish") or repo.default_branch,
                                    payload.get("name"), body, draft, prerelease, now)
        lag = self.planner.lag_for("release_lag", tag)
        release.visible_at = now + lag
        release.published_visible_at = now + max(lag, self.planner.lag_for("publish_lag", tag)) if not draft else now
        if not draft:
            release.published_at = now
            release.immutable = repo.immutable_releases
            repo.tags.setdefault(tag, self._sha(tag))
        apply_make_latest(repo, release, payload.get("make_latest"), newly_published=not draft,
                          effective=release.published_visible_at)
        location = f"{self.api_url}/repos/{repo.full_name}/releases/{release.id}"
        return _json_reply(201, self._release_json(repo, release, float("inf")), {"Location": location})

    @staticmethod
    def _check_workflows(ctx: _Ctx, repo: Repo, target: str, anchor: str) -> None:
        """Documented (create and update a release): if the resolved target commit adds or modifies files under
        .github/workflows/, a token that may not change workflows gets 404 Not Found."""
        if target in repo.workflow_commits and not (ctx.token is not None and ctx.token.workflows):
            raise ApiError(404, "Not Found", doc=f"https://docs.github.com/rest/releases/releases#{anchor}")

    def _release_endpoint(self, ctx: _Ctx, repo: Repo, release_id: int, now: float) -> _Reply:
        if ctx.method == "GET":
            return _json_reply(200, self._release_json(repo, self._visible_release(ctx, repo, release_id, now), now))
        release = repo.releases.get(release_id)  # writes go to the primary: no lag
        if release is None:
            raise ApiError(404, "Not Found")
        if ctx.method == "DELETE":
            if release.immutable:
                repo.burned_tags.add(release.tag_name)  # GUESS: deletable, but the tag is burned
            del repo.releases[release_id]
            return _Reply(204, content_type="text/plain")
        if ctx.method != "PATCH":
            raise ApiError(404, "Not Found")
        payload = ctx.payload
        check_types(payload, strings=("tag_name", "target_commitish", "name", "body", "make_latest",
                                      "discussion_category_name"), booleans=("draft", "prerelease"))
        self._check_workflows(ctx, repo, payload.get("target_commitish") or release.target_commitish,
                              "update-a-release")
        # "Immutable release. Only release title and notes can be modified." (GitHub's banner)
        locked = (payload.get("tag_name") not in (None, release.tag_name) or payload.get("draft") is True
                  or payload.get("prerelease") not in (None, release.prerelease)
                  or payload.get("target_commitish") not in (None, release.target_commitish))
        if release.immutable and locked:
            raise validation_failed("Release", "custom", "immutable",
                                    "Cannot modify the tag, target or state of an immutable release")
        new_tag = payload.get("tag_name") or release.tag_name
        publishing = release.draft and payload.get("draft") is False
        if publishing or (not release.draft and new_tag != release.tag_name):
            check_tag_free(repo, new_tag, exclude=release.id)
        for key in ("name", "body", "target_commitish"):
            if key in payload:
                setattr(release, key, payload[key])
        release.tag_name = new_tag
        if "prerelease" in payload:
            release.prerelease = bool(payload["prerelease"])
        if payload.get("draft") is True and not release.draft:
            release.draft, release.published_at = True, None
        release.updated_at = now
        if publishing:
            release.draft, release.published_at = False, now
            release.published_visible_at = now + self.planner.lag_for("publish_lag", release.tag_name)
            release.immutable = repo.immutable_releases
            repo.tags.setdefault(new_tag, self._sha(new_tag))
        apply_make_latest(repo, release, payload.get("make_latest"), newly_published=publishing,
                          effective=release.published_visible_at if publishing else now)
        return _json_reply(200, self._release_json(repo, release, float("inf")))

    def _notes(self, repo: Repo, tag: str, previous: str | None) -> dict[str, str]:
        if previous is None:
            older = [r for r in repo.releases.values() if not r.draft and r.tag_name != tag]
            if older:
                previous = max(older, key=lambda r: r.created_at).tag_name
        compare = (f"{self.server_url}/{repo.full_name}/compare/{previous}...{tag}" if previous
                   else f"{self.server_url}/{repo.full_name}/commits/{tag}")
        changes = f"* Fake change for {tag}\n"
        if self.notes_padding:
            changes += "".join(f"* Fake change {i}\n" for i in range(self.notes_padding // 14 + 1))[:self.notes_padding]
        return {"name": tag, "body": f"## What's Changed\n{changes}\n**Full Changelog**: {compare}"}

    def _generate_notes(self, ctx: _Ctx, repo: Repo) -> _Reply:
        payload = ctx.payload
        check_types(payload, strings=("tag_name", "target_commitish", "previous_tag_name",
                                      "configuration_file_path"), booleans=())
        tag = payload.get("tag_name")
        if not tag:
            raise validation_failed("Release", "missing_field", "tag_name")
        if tag not in repo.tags and not payload.get("target_commitish"):
            # Documented: target_commitish "is required if the supplied tag_name does not reference an existing
            # tag". The status code is a GUESS.
            raise validation_failed("Release", "invalid", "target_commitish",
                                    "target_commitish is required when tag_name is not an existing tag")
        previous = payload.get("previous_tag_name")
        if previous is not None and previous not in repo.tags:
            raise validation_failed("Release", "invalid", "previous_tag_name")  # GUESS
        return _json_reply(200, self._notes(repo, tag, previous))

    # --- assets ---------------------------------------------------------------------------------------

    def _find_asset(self, repo: Repo, asset_id: int) -> tuple[Release, Asset] | None:
        for release in repo.releases.values():
            if asset_id in release.assets:
                return release, release.assets[asset_id]
        return None

    def _asset_endpoint(self, ctx: _Ctx, repo: Repo, asset_id: int, now: float) -> _Reply:
        found = self._find_asset(repo, asset_id)
        if ctx.method == "GET":
            if found is None or found[1].visible_at > now:
                raise ApiError(404, "Not Found")
            release, asset = found
            self._visible_release(ctx, repo, release.id, now)
            if "application/octet-stream" in (ctx.header("Accept") or ""):
                if asset.state != "uploaded":
                    raise ApiError(404, "Not Found")  # GUESS
                return _Reply(302, b"", "text/plain", {"Location": f"{self.objects_url}/{asset.object_key}/"
                                                                   f"{asset.id}?sig={asset.object_key[:12]}"})
            return _json_reply(200, self._asset_json(repo, release, asset, now))
        if found is None:
            raise ApiError(404, "Not Found")
        release, asset = found
        if ctx.method == "DELETE":
            if release.immutable:
                raise validation_failed("ReleaseAsset", "custom", "release",
                                        "Cannot delete assets from an immutable release")  # GUESS wording
            del release.assets[asset_id]
            return _Reply(204, content_type="text/plain")
        if ctx.method == "PATCH":
            payload = ctx.payload
            check_types(payload, strings=("name", "label", "state"), booleans=())
            if release.immutable:
                raise validation_failed("ReleaseAsset", "custom", "release",
                                        "Cannot modify assets of an immutable release")  # GUESS wording
            new_name = normalise_asset_name(payload.get("name") or asset.name)
            if any(a.name == new_name and a.id != asset.id for a in release.assets.values()):
                raise validation_failed("ReleaseAsset", "already_exists", "name")
            asset.name, asset.updated_at = new_name, now
            if "label" in payload:
                asset.label = payload["label"]
            return _json_reply(200, self._asset_json(repo, release, asset, float("inf")))
        raise ApiError(404, "Not Found")

    def _upload(self, ctx: _Ctx, fault: str | None) -> _Reply:
        with self.lock:
            repo, rest = self._repo_and_rest(ctx.path)
            match = re.match(r"^/releases/(\d+)/assets$", rest)
            if not match or ctx.method != "POST":
                raise ApiError(404, "Not Found")
            self._authorize(ctx, repo, "write")
            release = repo.releases.get(int(match.group(1)))
            if release is None:
                raise ApiError(404, "Not Found")
            if release.immutable:
                raise ApiError(422, "Cannot upload assets to an immutable release. GitHub only allows asset "
                                    "uploads before a release is published, so upload assets to a draft release "
                                    "before you publish it.")
            raw_name = ctx.param("name")
            if not raw_name:
                raise validation_failed("ReleaseAsset", "missing_field", "name")  # GUESS status
            content_type = ctx.header("Content-Type")
            if not content_type:
                raise ApiError(400, "Bad Content-Type header value")  # documented as required; status GUESS
            length_header = ctx.header("Content-Length")
            if length_header is None or (ctx.header("Transfer-Encoding") or "").lower() == "chunked":
                raise ApiError(411, "Length Required")  # documented as required; status GUESS
            length = int(length_header)
            if length <= 0:
                raise ApiError(400, "Bad Content-Length")  # GUESS
            name = normalise_asset_name(raw_name)
            if any(a.name == name for a in release.assets.values()):
                raise validation_failed("ReleaseAsset", "already_exists", "name")
            if len(release.assets) >= ASSET_LIMIT:
                raise validation_failed("ReleaseAsset", "custom", "release", "too many assets")
            now = time.time()
            asset = self._new_asset(repo, release, name, ctx.param("label"), content_type, now)
            asset.expected_size = length
            asset.visible_at = now + self.planner.lag_for("asset_lag", f"{release.tag_name}:{name}")
        ctx.body_read = True
        if fault in ("upload_drop", "upload_drop_open"):
            ctx.fault = fault
            received = b""
            with contextlib.suppress(OSError):
                received = ctx.handler.rfile.read(max(1, length // 2))
            if fault == "upload_drop_open":
                with self.lock:  # the documented state `open`: the bytes so far are kept, there is no digest
                    asset.data, asset.state, asset.updated_at = received, "open", time.time()
            raise _Drop
        data = ctx.handler.rfile.read(length)
        if len(data) != length:
            raise _Drop  # the client went away: the starter asset stays
        if fault == "upload_starter_502":
            ctx.fault = fault
            return _Reply(502, UNICORN, content_type="text/html; charset=utf-8")
        with self.lock:
            if asset.id not in release.assets or release.id not in repo.releases:
                raise ApiError(502, "Upstream error: the asset disappeared during the upload")  # GUESS
            asset.data, asset.state, asset.updated_at = data, "uploaded", time.time()
            reply = _json_reply(201, self._asset_json(repo, release, asset, float("inf")))
        if fault == "lost_response":
            ctx.fault = fault
            raise _Drop
        return reply

    # --- web and object store ---------------------------------------------------------------------------

    def _web(self, ctx: _Ctx) -> _Reply:
        match = re.match(r"^/([^/]+)/([^/]+)/releases/download/([^/]+)/([^/]+)$", ctx.path)
        if match and ctx.method in ("GET", "HEAD"):
            with self.lock:
                repo = self.repos.get((unquote(match.group(1)).lower(), unquote(match.group(2)).lower()))
                tag, name = unquote(match.group(3)), unquote(match.group(4))
                now = time.time()
                # GUESS: drafts' untagged URLs and private repositories need a browser session: 404 here.
                if repo is not None and not repo.private:
                    for release in repo.releases.values():
                        if release.tag_name != tag or self._seen_draft(release, now):
                            continue
                        for asset in release.assets.values():
                            if asset.name == name and asset.state == "uploaded" and asset.visible_at <= now:
                                location = f"{self.objects_url}/{asset.object_key}/{asset.id}?sig=x"
                                return _Reply(302, b"", "text/plain", {"Location": location})
        return _Reply(404, b"Not Found", "text/plain")

    def _object(self, ctx: _Ctx) -> _Reply:
        match = re.match(r"^/([0-9a-f]{32})/(\d+)$", ctx.path)
        if match and ctx.method in ("GET", "HEAD"):
            with self.lock:
                where = self._objects.get(match.group(1))
                if where is not None:
                    repo = self.repos.get((where[0].lower(), where[1].lower()))
                    release = repo.releases.get(where[2]) if repo else None
                    asset = release.assets.get(where[3]) if release else None
                    if asset is not None and asset.state == "uploaded":
                        asset.download_count += 1
                        return _Reply(200, asset.data, "application/octet-stream",
                                      {"Content-Disposition": f"attachment; filename={asset.name}"})
        return _Reply(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")

