"""Secrets never leave this process in clear text: every line the reporter prints passes through
:func:`redact` (tokens registered by the GitHub client, a PostgreSQL password, token-looking strings,
Authorization values, and the credentials of any ``scheme://user:password@host`` URL)."""

from __future__ import annotations

import re
import shlex
import threading

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_TOKEN_PATTERNS = re.compile(
    r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|v1\.[0-9a-f]{40})")
_AUTH_HEADER = re.compile(r"(authorization['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+|token\s+)?[^\s'\",}]+", re.IGNORECASE)
_AUTH_SCHEME = re.compile(r"\b((?:bearer|token)\s+)[A-Za-z0-9_.\-]{20,}", re.IGNORECASE)
# Everything between "scheme://" and the *last* "@" of the same word: a password may itself hold "@", ":" or "/"
# (unescaped, as users paste them), and masking too much is harmless where too little leaks. One "/" is enough:
# a URL given where a path goes comes back normalised by pathlib ("http:/user:password@host/…").
_URL_CREDENTIALS = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*:/+)\S*@")


def register_secret(value: str | None) -> None:
    """Remember a secret so :func:`redact` hides it. (No ``::add-mask::``: that would print it, and the
    runner already masks the tokens it hands out.)"""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact_url(url: str) -> str:
    """A URL given alone (an input, not free text): everything between ``://`` and its last ``@`` goes, spaces
    included, as a pasted password may hold any character: ``postgres://u:p@ss@host/db`` →
    ``postgres://***@host/db``. In free text, :func:`redact` stops at whitespace instead."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}" if sep and "@" in rest else url


def redact(text: str) -> str:
    """``text`` with every registered secret, URL credential, token-looking string and Authorization value
    replaced."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _TOKEN_PATTERNS.sub("***", text)
    text = _AUTH_HEADER.sub(r"\1***", text)
    return _AUTH_SCHEME.sub(r"\1***", text)


# Options whose values are settings for the plugin (``K=V`` lines): a password for its backend, say.
SETTINGS_OPTIONS = ("--plugin-env",)


def _keys_only(lines: str) -> str:
    return "\\n".join(f"{line.partition('=')[0]}=***" if "=" in line else line for line in lines.splitlines())


def redact_argv(argv: list[str]) -> str:
    """A command line to show (``$ gatewayd-plugin-actions …``): quoted like a shell's, on one line, with the
    values of the settings options reduced to their keys (``--plugin-env=REDIS_PASSWORD=***``)."""
    shown: list[str] = []
    value_next = False
    for word in argv:
        flag, eq, value = word.partition("=")
        if value_next:
            shown.append(_keys_only(word))
        elif flag in SETTINGS_OPTIONS and eq:
            shown.append(f"{flag}={_keys_only(value)}")
        else:
            shown.append(word)
        value_next = word in SETTINGS_OPTIONS
    return shlex.join(shown)
