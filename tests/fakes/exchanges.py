"""What a fake GitHub saw and answered, handed to whoever listens (the OpenAPI check in ``tests/fixtures/openapi.py``).

Both fakes call :func:`record` once per request to their API or upload host, after answering it. Nothing is
kept when nobody listens, so the fakes cost nothing extra outside the test suite's check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exchange:
    """One request to a fake's API (``host="api"``) or upload host (``host="uploads"``) and its answer."""

    fake: str  # which fake answered: "fake_github" | "indie_github"
    host: str  # "api" | "uploads"
    method: str
    path: str  # below the API root (GHES: without /api/v3) or the upload root, without the query
    query: tuple[tuple[str, str], ...]
    request_headers: dict[str, str]  # lower-case names; Authorization redacted
    request_body: bytes | None  # a JSON body as sent; None for uploads (raw bytes, not kept)
    status: int  # 0: the connection was dropped without an answer
    response_content_type: str = ""
    response_body: bytes = b""
    older_server: bool = False  # the fake plays a server from before asset digests (older GHES)
    faults: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.fake} {self.method} {self.path}{'?' + query if query else ''} -> {self.status}"


_listeners: list[Callable[[Exchange], None]] = []
_lock = threading.Lock()


def listening() -> bool:
    return bool(_listeners)


def record(exchange: Exchange) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(exchange)


@contextmanager
def listen(listener: Callable[[Exchange], None]) -> Iterator[None]:
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Lower-case names; the Authorization value reduced to its scheme (no token ever leaves a fake)."""
    out = {}
    for name, value in headers.items():
        lowered = name.lower()
        out[lowered] = value.split(" ", 1)[0] + " <redacted>" if lowered == "authorization" else value
    return out
