"""HTTP front end of the fake GitHub: routing, auth, rate limits, JSON rendering, streaming.

One :class:`http.server.ThreadingHTTPServer` bound to ``127.0.0.1`` on a free port serves three
"hosts" distinguished by path prefix (GitHub uses three host names):

* the REST API under ``path_prefix`` (``""`` like api.github.com, ``"/api/v3"`` like GHES);
* uploads under ``upload_prefix`` (``"/uploads"`` like uploads.github.com, ``"/api/uploads"`` on GHES);
* the web host at the root: ``/{owner}/{repo}/releases/download/{tag}/{name}``, which redirects to a
  signed, unauthenticated object URL ``/_objects/{key}/{name}``.  Like objects.githubusercontent.com
  that URL is on a *different host name* (``objects_host``, default ``localhost``, still the same
  127.0.0.1 socket), so HTTP clients drop ``Authorization`` when following the redirect.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import math
import re
import secrets
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit

from .. import exchanges, github_shapes
from .faults import Fault, Faults
from .state import (
    DOC_ASSETS,
    DOC_RELEASES,
    DOCS,
    JSON,
    MAKE_LATEST_VALUES,
    ApiError,
    Asset,
    Permission,
    Release,
    Repo,
    State,
    Token,
    fake_sha,
    invalid_request,
    iso,
    normalize_asset_name,
    not_found,
    parse_time,
    sort_key,
    utcnow,
)

CHUNK = 1024 * 1024
MAX_JSON_BODY = 16 * 1024 * 1024
DOC_RATE = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"

RouteKind = Literal["api", "upload", "web"]

_OR = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_API_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("rate_limit", re.compile(r"/rate_limit")),
    ("repo", re.compile(_OR)),
    ("latest_release", re.compile(_OR + r"/releases/latest")),
    ("release_by_tag", re.compile(_OR + r"/releases/tags/(?P<tag>.+)")),
    ("generate_notes", re.compile(_OR + r"/releases/generate-notes")),
    ("asset", re.compile(_OR + r"/releases/assets/(?P<asset_id>\d+)")),
    ("assets", re.compile(_OR + r"/releases/(?P<release_id>\d+)/assets")),
    ("release", re.compile(_OR + r"/releases/(?P<release_id>\d+)")),
    ("releases", re.compile(_OR + r"/releases")),
    ("contents", re.compile(_OR + r"/contents(?:/(?P<path>.*))?")),
]
_UPLOAD_ROUTE = re.compile(_OR + r"/releases/(?P<release_id>\d+)/assets")
_REPOSITORIES = re.compile(r"/repositories/(?P<repo_id>\d+)(?P<rest>/.*)?")
_WEB_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    (
        "download",
        re.compile(r"/(?P<owner>[^/_][^/]*)/(?P<repo>[^/]+)/releases/download/(?P<tag>.+)/(?P<name>[^/]+)"),
    ),
    ("object", re.compile(r"/_objects/(?P<key>[0-9a-f]+)/(?P<name>[^/]+)")),
]
_WRITE_ROUTES = {
    ("POST", "releases"),
    ("PATCH", "release"),
    ("DELETE", "release"),
    ("POST", "generate_notes"),
    ("PATCH", "asset"),
    ("DELETE", "asset"),
    ("POST", "upload"),
}


@dataclass(frozen=True)
class LoggedRequest:
    """One handled request.  ``headers`` has lower-case names; the Authorization value is replaced
    by ``"<scheme> <redacted>"``.  ``status`` is 0 when the connection was dropped without a
    response (fault or client abort)."""

    method: str
    path: str
    route: str
    kind: str
    status: int
    headers: dict[str, str]
    body_size: int
    started_at: float
    duration: float
    faults: tuple[str, ...] = ()

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    file_size: int = 0


class _Drop(Exception):
    """Close the connection without sending a response."""


@dataclass
class _Ctx:
    method: str
    raw_path: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]  # lower-case names
    kind: RouteKind | None
    route: str
    params: dict[str, str]
    token: Token | None = None
    rate_headers: dict[str, str] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)
    body: bytes | None = None  # the JSON body as read (for the request log's listeners)

    @property
    def can_write(self) -> bool:
        return self.token is not None and self.token.permissions == "write"


@dataclass
class _Bucket:
    limit: int
    used: int
    reset_at: float


def _json_bytes(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _error_response(err: ApiError) -> Response:
    headers = {"Content-Type": "application/json; charset=utf-8", **err.headers}
    return Response(err.status, _json_bytes(err.body()), headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeGitHub
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        if self.tls is None:
            return conn, address
        # The handshake runs in the handler's thread (on first read), so a client that rejects the certificate
        # never stalls the accept loop.
        return self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle on, the body waits for the client's delayed
    # ACK (~40 ms on Linux) and every request would look 40 ms slower than GitHub makes it.
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""
    timeout = 120
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # ---- body helpers -----------------------------------------------------------------------------

    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        if value is None or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        try:
            return max(0, int(value))
        except ValueError:
            return None

    def read_body(self, limit: int) -> bytes:
        n = min(self._body_left, limit)
        data = self.rfile.read(n) if n else b""
        self._body_left -= len(data)
        self._body_read += len(data)
        if len(data) < n:
            raise _Drop("client closed the connection mid-body")
        return data

    def drain(self) -> None:
        """Read and discard the rest of the request body so the response can be delivered (an API request's
        JSON body, answered before it was read, is kept for the request log's listeners)."""
        if self._body_unknown:
            self.close_connection = True
            return
        keep = self._drained if self._body_left <= MAX_JSON_BODY else None
        while self._body_left > 0:
            chunk = self.read_body(CHUNK)
            if keep is not None:
                keep += chunk

    # ---- main loop --------------------------------------------------------------------------------

    def _handle(self) -> None:
        fake = self.server.fake
        started = time.time()
        t0 = time.monotonic()
        length = self.content_length()
        self._body_unknown = length is None and (
            "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
        )
        self._body_left = length or 0
        self._body_read = 0
        self._drained = bytearray()
        ctx = fake._route(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        logged = False
        try:
            response = fake._process(self, ctx)
            if response is not None:
                self.drain()
                if ctx.body is None and ctx.kind == "api" and self._drained:
                    ctx.body = bytes(self._drained)
                # log before answering so a client never sees its response before the log entry
                fake._log(ctx, response.status, started, time.monotonic() - t0, self._body_read, response)
                logged = True
                self._send(response, ctx)
        except _Drop:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        except OSError:  # client went away
            self.close_connection = True
        finally:
            if not logged:
                fake._log(ctx, 0, started, time.monotonic() - t0, self._body_read)

    def _send(self, resp: Response, ctx: _Ctx) -> None:
        self.send_response(resp.status)
        headers = dict(resp.headers)
        headers.setdefault("X-GitHub-Request-Id", _request_id())
        if ctx.kind in ("api", "upload"):
            headers.update(ctx.rate_headers)
            headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
        for name, value in headers.items():
            self.send_header(name, value)
        length = resp.file_size if resp.file is not None else len(resp.body)
        if resp.status not in (204, 304):
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD" or resp.status in (204, 304):
            return
        if resp.file is None:
            self.wfile.write(resp.body)
            return
        with resp.file.open("rb") as f:
            while chunk := f.read(CHUNK):
                self.wfile.write(chunk)


def _request_id() -> str:
    h = secrets.token_hex(10).upper()
    return f"{h[:4]}:{h[4:8]}:{h[8:14]}:{h[14:20]}:{secrets.token_hex(4).upper()}"


def _node_id(prefix: str, value: int) -> str:
    raw = base64.b64encode(value.to_bytes(8, "big")).decode().rstrip("=")
    return f"{prefix}_kwDO{raw}"


def _fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class FakeGitHub:
    """A local, faithful fake of the GitHub REST API for repositories, releases and release assets.

    >>> fake = FakeGitHub()            # or FakeGitHub(path_prefix="/api/v3", upload_prefix="/api/uploads")
    >>> fake.start()
    >>> fake.add_repo("o", "r"); fake.add_token("tok", "write")
    >>> fake.api_url, fake.server_url  # -> GITHUB_API_URL, GITHUB_SERVER_URL
    >>> fake.stop()
    """

    def __init__(
        self,
        path_prefix: str = "",
        upload_prefix: str = "/uploads",
        *,
        anonymous_rate_limit: int = 60,
        rate_limit_window: float = 3600.0,
        rate_limits_enabled: bool = True,
        objects_host: str = "localhost",
        asset_order: Literal["created", "name"] = "created",
        asset_digests: bool = True,
        storage_dir: Path | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        tls: ssl.SSLContext | None = None,
        public_host: str | None = None,
    ) -> None:
        #: serve HTTPS with this server context (a throwaway CA's certificate), and name URLs after
        #: ``public_host`` (e.g. ``api.github.com``, reached through a proxy that routes it here) instead of
        #: ``127.0.0.1:<port>``
        self.tls = tls
        self.public_host = public_host
        self.path_prefix = path_prefix.rstrip("/")
        self.upload_prefix = upload_prefix.rstrip("/")
        if not self.upload_prefix:
            raise ValueError("upload_prefix must be a non-empty path such as /uploads")
        if self.path_prefix and (
            self.upload_prefix.startswith(self.path_prefix + "/") or self.upload_prefix == self.path_prefix
        ):
            raise ValueError("upload_prefix must not live under path_prefix")
        self.anonymous_rate_limit = anonymous_rate_limit
        self.rate_limit_window = rate_limit_window
        self.rate_limits_enabled = rate_limits_enabled
        self.objects_host = objects_host
        self.asset_order = asset_order
        #: False: assets carry no ``digest`` (GitHub before June 2025, older GHES)
        self.asset_digests = asset_digests
        self._own_storage = storage_dir is None
        self.storage_dir = Path(tempfile.mkdtemp(prefix="fake-github-")) if storage_dir is None else storage_dir
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.state = State(storage_dir=self.storage_dir, clock=clock or utcnow)
        self.faults = Faults()
        #: unexpected exceptions inside the fake (each also answered with a 500); tests may assert empty
        self.internal_errors: list[str] = []
        self._log_lock = threading.Lock()
        self._log_entries: list[LoggedRequest] = []
        self._buckets: dict[str, _Bucket] = {}
        self._bucket_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        if self._server is not None:
            raise RuntimeError("already started")
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        server.tls = self.tls
        self._server = server
        self._stop_event.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open keep-alive connections, and (if the fake created its own storage
        directory) delete the stored asset bytes.  Seeded ``Path`` assets are never deleted."""
        self._stop_event.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._log_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._own_storage:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    @property
    def server_url(self) -> str:
        """``GITHUB_SERVER_URL`` (web host: html_url, browser_download_url)."""
        if self.public_host:
            return f"https://{self.public_host}"
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """``GITHUB_API_URL``."""
        return self.server_url + self.path_prefix

    @property
    def uploads_url(self) -> str:
        """Base of the upload host (what ``upload_url`` starts with)."""
        return self.server_url + self.upload_prefix

    @property
    def objects_url(self) -> str:
        if self.public_host:
            return f"https://{self.objects_host}"
        return f"{'https' if self.tls else 'http'}://{self.objects_host}:{self.port}"

    # ---- seeding and inspection -------------------------------------------------------------------

    def add_repo(
        self,
        owner: str,
        repo: str,
        *,
        default_branch: str = "main",
        files: Mapping[str, bytes | str] | None = None,
        private: bool = False,
        immutable_releases: bool = False,
        tag_protection: bool = False,
        tags: Iterable[str] = (),
        workflow_changes: Iterable[str] = (),
    ) -> Repo:
        """Create a repository.  ``files`` live on the default branch (Contents API); ``tags`` are
        pre-existing git tags (releases on them need no tag creation); ``workflow_changes`` names refs whose
        commit changes ``.github/workflows/`` (see ``_workflow_guard``)."""
        with self.state.lock:
            key = (owner.lower(), repo.lower())
            if key in self.state.repos:
                raise ValueError(f"repo {owner}/{repo} exists")
            r = Repo(
                id=self.state.next_repo_id,
                owner=owner,
                name=repo,
                default_branch=default_branch,
                private=private,
                immutable_releases=immutable_releases,
                tag_protection=tag_protection,
            )
            self.state.next_repo_id += 1
            r.files[default_branch] = {}
            for path, content in (files or {}).items():
                r.files[default_branch][path.strip("/")] = content.encode() if isinstance(content, str) else content
            for tag in tags:
                r.tags[tag] = fake_sha(r.full_name, tag)
            r.workflow_changes = set(workflow_changes)
            self.state.repos[key] = r
            return r

    def set_file(self, owner: str, repo: str, path: str, content: bytes | str, ref: str | None = None) -> None:
        """Add/replace a file for the Contents API on ``ref`` (a branch; default branch if None)."""
        with self.state.lock:
            r = self.state.repo(owner, repo)
            branch = r.files.setdefault(ref or r.default_branch, {})
            branch[path.strip("/")] = content.encode() if isinstance(content, str) else content

    def set_repo_options(
        self,
        owner: str,
        repo: str,
        *,
        immutable_releases: bool | None = None,
        tag_protection: bool | None = None,
        private: bool | None = None,
    ) -> None:
        with self.state.lock:
            r = self.state.repo(owner, repo)
            if immutable_releases is not None:
                r.immutable_releases = immutable_releases
            if tag_protection is not None:
                r.tag_protection = tag_protection
            if private is not None:
                r.private = private

    def add_token(
        self,
        token: str,
        permissions: Permission = "write",
        *,
        login: str = "github-actions[bot]",
        rate_limit: int = 5000,
        workflows: bool = False,
    ) -> Token:
        """Register a token: ``write`` may create/modify releases and sees drafts, ``read`` gets
        403 "Resource not accessible by integration" on writes.  Unknown tokens get 401. ``workflows``: the token
        may change workflow files (never true of a job's GITHUB_TOKEN)."""
        if permissions not in ("read", "write"):
            raise ValueError("permissions must be 'read' or 'write'")
        tok = Token(
            value=token,
            permissions=permissions,
            login=login,
            user_id=41898282 if login == "github-actions[bot]" else self._user_id(login),
            rate_limit=rate_limit,
            workflows=workflows,
        )
        with self.state.lock:
            self.state.tokens[token] = tok
        return tok

    def add_release(
        self,
        owner: str,
        repo: str,
        tag: str,
        *,
        name: str | None = None,
        body: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        immutable: bool | None = None,
        make_latest: bool | str = True,
        assets: Mapping[str, bytes | Path] | None = None,
        created_at: dt.datetime | str | None = None,
        target_commitish: str | None = None,
        author: str = "github-actions[bot]",
    ) -> Release:
        """Seed a release (bypasses auth, faults and tag protection; creates the tag if published).

        ``immutable=None`` follows the repo's ``immutable_releases`` setting; ``True`` forces an
        immutable published release.  ``assets`` values are bytes or a Path (a Path is served in
        place, not copied).  Returns a snapshot."""
        latest = make_latest if isinstance(make_latest, str) else ("true" if make_latest else "false")
        if latest not in MAKE_LATEST_VALUES:
            raise ValueError("make_latest must be a bool or 'true'/'false'/'legacy'")
        st = self.state
        with st.lock:
            r = st.repo(owner, repo)
            created = parse_time(created_at, st.clock())
            rel = st.create_release(
                r,
                tag_name=tag,
                target_commitish=target_commitish,
                name=tag if name is None else name,
                body=body,
                draft=True,
                prerelease=prerelease,
                author=author,
                created_at=created,
            )
            for asset_name, content in (assets or {}).items():
                self._seed_asset(r, rel, asset_name, content)
            if not draft:
                saved = r.immutable_releases
                if immutable is not None:
                    r.immutable_releases = immutable
                r.tags.setdefault(tag, fake_sha(r.full_name, tag))
                try:
                    st._publish(r, rel, latest)
                finally:
                    r.immutable_releases = saved
                rel.published_at = created
            rel.updated_at = created
            return rel.snapshot()

    def add_asset(
        self,
        owner: str,
        repo: str,
        release_id: int,
        name: str,
        content: bytes | Path,
        *,
        label: str | None = None,
        content_type: str = "application/octet-stream",
        state: Literal["uploaded", "starter", "open"] = "uploaded",
    ) -> Asset:
        """Seed an asset directly (no normalisation, works on immutable releases too). ``open``: an interrupted
        upload holding ``content`` as the bytes received so far, without a digest."""
        with self.state.lock:
            r = self.state.repo(owner, repo)
            rel = self.state.release(r, release_id, can_see_drafts=True)
            asset = self._seed_asset(r, rel, name, content, label=label, content_type=content_type)
            if state == "starter":
                asset.state = "starter"
                self.state._discard_file(asset)
                asset.size = 0
                asset.sha256 = None
            elif state == "open":
                asset.state = "open"
                asset.sha256 = None
            return asset

    def _seed_asset(
        self,
        r: Repo,
        rel: Release,
        name: str,
        content: bytes | Path,
        *,
        label: str | None = None,
        content_type: str = "application/octet-stream",
    ) -> Asset:
        st = self.state
        immutable = rel.immutable
        rel.immutable = False
        try:
            asset = st.begin_upload(
                r, rel, name=name, label=label, content_type=content_type, size=0, uploader=rel.author
            )
        finally:
            rel.immutable = immutable
        if isinstance(content, Path):
            h = hashlib.sha256()
            with content.open("rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
            st.finish_upload(asset, content, h.hexdigest(), content.stat().st_size, owned=False)
        else:
            path = st.new_blob_path()
            path.write_bytes(content)
            st.finish_upload(asset, path, hashlib.sha256(content).hexdigest(), len(content))
        return asset

    def releases(self, owner: str, repo: str) -> list[Release]:
        """Snapshots of every release (drafts included), newest first, ignoring staleness."""
        with self.state.lock:
            r = self.state.repo(owner, repo)
            return [rel.snapshot() for rel in sorted(r.releases.values(), key=sort_key, reverse=True)]

    def release(self, owner: str, repo: str, release_id: int) -> Release:
        with self.state.lock:
            r = self.state.repo(owner, repo)
            return self.state.release(r, release_id, can_see_drafts=True).snapshot()

    def latest_release(self, owner: str, repo: str) -> Release | None:
        with self.state.lock:
            rel = self.state.latest(self.state.repo(owner, repo))
            return None if rel is None else rel.snapshot()

    def tags(self, owner: str, repo: str) -> dict[str, str]:
        with self.state.lock:
            return dict(self.state.repo(owner, repo).tags)

    def repo(self, owner: str, repo: str) -> Repo:
        """The live repo object (read it under ``fake.state.lock`` if the server is busy)."""
        return self.state.repo(owner, repo)

    @property
    def requests_log(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log_entries)

    def requests(self, method: str | None = None, route: str | None = None) -> list[LoggedRequest]:
        """``requests_log`` filtered by method and/or route name."""
        return [
            e
            for e in self.requests_log
            if (method is None or e.method == method.upper()) and (route is None or e.route == route)
        ]

    def clear_log(self) -> None:
        with self._log_lock:
            self._log_entries.clear()

    # ---- internals: routing and logging -------------------------------------------------------------

    def _route(self, method: str, raw_path: str, headers: Mapping[str, str]) -> _Ctx:
        split = urlsplit(raw_path)
        path = split.path
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        ctx = _Ctx(
            method=method,
            raw_path=raw_path,
            path=path,
            query=query,
            headers=headers,
            kind=None,
            route="unknown",
            params={},
        )
        if path.startswith(self.upload_prefix + "/"):
            ctx.kind = "upload"
            m = _UPLOAD_ROUTE.fullmatch(path[len(self.upload_prefix) :])
            if m:
                ctx.route = "upload"
                ctx.params = {k: unquote(v) for k, v in m.groupdict().items()}
            return ctx
        if not self.path_prefix or path.startswith(self.path_prefix + "/"):
            rel_path = path[len(self.path_prefix) :]
            m = _REPOSITORIES.fullmatch(rel_path)
            if m:
                try:
                    repo = self.state.repo_by_id(int(m["repo_id"]))
                    rel_path = f"/repos/{quote(repo.owner)}/{quote(repo.name)}{m['rest'] or ''}"
                except ApiError:
                    pass
            for name, pattern in _API_ROUTES:
                m = pattern.fullmatch(rel_path)
                if m:
                    ctx.kind = "api"
                    ctx.route = name
                    ctx.params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
                    return ctx
            if self.path_prefix:
                ctx.kind = "api"
                return ctx
        for name, pattern in _WEB_ROUTES:
            m = pattern.fullmatch(path)
            if m:
                ctx.kind = "web"
                ctx.route = name
                ctx.params = {k: unquote(v) for k, v in m.groupdict().items()}
                return ctx
        ctx.kind = "api" if not self.path_prefix else "web"
        return ctx

    def _log(self, ctx: _Ctx, status: int, started: float, duration: float, body_size: int,
             response: Response | None = None) -> None:
        headers: dict[str, str] = {}
        for key, value in ctx.headers.items():
            if key == "authorization":
                headers[key] = value.split(" ", 1)[0] + " <redacted>" if " " in value else "<redacted>"
            else:
                headers[key] = value
        entry = LoggedRequest(
            method=ctx.method,
            path=ctx.raw_path,
            route=ctx.route,
            kind=ctx.kind or "unknown",
            status=status,
            headers=headers,
            body_size=body_size,
            started_at=started,
            duration=duration,
            faults=tuple(ctx.fired),
        )
        with self._log_lock:
            self._log_entries.append(entry)
        if exchanges.listening() and ctx.kind in ("api", "upload"):
            self._tell_listeners(ctx, status, response)

    def _tell_listeners(self, ctx: _Ctx, status: int, response: Response | None) -> None:
        path = urlsplit(ctx.raw_path).path
        prefix = self.upload_prefix if ctx.kind == "upload" else self.path_prefix
        if not path.startswith(prefix):
            return  # not on the API: a web path this fake serves 404 for
        content_type = ""
        if response is not None:
            content_type = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
        exchanges.record(exchanges.Exchange(
            fake="fake_github", host="uploads" if ctx.kind == "upload" else "api", method=ctx.method,
            path=path[len(prefix):] or "/",
            query=tuple(parse_qsl(urlsplit(ctx.raw_path).query, keep_blank_values=True)),
            request_headers=exchanges.redact_headers(dict(ctx.headers)),
            request_body=None if ctx.kind == "upload" else ctx.body, status=status,
            response_content_type=content_type,
            response_body=response.body if response is not None and response.file is None else b"",
            older_server=not self.asset_digests, faults=tuple(ctx.fired)))

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._log_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop_event.wait(seconds)

    # ---- internals: request pipeline ----------------------------------------------------------------

    def _process(self, h: _Handler, ctx: _Ctx) -> Response | None:
        faults = self.faults
        m, route = ctx.method, ctx.route
        if faults.latency_ms:
            self._sleep(faults.latency_ms / 1000)
        timeout = faults.take("timeout", m, route)
        if timeout is not None:
            ctx.fired.append("timeout")
            if not timeout.params["after_processing"]:
                self._sleep(timeout.params["seconds"])
        drop = faults.take("drop_connection", m, route)
        if drop is not None:
            ctx.fired.append("drop_connection")
            if not drop.params["after_processing"] and route != "upload":
                h.read_body(drop.params["after_bytes"])
                raise _Drop("fault: drop_connection")
        fail = faults.take("fail", m, route)
        try:
            if fail is not None:
                ctx.fired.append(f"fail_{fail.params['status']}")
                h.drain()
                response = self._fault_response(fail)
            else:
                response = self._dispatch(h, ctx, drop)
        except ApiError as err:
            response = _error_response(err)
        except _Drop:
            raise
        except Exception:
            tb = traceback.format_exc()
            self.internal_errors.append(tb)
            print(f"fake github internal error:\n{tb}", file=sys.stderr)
            response = _error_response(ApiError(500, "fake github internal error"))
        if timeout is not None and timeout.params["after_processing"]:
            h.drain()
            self._sleep(timeout.params["seconds"])
        if drop is not None and (drop.params["after_processing"] or route == "upload"):
            h.drain()
            raise _Drop("fault: drop_connection after processing")
        return response

    def _fault_response(self, fault: Fault) -> Response:
        status = int(fault.params["status"])
        body = fault.params["body"]
        ctype = fault.params["content_type"]
        if body is None:
            messages = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
            body = {"message": messages.get(status, "Error"), "documentation_url": DOCS, "status": str(status)}
        if isinstance(body, dict):
            return Response(status, _json_bytes(body), {"Content-Type": "application/json; charset=utf-8"})
        data = body.encode() if isinstance(body, str) else body
        return Response(status, data, {"Content-Type": ctype or "text/html; charset=utf-8"})

    def _authenticate(self, ctx: _Ctx) -> None:
        header = ctx.headers.get("authorization")
        if not header:
            return
        scheme, _, value = header.strip().partition(" ")
        token = None
        if scheme.lower() in ("bearer", "token"):
            with self.state.lock:
                token = self.state.tokens.get(value.strip())
        if token is None:
            ctx.rate_headers = self._rate_headers(self._bucket(ctx, None))
            raise ApiError(401, "Bad credentials", documentation_url=DOCS)
        ctx.token = token

    # -- rate limits

    def _bucket_key(self, ctx: _Ctx, token: Token | None) -> str:
        return f"token:{token.value}" if token is not None else "anon"

    def _bucket(self, ctx: _Ctx, token: Token | None) -> _Bucket:
        key = self._bucket_key(ctx, token)
        now = time.time()
        with self._bucket_lock:
            bucket = self._buckets.get(key)
            if bucket is None or now >= bucket.reset_at:
                limit = token.rate_limit if token is not None else self.anonymous_rate_limit
                bucket = _Bucket(limit=limit, used=0, reset_at=now + self.rate_limit_window)
                self._buckets[key] = bucket
            return bucket

    def _rate_headers(self, bucket: _Bucket) -> dict[str, str]:
        if not self.rate_limits_enabled:
            return {}
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.limit - bucket.used)),
            "X-RateLimit-Reset": str(math.ceil(bucket.reset_at)),
            "X-RateLimit-Used": str(bucket.used),
            "X-RateLimit-Resource": "core",
        }

    def _rate_limit(self, ctx: _Ctx) -> None:
        token = ctx.token
        bucket = self._bucket(ctx, token)
        primary = self.faults.take("primary_rate_limit", ctx.method, ctx.route)
        with self._bucket_lock:
            if primary is not None:
                ctx.fired.append("primary_rate_limit")
                bucket.used = bucket.limit
                bucket.reset_at = time.time() + float(primary.params["reset_in"])
            if not self.rate_limits_enabled:
                return
            if ctx.route != "rate_limit":
                if bucket.used >= bucket.limit:
                    ctx.rate_headers = self._rate_headers(bucket)
                    who = (
                        f"user ID {token.user_id}."
                        if token is not None
                        else (
                            f"{ctx.headers.get('x-forwarded-for', '127.0.0.1')}. (But here's the good news: "
                            "Authenticated requests get a higher rate limit. Check out the documentation "
                            "for more details.)"
                        )
                    )
                    raise ApiError(403, f"API rate limit exceeded for {who}", documentation_url=DOC_RATE)
                bucket.used += 1
            ctx.rate_headers = self._rate_headers(bucket)

    def _secondary(self, ctx: _Ctx) -> None:
        fault = self.faults.take("secondary_rate_limit", ctx.method, ctx.route)
        if fault is None:
            return
        ctx.fired.append("secondary_rate_limit")
        headers = {}
        if fault.params["retry_after"] is not None:
            headers["Retry-After"] = _fmt_seconds(fault.params["retry_after"])
        rid = _request_id()
        headers["X-GitHub-Request-Id"] = rid
        ctx.rate_headers = self._rate_headers(self._bucket(ctx, ctx.token))
        raise ApiError(
            fault.params["status"],
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
            f"If you reach out to GitHub Support for help, please include the request ID {rid}.",
            documentation_url=f"{DOC_RATE}#about-secondary-rate-limits",
            headers=headers,
        )

    # -- dispatch

    def _dispatch(self, h: _Handler, ctx: _Ctx, drop: Fault | None) -> Response:
        if ctx.kind == "web":
            if ctx.route == "download" and ctx.method in ("GET", "HEAD"):
                return self._download(ctx)
            if ctx.route == "object" and ctx.method in ("GET", "HEAD"):
                return self._object(ctx)
            raise ApiError(404, "Not Found")
        self._authenticate(ctx)
        self._secondary(ctx)
        self._rate_limit(ctx)
        if ctx.route == "rate_limit":
            if ctx.method != "GET":
                raise not_found()
            return self._get_rate_limit(ctx)
        if ctx.route == "unknown":
            raise not_found()
        repo = self.state.repo(ctx.params["owner"], ctx.params["repo"])
        if repo.private and ctx.token is None:
            raise not_found("https://docs.github.com/rest/repos/repos#get-a-repository")
        if (ctx.method, ctx.route) in _WRITE_ROUTES:
            if ctx.token is None:
                raise ApiError(401, "Requires authentication", documentation_url=DOCS)
            if not ctx.can_write:
                raise ApiError(403, "Resource not accessible by integration", documentation_url=DOCS)
        handler = {
            ("GET", "repo"): self._get_repo,
            ("GET", "releases"): self._list_releases,
            ("POST", "releases"): self._create_release,
            ("GET", "release"): self._get_release,
            ("PATCH", "release"): self._update_release,
            ("DELETE", "release"): self._delete_release,
            ("GET", "release_by_tag"): self._get_release_by_tag,
            ("GET", "latest_release"): self._get_latest,
            ("POST", "generate_notes"): self._generate_notes,
            ("GET", "assets"): self._list_assets,
            ("GET", "asset"): self._get_asset,
            ("PATCH", "asset"): self._update_asset,
            ("DELETE", "asset"): self._delete_asset,
            ("GET", "contents"): self._get_contents,
        }.get((ctx.method if ctx.method != "HEAD" else "GET", ctx.route))
        if ctx.route == "upload" and ctx.method == "POST":
            return self._upload(h, ctx, repo, drop)
        if handler is None:
            raise not_found()
        if ctx.method in ("POST", "PATCH", "PUT"):
            payload = self._read_json(h, ctx)
            return handler(ctx, repo, payload)
        return handler(ctx, repo, None)

    def _read_json(self, h: _Handler, ctx: _Ctx) -> Any:
        if h._body_unknown:
            raise ApiError(411, "Length Required")
        data = h.read_body(MAX_JSON_BODY)
        h.drain()
        ctx.body = data
        if not data.strip():
            return {}
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Problems parsing JSON", documentation_url=DOCS) from None

    # ---- JSON rendering -----------------------------------------------------------------------------

    def _user_id(self, login: str) -> int:
        return int.from_bytes(hashlib.sha256(login.encode()).digest()[:3], "big") + 1000

    def _user_json(self, login: str) -> JSON:
        uid = 41898282 if login == "github-actions[bot]" else self._user_id(login)
        for tok in self.state.tokens.values():
            if tok.login == login:
                uid = tok.user_id
        user = f"{self.api_url}/users/{quote(login)}"
        return {
            "login": login,
            "id": uid,
            "node_id": _node_id("U", uid),
            "avatar_url": f"{self.server_url}/avatars/{quote(login)}",
            "gravatar_id": "",
            "url": user,
            "html_url": f"{self.server_url}/{quote(login)}",
            **github_shapes.user_links(user),
            "type": "Bot" if login.endswith("[bot]") else "User",
            "user_view_type": "public",
            "site_admin": False,
        }

    def _repo_api(self, owner: str, repo: str) -> str:
        return f"{self.api_url}/repos/{quote(owner)}/{quote(repo)}"

    def _download_tag(self, rel: Release) -> str:
        return f"untagged-{rel.untagged_key}" if rel.draft else rel.tag_name

    def _asset_json(self, rel: Release, asset: Asset) -> JSON:
        return {
            "url": f"{self._repo_api(rel.owner, rel.repo)}/releases/assets/{asset.id}",
            "browser_download_url": (
                f"{self.server_url}/{quote(rel.owner)}/{quote(rel.repo)}/releases/download/"
                f"{quote(self._download_tag(rel), safe='')}/{quote(asset.name)}"
            ),
            "id": asset.id,
            "node_id": _node_id("RA", asset.id),
            "name": asset.name,
            "label": asset.label,
            "state": asset.state,
            "content_type": asset.content_type,
            "size": asset.size,
            **({"digest": asset.digest} if self.asset_digests else {}),
            "download_count": asset.download_count,
            "created_at": iso(asset.created_at),
            "updated_at": iso(asset.updated_at),
            "uploader": self._user_json(asset.uploader),
        }

    def _ordered_assets(self, rel: Release) -> list[Asset]:
        if self.asset_order == "name":
            return sorted(rel.assets, key=lambda a: a.name)
        return sorted(rel.assets, key=lambda a: a.id)

    def _release_json(self, rel: Release) -> JSON:
        api = self._repo_api(rel.owner, rel.repo)
        web_tag = quote(self._download_tag(rel), safe="")
        return {
            "url": f"{api}/releases/{rel.id}",
            "assets_url": f"{api}/releases/{rel.id}/assets",
            "upload_url": (
                f"{self.uploads_url}/repos/{quote(rel.owner)}/{quote(rel.repo)}/releases/{rel.id}/assets{{?name,label}}"
            ),
            "html_url": f"{self.server_url}/{quote(rel.owner)}/{quote(rel.repo)}/releases/tag/{web_tag}",
            "id": rel.id,
            "author": self._user_json(rel.author),
            "node_id": _node_id("RE", rel.id),
            "tag_name": rel.tag_name,
            "target_commitish": rel.target_commitish,
            "name": rel.name,
            "draft": rel.draft,
            "immutable": rel.immutable,
            "prerelease": rel.prerelease,
            "created_at": iso(rel.created_at),
            "updated_at": iso(rel.updated_at),
            "published_at": iso(rel.published_at),
            "assets": [self._asset_json(rel, a) for a in self._ordered_assets(rel)],
            "tarball_url": f"{api}/tarball/{quote(rel.tag_name, safe='')}",
            "zipball_url": f"{api}/zipball/{quote(rel.tag_name, safe='')}",
            "body": rel.body,
        }

    def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return Response(status, _json_bytes(obj), hdrs)

    def _paginate(self, ctx: _Ctx, items: list[Any], base: str) -> tuple[list[Any], dict[str, str]]:
        def as_int(name: str, default: int) -> int:
            try:
                return int(ctx.query.get(name, default))
            except ValueError:
                return default

        per_page = as_int("per_page", 30)
        per_page = 30 if per_page < 1 else min(per_page, 100)
        page = max(1, as_int("page", 1))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        extra = {k: v for k, v in ctx.query.items() if k not in ("per_page", "page")}

        def url(p: int) -> str:
            return f"{self.api_url}{base}?{urlencode({**extra, 'per_page': per_page, 'page': p})}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return chunk, ({"Link": ", ".join(links)} if links else {})

    # ---- endpoint handlers --------------------------------------------------------------------------

    def _get_rate_limit(self, ctx: _Ctx) -> Response:
        if not self.rate_limits_enabled:
            raise ApiError(404, "Rate limiting is not enabled.", documentation_url=DOCS)
        bucket = self._bucket(ctx, ctx.token)
        core = {
            "limit": bucket.limit,
            "used": bucket.used,
            "remaining": max(0, bucket.limit - bucket.used),
            "reset": math.ceil(bucket.reset_at),
        }
        reset = math.ceil(time.time() + 60)
        return self._json(
            200,
            {
                "resources": {
                    "core": core,
                    "search": {"limit": 30, "used": 0, "remaining": 30, "reset": reset},
                    "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": reset},
                },
                "rate": core,
            },
        )

    def _get_repo(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        body: JSON = {
            "id": repo.id,
            "node_id": _node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "owner": self._user_json(repo.owner) | {"type": "Organization"},
            "html_url": f"{self.server_url}/{quote(repo.owner)}/{quote(repo.name)}",
            "description": None,
            "fork": False,
            "url": self._repo_api(repo.owner, repo.name),
            "releases_url": self._repo_api(repo.owner, repo.name) + "/releases{/id}",
            "default_branch": repo.default_branch,
            "archived": False,
            "disabled": False,
            **github_shapes.repository_padding(self._repo_api(repo.owner, repo.name),
                                               f"{self.server_url}/{quote(repo.owner)}/{quote(repo.name)}",
                                               created_at=iso(self.state.clock()) or ""),
        }
        if ctx.token is not None:
            write = ctx.can_write
            body["permissions"] = {
                "admin": False,
                "maintain": False,
                "push": write,
                "triage": write,
                "pull": True,
            }
        return self._json(200, body)

    def _list_releases(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        rels = self.state.list_releases(repo, can_see_drafts=ctx.can_write)
        with self.state.lock:
            page, headers = self._paginate(ctx, rels, f"/repositories/{repo.id}/releases")
            return self._json(200, [self._release_json(r) for r in page], headers)

    def _get_release(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        with self.state.lock:
            rel = self.state.release(repo, int(ctx.params["release_id"]), can_see_drafts=ctx.can_write, read=True)
            return self._json(200, self._release_json(rel))

    def _get_release_by_tag(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        with self.state.lock:
            return self._json(200, self._release_json(self.state.release_by_tag(repo, ctx.params["tag"])))

    def _get_latest(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        with self.state.lock:
            rel = self.state.latest(repo)
            if rel is None:
                raise not_found(f"{DOC_RELEASES}#get-the-latest-release")
            return self._json(200, self._release_json(rel))

    @staticmethod
    def _validate_release_payload(payload: Any, *, create: bool) -> JSON:
        if not isinstance(payload, dict):
            raise invalid_request(f"Invalid input: {json.dumps(payload)} is not an object.")
        if create and "tag_name" not in payload:
            raise invalid_request('"tag_name" wasn\'t supplied.')
        for key in ("tag_name", "target_commitish"):
            if key in payload and not isinstance(payload[key], str):
                raise invalid_request(f"For 'properties/{key}', {json.dumps(payload[key])} is not a string.")
        for key in ("name", "body", "discussion_category_name"):
            if payload.get(key) is not None and not isinstance(payload[key], str):
                raise invalid_request(f"For 'properties/{key}', {json.dumps(payload[key])} is not a string or null.")
        for key in ("draft", "prerelease", "generate_release_notes"):
            if key in payload and not isinstance(payload[key], bool):
                raise invalid_request(f"For 'properties/{key}', {json.dumps(payload[key])} is not a boolean.")
        if "make_latest" in payload:
            value = payload["make_latest"]
            if not isinstance(value, str):
                raise invalid_request(f"For 'properties/make_latest', {json.dumps(value)} is not a string.")
            if value not in MAKE_LATEST_VALUES:
                raise invalid_request(f"For 'properties/make_latest', {json.dumps(value)} is not a member of enum.")
        return payload

    @staticmethod
    def _workflow_guard(ctx: _Ctx, repo: Repo, target: str | None, operation: str) -> None:
        """Documented on both operations: when the resolved target commit adds or modifies files under
        ``.github/workflows/``, a token not authorised to change workflows gets 404 Not Found."""
        assert ctx.token is not None
        if (target or repo.default_branch) in repo.workflow_changes and not ctx.token.workflows:
            ctx.fired.append("workflow_guard")
            raise not_found(f"https://docs.github.com/rest/releases/releases#{operation}")

    def _create_release(self, ctx: _Ctx, repo: Repo, payload: Any) -> Response:
        data = self._validate_release_payload(payload, create=True)
        assert ctx.token is not None
        self._workflow_guard(ctx, repo, data.get("target_commitish"), "create-a-release")
        tag = data["tag_name"]
        race = self.faults.take("race_create", ctx.method, ctx.route)
        if race is not None:
            ctx.fired.append("race_create")
            with contextlib.suppress(ApiError):
                self.state.create_release(
                    repo,
                    tag_name=tag,
                    target_commitish=data.get("target_commitish"),
                    name=data.get("name") or tag,
                    body="created by a competing job",
                    draft=bool(race.params["draft"]),
                    author=race.params["author"],
                )
        body = data.get("body")
        if data.get("generate_release_notes"):
            notes = self._notes_body(repo, tag, None)
            body = f"{body}\n\n{notes}" if body else notes
        with self.state.lock:
            rel = self.state.create_release(
                repo,
                tag_name=tag,
                target_commitish=data.get("target_commitish"),
                name=data.get("name"),
                body=body,
                draft=data.get("draft", False),
                prerelease=data.get("prerelease", False),
                make_latest=data.get("make_latest", "true"),
                author=ctx.token.login,
            )
            ec = self.faults.take("eventual_consistency", ctx.method, ctx.route)
            if ec is not None:
                ctx.fired.append("eventual_consistency")
                rel.stale_reads = int(ec.params["reads"])
                rel.stale_until = time.monotonic() + float(ec.params["seconds"])
                rel.stale_by_id = bool(ec.params["by_id"])
            out = self._json(
                201, self._release_json(rel), {"Location": f"{self._repo_api(repo.owner, repo.name)}/releases/{rel.id}"}
            )
            return out

    def _update_release(self, ctx: _Ctx, repo: Repo, payload: Any) -> Response:
        data = self._validate_release_payload(payload, create=False)
        with self.state.lock:
            rel = self.state.release(repo, int(ctx.params["release_id"]), can_see_drafts=True)
            self._workflow_guard(ctx, repo, data.get("target_commitish") or rel.target_commitish, "update-a-release")
            self.state.update_release(repo, rel, data)
            return self._json(200, self._release_json(rel))

    def _delete_release(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        with self.state.lock:
            rel = self.state.release(repo, int(ctx.params["release_id"]), can_see_drafts=True)
            self.state.delete_release(repo, rel)
        return Response(204)

    def _notes_body(self, repo: Repo, tag: str, previous: str | None) -> str:
        web = f"{self.server_url}/{quote(repo.owner)}/{quote(repo.name)}"
        if previous is None:
            with self.state.lock:
                older = [
                    r
                    for r in sorted(repo.releases.values(), key=sort_key, reverse=True)
                    if not r.draft and r.tag_name != tag
                ]
            previous = older[0].tag_name if older else None
        head = "## What's Changed\n"
        if previous:
            foot = f"\n\n**Full Changelog**: {web}/compare/{previous}...{tag}"
        else:
            foot = f"\n\n**Full Changelog**: {web}/commits/{tag}"
        target = self.faults.notes_length
        lines: list[str] = []
        n = 1
        size = len(head) + len(foot)
        while n <= 2 or (target is not None and size < target):
            line = f"* Change number {n} by @octocat in {web}/pull/{n}\n"
            lines.append(line)
            size += len(line)
            n += 1
        middle = "".join(lines).rstrip("\n")
        if target is None:
            return head + middle + foot
        keep = target - len(head) - len(foot)
        if keep < 0:
            return (head + middle + foot)[:target]
        return head + (middle + "\n" * keep)[:keep] + foot

    def _generate_notes(self, ctx: _Ctx, repo: Repo, payload: Any) -> Response:
        if not isinstance(payload, dict) or "tag_name" not in payload:
            raise invalid_request('"tag_name" wasn\'t supplied.', f"{DOC_RELEASES}#generate-release-notes")
        for key in ("tag_name", "target_commitish", "previous_tag_name", "configuration_file_path"):
            if key in payload and not isinstance(payload[key], str):
                raise invalid_request(f"For 'properties/{key}', {json.dumps(payload[key])} is not a string.")
        tag = payload["tag_name"]
        return self._json(200, {"name": tag, "body": self._notes_body(repo, tag, payload.get("previous_tag_name"))})

    def _list_assets(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        with self.state.lock:
            rel = self.state.release(repo, int(ctx.params["release_id"]), can_see_drafts=ctx.can_write, read=True)
            page, headers = self._paginate(
                ctx, self._ordered_assets(rel), f"/repositories/{repo.id}/releases/{rel.id}/assets"
            )
            return self._json(200, [self._asset_json(rel, a) for a in page], headers)

    def _get_asset(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        with self.state.lock:
            rel, asset = self.state.find_asset(repo, int(ctx.params["asset_id"]), can_see_drafts=ctx.can_write)
            if "application/octet-stream" in ctx.headers.get("accept", ""):
                if asset.state != "uploaded":
                    raise not_found(f"{DOC_ASSETS}#get-a-release-asset")
                return Response(302, b"", {"Location": self._object_url(asset)})
            return self._json(200, self._asset_json(rel, asset))

    def _update_asset(self, ctx: _Ctx, repo: Repo, payload: Any) -> Response:
        if not isinstance(payload, dict):
            raise invalid_request("Invalid input: the body must be an object.", f"{DOC_ASSETS}#update-a-release-asset")
        for key in ("name", "label", "state"):
            if payload.get(key) is not None and not isinstance(payload[key], str):
                raise invalid_request(f"For 'properties/{key}', {json.dumps(payload[key])} is not a string.")
        with self.state.lock:
            rel, asset = self.state.find_asset(repo, int(ctx.params["asset_id"]), can_see_drafts=True)
            self.state.update_asset(repo, rel, asset, payload)
            return self._json(200, self._asset_json(rel, asset))

    def _delete_asset(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        with self.state.lock:
            rel, asset = self.state.find_asset(repo, int(ctx.params["asset_id"]), can_see_drafts=True)
            self.state.delete_asset(repo, rel, asset)
        return Response(204)

    def _get_contents(self, ctx: _Ctx, repo: Repo, _payload: Any) -> Response:
        path = ctx.params.get("path", "").strip("/")
        ref = ctx.query.get("ref") or repo.default_branch
        with self.state.lock:
            files = repo.files.get(ref)
            if files is None and ref in repo.tags:
                files = repo.files[repo.default_branch]
            if files is None:
                raise ApiError(
                    404,
                    f"No commit found for the ref {ref}",
                    documentation_url="https://docs.github.com/rest/repos/contents#get-repository-content",
                )
            files = dict(files)
        api = self._repo_api(repo.owner, repo.name)
        web = f"{self.server_url}/{quote(repo.owner)}/{quote(repo.name)}"

        def entry(p: str, kind: str, content: bytes | None) -> JSON:
            sha = (
                hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
                if content is not None
                else fake_sha(repo.full_name, ref, p)
            )
            e: JSON = {
                "type": kind,
                "size": len(content) if content is not None else 0,
                "name": p.rsplit("/", 1)[-1],
                "path": p,
                "sha": sha,
                "url": f"{api}/contents/{quote(p)}?ref={quote(ref)}",
                "git_url": f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}",
                "html_url": f"{web}/{'blob' if kind == 'file' else 'tree'}/{quote(ref)}/{quote(p)}",
                "download_url": (
                    f"{self.server_url}/raw/{quote(repo.full_name)}/{quote(ref)}/{quote(p)}" if kind == "file" else None
                ),
            }
            e["_links"] = {"self": e["url"], "git": e["git_url"], "html": e["html_url"]}
            return e

        if path in files:
            content = files[path]
            accept = ctx.headers.get("accept", "")
            if "application/vnd.github.raw" in accept or "application/vnd.github.v3.raw" in accept:
                return Response(200, content, {"Content-Type": "application/vnd.github.raw"})
            body = entry(path, "file", content)
            encoded = base64.b64encode(content).decode()
            body["content"] = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
            body["encoding"] = "base64"
            return self._json(200, body)
        prefix = f"{path}/" if path else ""
        children: dict[str, JSON] = {}
        for p, content in sorted(files.items()):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix) :]
            if "/" in rest:
                d = prefix + rest.split("/", 1)[0]
                children.setdefault(d, entry(d, "dir", None))
            else:
                children[p] = entry(p, "file", content)
        if not children:
            raise not_found("https://docs.github.com/rest/repos/contents#get-repository-content")
        return self._json(200, list(children.values()))

    # ---- uploads and downloads ----------------------------------------------------------------------

    def _upload(self, h: _Handler, ctx: _Ctx, repo: Repo, drop: Fault | None) -> Response:
        doc = f"{DOC_ASSETS}#upload-a-release-asset"
        length = h.content_length()
        if length is None:
            h.close_connection = True
            raise ApiError(411, "Length Required", documentation_url=doc)
        name_raw = ctx.query.get("name")
        if not name_raw:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "ReleaseAsset", "code": "missing_field", "field": "name"}],
                documentation_url=doc,
            )
        content_type = ctx.headers.get("content-type")
        if not content_type:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "ReleaseAsset", "code": "missing_field", "field": "content_type"}],
                documentation_url=doc,
            )
        assert ctx.token is not None
        rel = self.state.release(repo, int(ctx.params["release_id"]), can_see_drafts=True)
        asset = self.state.begin_upload(
            repo,
            rel,
            name=normalize_asset_name(name_raw),
            label=ctx.query.get("label"),
            content_type=content_type,
            size=length,
            uploader=ctx.token.login,
        )
        if drop is not None and not drop.params["after_processing"]:
            received = b""
            try:
                received = h.read_body(int(drop.params["after_bytes"]))
            finally:
                if drop.params["leave_open"]:
                    self.state.interrupt_upload(asset, received)
                elif not drop.params["leave_starter"]:
                    self.state.abort_upload(repo, asset)
            raise _Drop("fault: drop_connection mid-upload")
        if self.faults.take("upload_502_starter", ctx.method, ctx.route) is not None:
            ctx.fired.append("upload_502_leaves_starter")
            h.drain()
            return self._json(502, {"message": "Bad Gateway", "documentation_url": doc, "status": "502"})
        path = self.state.new_blob_path()
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("wb") as f:
                while h._body_left > 0:
                    chunk = h.read_body(CHUNK)
                    digest.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            self.state.abort_upload(repo, asset)
            raise
        self.state.finish_upload(asset, path, digest.hexdigest(), size)
        with self.state.lock:
            return self._json(201, self._asset_json(rel, asset))

    def _object_url(self, asset: Asset) -> str:
        return f"{self.objects_url}/_objects/{asset.object_key}/{quote(asset.name)}"

    def _download(self, ctx: _Ctx) -> Response:
        try:
            repo = self.state.repo(ctx.params["owner"], ctx.params["repo"])
        except ApiError:
            raise ApiError(404, "Not Found") from None
        tag, name = ctx.params["tag"], ctx.params["name"]
        with self.state.lock:
            if repo.private:  # no browser session: token clients must use the API asset URL
                raise ApiError(404, "Not Found")
            for rel in sorted(repo.releases.values(), key=sort_key, reverse=True):
                if rel.draft or rel.tag_name != tag:  # draft "untagged-" URLs need a browser session
                    continue
                asset = rel.asset(name)
                if asset is not None and asset.state == "uploaded":
                    return Response(302, b"", {"Location": self._object_url(asset)})
        raise ApiError(404, "Not Found")

    def _object(self, ctx: _Ctx) -> Response:
        key = ctx.params["key"]
        with self.state.lock:
            for repo in self.state.repos.values():
                for rel in repo.releases.values():
                    for asset in rel.assets:
                        if asset.object_key == key and asset.state == "uploaded" and asset.path is not None:
                            if ctx.method == "GET":
                                asset.download_count += 1
                            return Response(
                                200,
                                headers={
                                    "Content-Type": "application/octet-stream",
                                    "Content-Disposition": f"attachment; filename={asset.name}",
                                    "ETag": f'"0x{(asset.sha256 or "")[:16].upper()}"',
                                },
                                file=asset.path,
                                file_size=asset.size,
                            )
        raise ApiError(404, "The specified blob does not exist.")


__all__ = ["FakeGitHub", "LoggedRequest", "Response"]
