"""Fault injection for the fake GitHub.

A fault is armed with one of the methods of :class:`Faults`; it matches requests by *route* and fires
for the next ``times`` matching requests, then disarms itself.  Routes are matched by a
:data:`RouteSpec`:

* ``"*"`` or ``None``: every request;
* a route name (``"upload"``, ``"release_by_tag"``, ...; see :data:`ROUTES`): any method;
* a ``(method, route)`` tuple, either part may be ``"*"``: e.g. ``("POST", "upload")``,
  ``("GET", "releases")``;
* an alias from :data:`ALIASES`, e.g. ``"create_release"`` == ``("POST", "releases")``.

All methods are thread-safe: the HTTP server consumes faults from its handler threads while the
test thread arms them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal[
    "fail",
    "upload_502_starter",
    "drop_connection",
    "secondary_rate_limit",
    "primary_rate_limit",
    "eventual_consistency",
    "race_create",
    "timeout",
]

#: every route name the server reports (also the ``route`` field of ``requests_log`` entries)
ROUTES = (
    "rate_limit",  # GET /rate_limit
    "repo",  # GET /repos/{o}/{r}
    "releases",  # GET (list) / POST (create) /repos/{o}/{r}/releases
    "release",  # GET/PATCH/DELETE /repos/{o}/{r}/releases/{id}
    "release_by_tag",  # GET /repos/{o}/{r}/releases/tags/{tag}
    "latest_release",  # GET /repos/{o}/{r}/releases/latest
    "generate_notes",  # POST /repos/{o}/{r}/releases/generate-notes
    "assets",  # GET /repos/{o}/{r}/releases/{id}/assets (POST here: 404, wrong host)
    "asset",  # GET/PATCH/DELETE /repos/{o}/{r}/releases/assets/{id}
    "upload",  # POST {upload_prefix}/repos/{o}/{r}/releases/{id}/assets
    "contents",  # GET /repos/{o}/{r}/contents/{path}
    "download",  # GET {server}/{o}/{r}/releases/download/{tag}/{name} (browser_download_url)
    "object",  # GET signed object URL that downloads redirect to
    "unknown",  # anything else (404)
)

ALIASES: dict[str, tuple[str, str]] = {
    "create_release": ("POST", "releases"),
    "list_releases": ("GET", "releases"),
    "get_release": ("GET", "release"),
    "update_release": ("PATCH", "release"),
    "delete_release": ("DELETE", "release"),
    "list_assets": ("GET", "assets"),
    "get_asset": ("GET", "asset"),
    "update_asset": ("PATCH", "asset"),
    "delete_asset": ("DELETE", "asset"),
}

RouteSpec = str | tuple[str, str] | None


def _normalize(spec: RouteSpec) -> tuple[str, str]:
    if spec is None or spec == "*":
        return ("*", "*")
    if isinstance(spec, tuple):
        method, route = spec
    elif spec in ALIASES:
        method, route = ALIASES[spec]
    else:
        method, route = "*", spec
    method = method.upper()
    if route != "*" and route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; known: {', '.join(ROUTES)} or aliases {list(ALIASES)}")
    return (method, route)


@dataclass
class Fault:
    kind: FaultKind
    method: str
    route: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def matches(self, method: str, route: str) -> bool:
        return self.method in ("*", method) and self.route in ("*", route)


class Faults:
    """Fault knobs of one :class:`~tests.fakes.fake_github.FakeGitHub`.

    Plain attributes (read on every request, set them directly):

    * ``latency_ms``: added to every request before it is handled (default 0);
    * ``notes_length``: if set, ``generate-notes`` returns a body of exactly this many characters.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.latency_ms: float = 0
        self.notes_length: int | None = None

    # ---- arming ---------------------------------------------------------------------------------

    def _arm(self, kind: FaultKind, route: RouteSpec, times: int, **params: Any) -> Fault:
        if times < 1:
            raise ValueError("times must be >= 1")
        method, name = _normalize(route)
        fault = Fault(kind=kind, method=method, route=name, remaining=times, params=params)
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail_next(
        self,
        route: RouteSpec,
        status: int = 500,
        times: int = 1,
        *,
        body: bytes | str | dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` without touching state.

        ``body`` defaults to GitHub-like JSON (``{"message": "Server Error"}``, ...); pass bytes/str
        (e.g. an HTML 502 page) together with ``content_type`` to test non-JSON error bodies.  The
        request body (if any) is read and discarded first.
        """
        return self._arm("fail", route, times, status=status, body=body, content_type=content_type)

    def upload_502_leaves_starter(self, times: int = 1) -> Fault:
        """Next ``times`` uploads: read the body, leave an empty asset in state ``starter`` (which
        blocks the name until deleted) and answer ``502``."""
        return self._arm("upload_502_starter", ("POST", "upload"), times)

    def drop_connection(
        self,
        route: RouteSpec = ("POST", "upload"),
        times: int = 1,
        *,
        after_bytes: int = 65536,
        after_processing: bool = False,
        leave_starter: bool = False,
        leave_open: bool = False,
    ) -> Fault:
        """Close the socket without any response.

        Default: read at most ``after_bytes`` of the request body, then close (nothing changes; for
        an upload the in-progress ``starter`` asset is removed unless ``leave_starter``).  With
        ``after_processing=True`` the request is fully handled (state changes happen) and only the
        response is lost. ``leave_open``: the upload's asset stays in state ``open`` holding the bytes
        received (an interrupted upload, as the description's ``open`` state).
        """
        return self._arm(
            "drop_connection",
            route,
            times,
            after_bytes=after_bytes,
            after_processing=after_processing,
            leave_starter=leave_starter,
            leave_open=leave_open,
        )

    def secondary_rate_limit(
        self,
        route: RouteSpec = None,
        times: int = 1,
        *,
        status: int = 403,
        retry_after: float | None = 1,
    ) -> Fault:
        """403 (or 429) "You have exceeded a secondary rate limit" with ``Retry-After`` (omitted if
        ``None``; fractional values are sent as-is, e.g. ``0.2``).  Nothing is processed."""
        if status not in (403, 429):
            raise ValueError("secondary rate limits are 403 or 429")
        return self._arm("secondary_rate_limit", route, times, status=status, retry_after=retry_after)

    def primary_rate_limit(self, route: RouteSpec = None, *, reset_in: float = 2.0) -> Fault:
        """On the next matching request, exhaust the caller's primary quota until ``reset_in``
        seconds from now: every request of that caller (any route but ``/rate_limit``) then gets
        403 ``API rate limit exceeded`` with ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset``
        (epoch seconds, rounded up) until the reset time, after which the quota is full again."""
        return self._arm("primary_rate_limit", route, 1, reset_in=reset_in)

    def eventual_consistency(self, *, reads: int = 2, seconds: float = 0.0, times: int = 1,
                             by_id: bool = False) -> Fault:
        """For the next ``times`` release creates: the new release is missing from get-by-tag (404)
        and from release lists for the next ``reads`` such reads and/or ``seconds`` seconds (both
        must be exhausted).  With ``by_id``, get-by-id and its asset list answer 404 too (GitHub's
        read-after-create lag, cli/cli#6599); else they are consistent.  The create's own response
        and writes (uploads, updates) are always consistent."""
        return self._arm("eventual_consistency", ("POST", "releases"), times, reads=reads, seconds=seconds,
                         by_id=by_id)

    def race_create(self, times: int = 1, *, draft: bool = False, author: str = "other-job[bot]") -> Fault:
        """When the next ``times`` creates arrive, first insert a competing release for the same tag
        (published by default, so the caller gets 422 ``already_exists`` and must adopt it; with
        ``draft=True`` both creates succeed and two drafts share the tag)."""
        return self._arm("race_create", ("POST", "releases"), times, draft=draft, author=author)

    def timeout_next(
        self,
        route: RouteSpec,
        seconds: float = 30.0,
        times: int = 1,
        *,
        after_processing: bool = False,
    ) -> Fault:
        """Sleep ``seconds`` (longer than the client's timeout) before handling the request, or with
        ``after_processing=True`` after handling it (the change happened, the client never hears).
        Sleeps are cut short when the fake stops."""
        return self._arm("timeout", route, times, seconds=seconds, after_processing=after_processing)

    # ---- bookkeeping ----------------------------------------------------------------------------

    def take(self, kind: FaultKind, method: str, route: str) -> Fault | None:
        """Consume one firing of the first armed fault of ``kind`` matching the request."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.matches(method, route):
                    fault.remaining -= 1
                    fault.fired += 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def pending(self) -> list[Fault]:
        """Faults that have not fired ``times`` times yet (assert ``not fake.faults.pending()``)."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        """Disarm everything and reset ``latency_ms`` and ``notes_length``."""
        with self._lock:
            self._faults.clear()
        self.latency_ms = 0
        self.notes_length = None
