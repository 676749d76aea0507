"""How HTTP leaves this machine: the standard proxy and CA variables, read once, as curl and Node read them.

``requests`` would read them itself (``trust_env``), but it would also read ``~/.netrc`` and put its
credentials on requests that carry our token, and it mutates ``os.environ`` per request to evaluate
``NO_PROXY`` (a race in the parallel uploads). So the session keeps ``trust_env = False`` and gets its
proxies and CA bundle from here:

* ``HTTPS_PROXY``/``https_proxy``, ``HTTP_PROXY``/``http_proxy`` (lower case wins, as in curl), ``ALL_PROXY``;
* ``NO_PROXY``/``no_proxy``: comma-separated hosts (``example.com`` also covers its subdomains, a leading
  dot is ignored), ``host:port``, IP addresses, CIDR ranges, or ``*``;
* the CA bundle: ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE`` (a PEM file) or ``SSL_CERT_DIR``
  (a hashed directory), which *replace* the public roots; or ``NODE_EXTRA_CA_CERTS`` (what self-hosted runners
  set for the Node actions), which is *added* to them.

Through a proxy, HTTPS goes in a CONNECT tunnel: the proxy sees the host name, never the token. Here too: the
session that applies these rules to redirects, and the retry policy that gives up quickly on a refusing proxy
or an unknown host name (nothing a backoff fixes).
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.utils
import urllib3.exceptions
from urllib3.util.retry import Retry

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.redaction import redact_url

CA_FILE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def _first(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


@dataclass(frozen=True)
class Network:
    """The proxies, the ``NO_PROXY`` rules and the TLS trust that every request of the client uses."""

    https_proxy: str | None = None
    http_proxy: str | None = None
    no_proxy: tuple[str, ...] = ()
    verify: str | bool = True  # a CA file or directory, or True for certifi's public roots
    verify_source: str = ""  # the variable it came from, for messages
    proxy_source: dict[str, str] = field(default_factory=dict)  # scheme -> variable name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Network:
        env = os.environ if env is None else env
        every = _first(env, "all_proxy", "ALL_PROXY")
        https = _first(env, "https_proxy", "HTTPS_PROXY") or every
        # HTTP_PROXY is ignored in CGI-like contexts by curl and requests because a request header can set it;
        # here it is only the runner's environment.
        http = _first(env, "http_proxy", "HTTP_PROXY") or every
        for found in (https, http):
            if found is not None:
                _check_proxy_url(*found)
        no_proxy = _first(env, "no_proxy", "NO_PROXY")
        entries = tuple(e.strip().lower() for e in no_proxy[1].split(",") if e.strip()) if no_proxy else ()
        verify, source = _trust(env)
        return cls(https_proxy=https[1] if https else None, http_proxy=http[1] if http else None, no_proxy=entries,
                   verify=verify, verify_source=source,
                   proxy_source={k: v[0] for k, v in (("https", https), ("http", http)) if v is not None})

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to ``url`` goes through, or None (direct)."""
        parts = urlsplit(url)
        proxy = self.https_proxy if parts.scheme == "https" else self.http_proxy
        if proxy is None or bypasses(parts.hostname or "", parts.port, self.no_proxy):
            return None
        return proxy

    def proxies_for(self, url: str) -> dict[str, str]:
        """``requests``' ``proxies=`` for ``url`` (empty: connect directly)."""
        proxy = self.proxy_for(url)
        return {urlsplit(url).scheme: proxy} if proxy else {}

    def describe_proxy(self, url: str) -> str:
        """``HTTPS_PROXY=http://proxy:3128`` (credentials masked), the proxy used for ``url``."""
        proxy = self.proxy_for(url)
        variable = self.proxy_source.get(urlsplit(url).scheme, "HTTPS_PROXY")
        return f"{variable}={redact_url(proxy)}" if proxy else ""


def _check_proxy_url(variable: str, value: str) -> None:
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
        raise UserError(f"{variable}={redact_url(value)!r} is not a proxy URL such as http://proxy.internal:3128")
    if parts.scheme.startswith("socks"):
        raise UserError(f"{variable}={redact_url(value)!r}: SOCKS proxies are not supported; use an HTTP proxy "
                        "(http://host:port)")


def bypasses(host: str, port: int | None, entries: tuple[str, ...]) -> bool:
    """Whether ``NO_PROXY`` (``entries``, lower case) sends a request to ``host``:``port`` around the proxy."""
    host = host.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in entries:
        if entry == "*":
            return True
        name, entry_port = entry, None
        if entry.count(":") == 1 and not entry.startswith("["):  # host:port (not an IPv6 address)
            name, _, raw_port = entry.partition(":")
            entry_port = int(raw_port) if raw_port.isdigit() else None
        if entry_port is not None and port is not None and entry_port != port:
            continue
        name = name.strip("[]").lstrip(".")
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _trust(env: Mapping[str, str]) -> tuple[str | bool, str]:
    found = _first(env, *CA_FILE_VARIABLES)
    if found is not None:
        variable, value = found
        if not Path(value).is_file():
            raise UserError(f"{variable}={value}: no such file; point it at a PEM file with the CA certificates "
                            "to trust (or unset it)")
        return value, variable
    directory = _first(env, "SSL_CERT_DIR")
    if directory is not None:
        if not Path(directory[1]).is_dir():
            raise UserError(f"SSL_CERT_DIR={directory[1]}: no such directory")
        return directory[1], "SSL_CERT_DIR"
    extra = _first(env, "NODE_EXTRA_CA_CERTS")
    if extra is not None:
        return _with_public_roots(Path(extra[1])), "NODE_EXTRA_CA_CERTS"
    return True, ""


def _with_public_roots(extra: Path) -> str:
    """A bundle of the public roots plus ``extra`` (NODE_EXTRA_CA_CERTS adds, it does not replace)."""
    try:
        extra_pem = extra.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"NODE_EXTRA_CA_CERTS={extra}: cannot read a PEM file ({type(exc).__name__})") from None
    if "-----BEGIN CERTIFICATE-----" not in extra_pem:
        raise UserError(f"NODE_EXTRA_CA_CERTS={extra}: no PEM certificate in it")
    # certifi's bundle, the one requests trusts by default
    public = Path(requests.utils.DEFAULT_CA_BUNDLE_PATH).read_text(encoding="ascii")
    handle, name = tempfile.mkstemp(prefix="gpa-ca-", suffix=".pem")
    with os.fdopen(handle, "w", encoding="ascii") as out:
        out.write(public.rstrip("\n") + "\n" + extra_pem)
    atexit.register(_remove, name)
    return name


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)


class NetworkSession(requests.Session):
    """A session whose redirects (asset downloads go to a storage host) pick their proxy by the same
    ``NO_PROXY`` rules as the first request; ``requests`` keeps the first request's proxy when
    ``trust_env`` is off."""

    def __init__(self, network: Network) -> None:
        super().__init__()
        self._network = network

    def rebuild_proxies(self, prepared_request: requests.PreparedRequest,
                        proxies: dict[str, str] | None) -> dict[str, str]:
        prepared_request.headers.pop("Proxy-Authorization", None)
        return self._network.proxies_for(prepared_request.url or "")


def _is_setup_error(error: Exception | None) -> bool:
    """A failure that waiting will not fix: the proxy refuses or cannot tunnel, or the host name does not
    resolve (an offline runner). Retried once, not five times with backoff (~30 s of silence)."""
    return isinstance(error, (urllib3.exceptions.ProxyError, urllib3.exceptions.NameResolutionError))


class QuickRetry(Retry):
    """urllib3 ``Retry`` that also accepts fractional ``Retry-After`` values (GitHub sends integers;
    proxies and test fakes may not), and gives up early on setup errors."""

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return min(max(float(retry_after), 0.0), float(self.retry_after_max))
        except ValueError:
            return super().parse_retry_after(retry_after)

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> QuickRetry:
        if _is_setup_error(error) and any(_is_setup_error(h.error) for h in self.history):
            raise urllib3.exceptions.MaxRetryError(_pool, url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)
