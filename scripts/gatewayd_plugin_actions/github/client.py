"""A small GitHub REST client for releases: the only module that talks HTTP to GitHub.

* Base URL from ``GITHUB_API_URL`` (``https://api.github.com``; GHES ``https://HOST/api/v3``); uploads go
  to the release's own ``upload_url`` (its ``{?name,label}`` template stripped), never a guessed host.
* ``Accept: application/vnd.github+json`` and a pinned ``X-GitHub-Api-Version``.
* The token (``GITHUB_TOKEN``) travels only in the ``Authorization`` header, set by a ``requests`` auth
  hook, so ``requests`` drops it on redirects to another host (asset downloads). It is never put in a URL
  and every message built from a request or a response goes through :func:`redact`.
* Retries, two layers:

  - urllib3 ``Retry`` (mounted on the session) retries connection failures on every call (nothing was
    sent), and read errors and 500/502/503/504 on idempotent calls (GET, HEAD, PUT, PATCH, DELETE), with
    exponential backoff and ``Retry-After`` honoured (capped). POSTs (create, upload, generate-notes) are
    not blindly retried: their callers reconcile state (get/list) first.
  - Rate limits are answered by GitHub before anything is processed, so :meth:`GitHubClient.request`
    retries them for every method: ``403``/``429`` with ``Retry-After`` (secondary limits), or with
    ``x-ratelimit-remaining: 0`` until ``x-ratelimit-reset`` (primary limit), or a secondary limit without
    either (wait ``GPA_GITHUB_SECONDARY_WAIT``, doubling). A wait longer than ``GPA_GITHUB_MAX_WAIT``
    fails at once with a clear message instead of hanging the job.
* ``Link: rel="next"`` pagination with ``per_page=100``.
* Uploads and downloads are streamed from and to disk (memory stays flat for a 1 GiB asset), with a long
  read timeout for uploads.
"""

from __future__ import annotations

import email.utils
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from gatewayd_plugin_actions import __version__, actions_io
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.github.errors import (
    JSON,
    GitHubError,
    hint_for,
    json_errors,
    json_message,
    network_hint,
    network_reason,
    redact,
    register_secret,
)
from gatewayd_plugin_actions.github.network import Network, NetworkSession, QuickRetry

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
USER_AGENT = f"gatewayd-plugin-actions/{__version__}"

# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise UserError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class Limits:
    """Retry, wait and timeout knobs (all seconds); ``GPA_GITHUB_*`` variables override them."""

    retries: int = 5  # urllib3: connection failures, and 5xx/read errors of idempotent calls
    backoff: float = 1.0  # urllib3 backoff factor: 1, 2, 4, 8 … s
    backoff_max: float = 30.0
    max_wait: float = 600.0  # longest single rate-limit wait before giving up
    secondary_wait: float = 60.0  # secondary limit without Retry-After: wait this, doubling
    rate_limit_attempts: int = 8
    timeout: float = 60.0  # read timeout of API calls
    connect_timeout: float = 15.0
    upload_timeout: float = 900.0  # read timeout of an upload (the answer comes after the whole body)
    starter_grace: float = 10.0  # how long a `starter` asset may be another job's upload in flight

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if env is None else env
        base = cls()
        return cls(
            retries=int(_env_float(env, "GPA_GITHUB_RETRIES", base.retries)),
            backoff=_env_float(env, "GPA_GITHUB_BACKOFF", base.backoff),
            backoff_max=_env_float(env, "GPA_GITHUB_BACKOFF_MAX", base.backoff_max),
            max_wait=_env_float(env, "GPA_GITHUB_MAX_WAIT", base.max_wait),
            secondary_wait=_env_float(env, "GPA_GITHUB_SECONDARY_WAIT", base.secondary_wait),
            rate_limit_attempts=int(_env_float(env, "GPA_GITHUB_RATE_LIMIT_ATTEMPTS", base.rate_limit_attempts)),
            timeout=_env_float(env, "GPA_GITHUB_TIMEOUT", base.timeout),
            connect_timeout=_env_float(env, "GPA_GITHUB_CONNECT_TIMEOUT", base.connect_timeout),
            upload_timeout=_env_float(env, "GPA_GITHUB_UPLOAD_TIMEOUT", base.upload_timeout),
            starter_grace=_env_float(env, "GPA_GITHUB_STARTER_GRACE", base.starter_grace),
        )


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})


def make_retry(limits: Limits) -> Retry:
    return QuickRetry(
        total=limits.retries, connect=limits.retries, read=limits.retries, status=limits.retries,
        other=0, redirect=5, allowed_methods=IDEMPOTENT, status_forcelist=RETRY_STATUSES,
        backoff_factor=limits.backoff, backoff_max=limits.backoff_max, raise_on_status=False,
        raise_on_redirect=False, respect_retry_after_header=True, retry_after_max=int(limits.max_wait))


class _TokenAuth(requests.auth.AuthBase):
    """Adds the token per request; ``requests`` strips it when a redirect leaves the host."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_TokenAuth(***)"


def content_type_for(name: str) -> str:
    if name.endswith((".tar.gz", ".tgz", ".gz")):
        return "application/gzip"
    if name.endswith(".zip"):
        return "application/zip"
    if name.endswith((".txt", ".md")):
        return "text/plain"
    if name.endswith((".json", ".jsonl")):
        return "application/json"
    return "application/octet-stream"


def strip_url_template(url: str) -> str:
    """``…/assets{?name,label}`` → ``…/assets`` (RFC 6570 suffix of ``upload_url``)."""
    return re.sub(r"\{[^}]*\}$", "", url)


@dataclass
class Stats:
    """What the client did, for tests: the rate-limit waits it made itself (urllib3's are not counted)."""

    rate_limit_waits: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


# --------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------


class GitHubClient:
    def __init__(self, api_url: str = DEFAULT_API_URL, token: str | None = None, *,
                 limits: Limits | None = None, server_url: str | None = None, pool_size: int = 8,
                 network: Network | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.network = network or Network()
        self.server_url = (server_url or _server_from_api(self.api_url)).rstrip("/")
        self.has_token = bool(token)
        self.limits = limits or Limits()
        self.stats = Stats()
        self._token = token
        self._pool_size = pool_size
        self._local = threading.local()
        register_secret(token)

    @classmethod
    def for_uploads(cls, concurrency: int) -> GitHubClient:
        """From the environment, with connections for ``concurrency`` uploads plus the overlapping reads."""
        return cls.from_env(pool_size=max(4, concurrency + 2))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, pool_size: int = 8) -> GitHubClient:
        env = os.environ if env is None else env
        api_url = env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
        if not re.match(r"^https?://[^/\s]+", api_url):
            raise UserError(f"GITHUB_API_URL={api_url!r} is not an http(s) URL")
        token = env.get("GITHUB_TOKEN", "").strip() or env.get("GH_TOKEN", "").strip() or None
        return cls(api_url, token, limits=Limits.from_env(env), server_url=env.get("GITHUB_SERVER_URL") or None,
                   pool_size=pool_size, network=Network.from_env(env))

    def __repr__(self) -> str:
        return f"GitHubClient({self.api_url!r}, token={'***' if self.has_token else None})"

    # ---- transport ------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        """One session per thread (a ``Session`` is not documented as thread-safe)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = NetworkSession(self.network)
            adapter = HTTPAdapter(max_retries=make_retry(self.limits), pool_connections=4,
                                  pool_maxsize=self._pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
                                    "User-Agent": USER_AGENT})
            # No ~/.netrc credentials next to our token; proxies and CAs come from `self.network` instead.
            session.trust_env = False
            session.verify = self.network.verify
            if self._token:
                session.auth = _TokenAuth(self._token)
            self._local.session = session
        return session

    def url(self, path: str) -> str:
        return path if re.match(r"^https?://", path) else f"{self.api_url}/{path.lstrip('/')}"

    def _rate_limit_wait(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait if ``response`` is a rate limit (nothing was processed), else None."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        retry_after = headers.get("Retry-After")
        if retry_after is not None:
            return _parse_retry_after(retry_after)
        if headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset", "").isdigit():
            return max(0.0, int(headers["X-RateLimit-Reset"]) - time.time()) + 1.0
        message = json_message(response)
        if response.status_code == 429 or "rate limit" in message.lower():
            return float(min(self.limits.secondary_wait * 2.0 ** attempt, self.limits.max_wait))
        return None

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: JSON | None = None, body: Callable[[], IO[bytes]] | None = None,
                headers: Mapping[str, str] | None = None, timeout: float | None = None, stream: bool = False,
                allow: tuple[int, ...] = ()) -> requests.Response:
        """One API call, rate limits waited out; raises :class:`GitHubError` unless 2xx/3xx or in ``allow``.

        ``body`` opens a fresh stream per attempt (uploads). Network errors after urllib3's retries raise
        a :class:`GitHubError` with ``status`` 0.
        """
        url = self.url(path)
        read_timeout = timeout or self.limits.timeout
        for attempt in range(self.limits.rate_limit_attempts + 1):
            stream_in = body() if body is not None else None
            try:
                response = self._session().request(
                    method, url, params=params, json=json_body, data=stream_in, headers=headers,
                    timeout=(self.limits.connect_timeout, read_timeout), stream=stream,
                    proxies=self.network.proxies_for(url))
            except requests.RequestException as exc:
                raise GitHubError(method, url, 0, network_reason(exc),
                                  hint=network_hint(exc, url, self.network)) from None
            finally:
                if stream_in is not None:
                    stream_in.close()
            wait = self._rate_limit_wait(response, attempt)
            if wait is None:
                break
            response.close()
            if wait > self.limits.max_wait:
                raise GitHubError(method, url, response.status_code, json_message(response) or "rate limited",
                                  hint=f"GitHub asks to wait {wait:.0f}s, more than GPA_GITHUB_MAX_WAIT="
                                       f"{self.limits.max_wait:.0f}s; re-run the job later")
            if attempt == self.limits.rate_limit_attempts:
                raise GitHubError(method, url, response.status_code, "still rate limited after "
                                  f"{attempt + 1} attempts")
            with self.stats.lock:
                self.stats.rate_limit_waits.append(wait)
            actions_io.progress(f"  rate limited on {method} {redact(_short(url))} (HTTP {response.status_code}); "
                                f"waiting {wait:.1f}s")
            time.sleep(wait)
        if response.status_code >= 400 and response.status_code not in allow:
            message = json_message(response)
            errors = json_errors(response)
            response.close()
            raise GitHubError(method, url, response.status_code, message, errors,
                              hint=hint_for(response.status_code, message, method, url))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise GitHubError(method, self.url(path), response.status_code,
                              f"answer is not JSON: {response.text[:200]!r}") from None

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[JSON]:
        """Every item of a list endpoint, following ``Link: rel="next"``."""
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while url:
            response = self.request("GET", url, params=query)
            page = response.json()
            if not isinstance(page, list):
                raise GitHubError("GET", self.url(url), response.status_code, "expected a JSON list")
            yield from page
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    # ---- releases -------------------------------------------------------------------------------

    @staticmethod
    def _repo(owner: str, repo: str) -> str:
        return f"repos/{quote(owner, safe='')}/{quote(repo, safe='')}"

    def get_repo(self, owner: str, repo: str) -> JSON:
        data: JSON = self.json("GET", self._repo(owner, repo))
        return data

    def get_release(self, owner: str, repo: str, release_id: int) -> JSON | None:
        response = self.request("GET", f"{self._repo(owner, repo)}/releases/{release_id}", allow=(404,))
        return None if response.status_code == 404 else _as_dict(response)

    def get_release_by_tag(self, owner: str, repo: str, tag: str) -> JSON | None:
        """The *published* release for ``tag`` (GitHub never returns drafts here), or None."""
        response = self.request("GET", f"{self._repo(owner, repo)}/releases/tags/{quote(tag, safe='')}",
                                allow=(404,))
        return None if response.status_code == 404 else _as_dict(response)

    def get_latest_release(self, owner: str, repo: str) -> JSON | None:
        response = self.request("GET", f"{self._repo(owner, repo)}/releases/latest", allow=(404,))
        return None if response.status_code == 404 else _as_dict(response)

    def list_releases(self, owner: str, repo: str) -> Iterator[JSON]:
        """All releases, newest first, drafts included when the token can push."""
        return self.paginate(f"{self._repo(owner, repo)}/releases")

    def create_release(self, owner: str, repo: str, payload: JSON) -> JSON:
        data: JSON = self.json("POST", f"{self._repo(owner, repo)}/releases", json_body=payload)
        return data

    def update_release(self, owner: str, repo: str, release_id: int, payload: JSON) -> JSON:
        data: JSON = self.json("PATCH", f"{self._repo(owner, repo)}/releases/{release_id}", json_body=payload)
        return data

    def delete_release(self, owner: str, repo: str, release_id: int) -> None:
        self.request("DELETE", f"{self._repo(owner, repo)}/releases/{release_id}", allow=(404,))

    def generate_notes(self, owner: str, repo: str, tag: str, previous_tag: str | None = None,
                       target: str | None = None) -> JSON:
        payload: JSON = {"tag_name": tag}
        if previous_tag:
            payload["previous_tag_name"] = previous_tag
        if target:
            payload["target_commitish"] = target
        data: JSON = self.json("POST", f"{self._repo(owner, repo)}/releases/generate-notes", json_body=payload)
        return data

    # ---- assets ---------------------------------------------------------------------------------

    def list_assets(self, owner: str, repo: str, release_id: int) -> list[JSON]:
        return list(self.paginate(f"{self._repo(owner, repo)}/releases/{release_id}/assets"))

    def delete_asset(self, owner: str, repo: str, asset_id: int) -> bool:
        """Delete an asset; False if it was already gone (another writer won: that is fine)."""
        response = self.request("DELETE", f"{self._repo(owner, repo)}/releases/assets/{asset_id}", allow=(404,))
        return response.status_code != 404

    def rename_asset(self, owner: str, repo: str, asset_id: int, name: str) -> JSON:
        url = f"{self._repo(owner, repo)}/releases/assets/{asset_id}"
        data: JSON = self.json("PATCH", url, json_body={"name": name})
        return data

    def upload_asset(self, release: JSON, path: Path, name: str | None = None) -> JSON:
        """POST ``path`` to the release's ``upload_url``, streamed from disk. Not retried on errors: the
        caller reconciles (a 502 can leave a ``starter`` asset that blocks the name)."""
        upload_url = release.get("upload_url")
        if not isinstance(upload_url, str) or not upload_url:
            raise UserError(f"release {release.get('id')} has no upload_url")
        asset_name = name or path.name
        size = path.stat().st_size
        params = {"name": asset_name}
        headers = {"Content-Type": content_type_for(asset_name), "Content-Length": str(size)}
        data: JSON = self.json("POST", strip_url_template(upload_url), params=params, headers=headers,
                               body=lambda: path.open("rb"), timeout=self.limits.upload_timeout)
        return data

    def download_asset(self, owner: str, repo: str, asset: JSON, dest: Path) -> Path:
        """Download a release asset through the API (works for private repos and drafts): the API answers
        with a redirect to a storage host, followed without the ``Authorization`` header."""
        url = asset.get("url") or f"{self._repo(owner, repo)}/releases/assets/{asset['id']}"
        return self.download(str(url), dest, accept="application/octet-stream")

    def download(self, url: str, dest: Path, accept: str = "application/octet-stream") -> Path:
        """Stream ``url`` into ``dest`` (atomically, via ``dest.partial``)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        response = self.request("GET", url, headers={"Accept": accept}, stream=True,
                                timeout=self.limits.upload_timeout)
        try:
            with partial.open("wb") as out:
                for block in response.iter_content(chunk_size=1 << 20):
                    out.write(block)
        except requests.RequestException as exc:
            partial.unlink(missing_ok=True)
            raise GitHubError("GET", url, 0, f"download interrupted: {network_reason(exc)}") from None
        finally:
            response.close()
        partial.replace(dest)
        return dest


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _server_from_api(api_url: str) -> str:
    if re.match(r"^https://api\.github\.com$", api_url):
        return "https://github.com"
    return re.sub(r"/api/v3$", "", api_url)


def _parse_retry_after(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else 60.0


def _as_dict(response: requests.Response) -> JSON:
    data = response.json()
    if not isinstance(data, dict):
        raise GitHubError(response.request.method or "GET", response.url, response.status_code,
                          "expected a JSON object")
    return data


def _short(url: str) -> str:
    return re.sub(r"\?.*$", "", url)
