"""The independent fake's own fault mix: seeded, reproducible per request identity, and capped so that a
well-behaved client (retries with backoff, obeying ``Retry-After`` / ``x-ratelimit-reset``) always finishes.

Fault kinds (the shapes follow docs.github.com "Rate limits for the REST API", "Troubleshooting the REST API"
and "Upload a release asset"; the rates, the lag and the caps are ours):

``server_error``        500 / 502 (an HTML page, as GitHub's front end sends) / 503 / 504, nothing changed.
``secondary_403``       403, ``Retry-After: 1``, "You have exceeded a secondary rate limit ...".
``secondary_429``       429, ``Retry-After: 1``, the same message.
``secondary_bare``      403 secondary-limit message *without* ``Retry-After`` (documented: "wait at least one
                        minute"; the client's wait is shortened by GPA_GITHUB_SECONDARY_WAIT in the tests).
``primary``             403 "API rate limit exceeded", ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``
                        ≤ 1 s away; *every* API request gets it until the reset (as the real limit does).
``upload_starter_502``  upload only: the body is read, an empty ``starter`` asset is left behind, 502.
``upload_drop``         upload only: half the body is read, then the connection is closed without an answer;
                        the ``starter`` asset stays (it is created when the upload starts).
``upload_drop_open``    upload only: like ``upload_drop``, but the asset is left in the state ``open`` the
                        description lists, holding the half received (which state an interrupted upload leaves
                        is a GUESS; the state itself is documented). Not part of ``mixed``.
``lost_response``       any write (POST/PATCH/DELETE, uploads): the change is *committed*, then the connection
                        is closed without an answer (a timeout or a reset after the server did the work).
``release_lag``         eventual consistency: a newly created release is not visible to reads (list, get by id,
                        its asset list) for ``lag_seconds``.
``publish_lag``         eventual consistency: a publication (draft → published) is not visible to reads (get-by-tag,
                        latest, the ``draft`` flag in list / get) for ``lag_seconds``.
``asset_lag``           eventual consistency: a newly uploaded asset is missing from reads for ``lag_seconds``.
``latency``             extra delay before answering.

Reproducibility: the decision for a request is drawn from ``Random(f"{seed}:{key}:{n}")`` where ``key``
identifies the request (``"<role> <METHOD> <path> <name query> <page> <token kind>"``, ids in the path replaced
by ``<tag>`` / ``<asset name>``) and ``n`` counts earlier requests with that key; parallel uploads therefore do
not change which request gets which fault (what the client does next may still depend on timing). ``matching``
restricts faults to keys matching a regex.
Caps: at most ``max_consecutive`` faults for one key between two successful (2xx/3xx) answers to it, at most
``max_faults`` in all, at most ``max_primary`` primary-limit windows.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field, fields

PRE_KINDS = ("server_error", "secondary_403", "secondary_429", "secondary_bare", "primary")
UPLOAD_KINDS = ("upload_starter_502", "upload_drop", "upload_drop_open")
ALL_KINDS = (*PRE_KINDS, *UPLOAD_KINDS, "lost_response", "release_lag", "asset_lag", "publish_lag", "latency")


@dataclass
class FaultMix:
    """Per-request fault probabilities (each request gets at most one fault, plus optional lag/latency)."""

    seed: int = 0
    server_error: float = 0.0
    secondary_403: float = 0.0
    secondary_429: float = 0.0
    secondary_bare: float = 0.0
    primary: float = 0.0
    upload_starter_502: float = 0.0
    upload_drop: float = 0.0
    upload_drop_open: float = 0.0
    lost_response: float = 0.0
    release_lag: float = 0.0
    asset_lag: float = 0.0
    publish_lag: float = 0.0
    lag_seconds: float = 0.4
    latency: float = 0.0
    latency_seconds: float = 0.03
    retry_after: int = 1
    primary_window: int = 1  # seconds until x-ratelimit-reset once a primary limit fires
    matching: str = ""  # a regex: faults only for requests whose key matches, e.g. r"^api PATCH .*/releases/<"
    max_consecutive: int = 2
    max_faults: int | None = None
    max_primary: int = 2

    @classmethod
    def none(cls) -> FaultMix:
        return cls()

    @classmethod
    def mixed(cls, seed: int, rate: float = 0.25, *, release_lag: float = 0.5) -> FaultMix:
        """Every kind at once; ``rate`` is the total chance that a request gets a blocking fault; half of the new
        objects lag."""
        share = rate / 8
        return cls(seed=seed, server_error=share * 2, secondary_403=share, secondary_429=share * 0.5,
                   secondary_bare=share * 0.5, primary=share * 0.25, upload_starter_502=share * 1.5,
                   upload_drop=share * 1.25, lost_response=share, release_lag=release_lag, asset_lag=0.5,
                   publish_lag=0.5, latency=0.2)

    @classmethod
    def only(cls, kind: str, seed: int = 1, rate: float = 0.3) -> FaultMix:
        """One kind alone, at ``rate`` (the lags and latency: every time)."""
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        mix = cls(seed=seed)
        setattr(mix, kind, 1.0 if kind in ("release_lag", "asset_lag", "publish_lag", "latency") else rate)
        return mix

    def describe(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                 if f.name in ALL_KINDS and getattr(self, f.name)]
        return f"seed={self.seed} " + (" ".join(parts) or "no faults")


@dataclass
class FaultPlanner:
    """Draws faults for requests according to a :class:`FaultMix`, honouring the caps (thread-safe)."""

    mix: FaultMix
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: dict[str, int] = field(default_factory=dict)
    _consecutive: dict[str, int] = field(default_factory=dict)
    fired: int = 0
    primary_windows: int = 0

    def _rng(self, key: str) -> random.Random:
        n = self._seen.get(key, 0)
        self._seen[key] = n + 1
        return random.Random(f"{self.mix.seed}:{key}:{n}")

    def draw(self, key: str, kinds: tuple[str, ...]) -> tuple[str | None, bool, float]:
        """→ (blocking fault kind or None, extra latency?, a number in [0, 1) for sub-choices such as the 5xx
        status) for one request with identity ``key``."""
        with self._lock:
            rng = self._rng(key)
            latency = rng.random() < self.mix.latency
            roll, pick = rng.random(), rng.random()
            if self._consecutive.get(key, 0) >= self.mix.max_consecutive:
                return None, latency, pick
            if self.mix.matching and not re.search(self.mix.matching, key):
                return None, latency, pick
            if self.mix.max_faults is not None and self.fired >= self.mix.max_faults:
                return None, latency, pick
            threshold = 0.0
            for kind in kinds:
                threshold += float(getattr(self.mix, kind))
                if roll < threshold:
                    if kind == "primary":
                        if self.primary_windows >= self.mix.max_primary:
                            return None, latency, pick
                        self.primary_windows += 1
                    return kind, latency, pick
            return None, latency, pick

    def record(self, key: str, fault: str | None, status: int | None) -> None:
        """Count a fault that fired. Only a successful answer (2xx/3xx) resets the key's count: a 422 that follows
        a fault (the name still held by the ``starter`` asset it left) is not progress."""
        with self._lock:
            if fault is not None:
                self.fired += 1
                self._consecutive[key] = self._consecutive.get(key, 0) + 1
            elif status is not None and 200 <= status < 400:
                self._consecutive[key] = 0

    def lag_for(self, kind: str, key: str) -> float:
        """Seconds a new object or state (``kind``: one of the ``*_lag`` fields) stays invisible to reads."""
        with self._lock:
            rng = self._rng(f"{kind}:{key}")
            return self.mix.lag_seconds if rng.random() < float(getattr(self.mix, kind)) else 0.0
