"""What GitHub's answers mean to a person: one-line errors with a hint, secrets never shown, and the few
fields of GitHub's JSON that are read outside the client (``OWNER/NAME``, an asset's ``digest``)."""

from __future__ import annotations

import re
from typing import Any

import requests

from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.redaction import redact, register_secret

JSON = dict[str, Any]

__all__ = ["JSON", "redact", "register_secret"]  # re-exported: the client registers its token here

# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class GitHubError(UserError):
    """A GitHub API call failed. ``status`` is 0 when no HTTP answer arrived (network error)."""

    def __init__(self, method: str, url: str, status: int, github_message: str = "",
                 errors: list[JSON] | None = None, hint: str = "") -> None:
        self.method = method
        self.url = redact(url)
        self.status = status
        self.github_message = redact(github_message)
        self.errors = errors or []
        what = f"HTTP {status}" if status else "no response"
        detail = f": {self.github_message}" if self.github_message else ""
        codes = "; ".join(redact(describe_error(e)) for e in self.errors)
        text = f"GitHub API {method} {self.url} failed ({what}){detail}{f' [{codes}]' if codes else ''}"
        if hint:
            text += f"{'' if text.endswith('.') else '.'} {hint}"
        super().__init__(text, [Problem(text, title="GitHub API")])

    def has_code(self, code: str, field_name: str | None = None) -> bool:
        return any(e.get("code") == code and (field_name is None or e.get("field") == field_name)
                   for e in self.errors)

    def mentions(self, needle: str) -> bool:
        texts = [self.github_message, *(str(e.get("message", "")) for e in self.errors)]
        return any(needle.lower() in t.lower() for t in texts)


def describe_error(error: JSON) -> str:
    parts = [str(error.get(k)) for k in ("resource", "field", "code") if error.get(k)]
    if error.get("message"):
        parts.append(str(error["message"]))
    return " ".join(parts)


def hint_for(status: int, message: str) -> str:
    lowered = message.lower()
    if status == 401:
        return "The token is missing, expired or invalid (Bad credentials): pass a valid github-token"
    if status == 403 and ("not accessible" in lowered or "permission" in lowered or "must have" in lowered):
        return ("The token may not write releases: give the job `permissions: contents: write` "
                "(or use a token with contents: write on this repository)")
    if status == 404:
        return "Not found: check GITHUB_REPOSITORY and that the token can see the repository"
    return ""




def json_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return re.sub(r"\s+", " ", response.text[:200]).strip() if response.text else ""
    return str(data.get("message", "")) if isinstance(data, dict) else ""




def json_errors(response: requests.Response) -> list[JSON]:
    try:
        data = response.json()
    except ValueError:
        return []
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e if isinstance(e, dict) else {"message": str(e)} for e in errors] if isinstance(errors, list) else []


def split_repository(repository: str | None) -> tuple[str, str]:
    """``OWNER/NAME`` → (owner, name), with a clear error for anything else."""
    if not repository or not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise UserError(f"GITHUB_REPOSITORY={repository!r} is not OWNER/NAME; set it (Actions does) or pass "
                        "--repository")
    owner, name = repository.split("/")
    return owner, name


def asset_sha256(asset: JSON) -> str | None:
    """The sha256 GitHub computed for a stored asset (its ``digest``, ``sha256:<hex>``), if it gives one."""
    digest = asset.get("digest")
    if isinstance(digest, str) and digest.startswith("sha256:"):
        return digest.removeprefix("sha256:").lower()
    return None
