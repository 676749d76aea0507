"""What GitHub's answers mean to a person: one-line errors with a hint, secrets never shown, and the few
fields of GitHub's JSON that are read outside the client (``OWNER/NAME``, an asset's ``digest``)."""

from __future__ import annotations

import re
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.redaction import redact, register_secret

if TYPE_CHECKING:
    from gatewayd_plugin_actions.github.network import Network

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
        self.hint = redact(hint)
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


# POST …/releases (create) and PATCH …/releases/{id} (update): the calls GitHub refuses with a 404 when the release's
# target commit changes workflow files and the token may not (documented on both operations).
CREATE_RELEASE = re.compile(r"/repos/[^/]+/[^/]+/releases/?$")
UPDATE_RELEASE = re.compile(r"/repos/[^/]+/[^/]+/releases/\d+/?$")


def is_release_write(method: str, url: str) -> bool:
    path = urlsplit(url).path
    return bool((method == "POST" and CREATE_RELEASE.search(path)) or
                (method == "PATCH" and UPDATE_RELEASE.search(path)))


def hint_for(status: int, message: str, method: str = "", url: str = "") -> str:
    lowered = message.lower()
    if status == 404 and is_release_write(method, url):
        return ("Not found: GitHub also answers 404 when the release's target commit (the job's commit) adds or "
                "changes files under .github/workflows/ and the token may not change workflows (a job's GITHUB_TOKEN "
                "never may): release from a commit that does not change .github/workflows/, or publish with a "
                "token that has the `workflow` scope (a GitHub App or fine-grained token: Workflows: write). "
                "Otherwise check GITHUB_REPOSITORY and that the token can see and write to the repository "
                "(contents: write)")
    if status == 401:
        return "The token is missing, expired or invalid (Bad credentials): pass a valid github-token"
    if status == 403 and ("not accessible" in lowered or "permission" in lowered or "must have" in lowered):
        workflows = (" If it has that, the release's commit may change .github/workflows/, which needs a token "
                     "allowed to change workflows (`workflow` scope, or Workflows: write; never GITHUB_TOKEN)"
                     if is_release_write(method, url) else "")
        return ("The token may not write releases: give the job `permissions: contents: write` "
                f"(or use a token with contents: write on this repository).{workflows}")
    if status == 404:
        return "Not found: check GITHUB_REPOSITORY and that the token can see the repository"
    return ""




def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: ``requests`` puts urllib3's ``MaxRetryError`` in ``args[0]``, which holds the
    real failure in ``reason``; urllib3's own errors chain through ``__cause__`` and ``args``."""
    chain: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(chain) < 12:
        current = pending.pop(0)
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        reason = getattr(current, "reason", None)
        nested = [a for a in (reason, current.__cause__, *current.args) if isinstance(a, BaseException)]
        pending.extend(nested)
    return chain


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{f':{parts.port}' if parts.port else ''}" if parts.hostname else url


def network_reason(exc: requests.RequestException) -> str:
    """What went wrong on the wire, in one short line (not requests' nested reprs)."""
    chain = _causes(exc)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message or cause.reason})"
    if any(isinstance(c, (ssl.SSLError, requests.exceptions.SSLError)) for c in chain):
        detail = next((str(c) for c in reversed(chain) if isinstance(c, ssl.SSLError)), "")
        return f"TLS handshake failed{f' ({detail[:160]})' if detail else ''}"
    for cause in chain:
        if isinstance(cause, urllib3.exceptions.NameResolutionError):
            return f"cannot resolve the host name {cause.conn.host if cause.conn else ''}".rstrip()
    if isinstance(exc, requests.exceptions.ProxyError) or \
            any(isinstance(c, urllib3.exceptions.ProxyError) for c in chain):
        tunnel = next((str(c) for c in chain if "Tunnel connection failed" in str(c)), "")
        if tunnel:
            return f"the proxy refused the tunnel ({tunnel.split('Tunnel connection failed: ')[-1][:80]})"
        return "cannot connect to the proxy"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer in time (read timeout)"
    if any(isinstance(c, ConnectionRefusedError) for c in chain) or "Connection refused" in str(exc):
        return "connection refused"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def network_hint(exc: requests.RequestException, url: str, network: Network) -> str:
    """What to set when a request never got an answer: the CA variables for TLS, the proxy ones for a proxy."""
    host = _host(url)
    reason = network_reason(exc)
    if reason.startswith("TLS"):
        now = (f" ({network.verify_source}={network.verify} does not vouch for it)" if network.verify_source
               else " (only the public roots are trusted now)")
        return (f"{host} presents a certificate this machine does not trust{now}: for a private CA set "
                "REQUESTS_CA_BUNDLE or SSL_CERT_FILE to a PEM bundle that includes it (NODE_EXTRA_CA_CERTS adds "
                "one to the public roots)")
    proxy = network.describe_proxy(url)
    if proxy and ("proxy" in reason or isinstance(exc, requests.exceptions.ProxyError)):
        return (f"The request to {host} goes through {proxy}: check that the proxy runs and allows {host}, or "
                f"add {urlsplit(url).hostname} to NO_PROXY if it is reachable directly")
    if reason.startswith("cannot resolve"):
        return (f"{host} is unknown to this machine's DNS: an offline runner, or one that needs a proxy "
                "(set HTTPS_PROXY)")
    return f"{host} did not answer: check the URL and the runner's network (behind a proxy? set HTTPS_PROXY)"


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
