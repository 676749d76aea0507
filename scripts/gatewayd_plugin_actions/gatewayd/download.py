"""A published GatewayD for ``test-plugin``: downloaded from gatewayd-io/gatewayd's releases, verified, cached.

The archive for this machine (``gatewayd-<os>-<arch>-<tag>.tar.gz``) is chosen, and checked against the
same release's ``checksums.txt``, with the installer-contract functions in ``contract`` (one reading of
that contract for plugins and GatewayD alike). Unlike ``gatewayd plugin install``, a missing line or a
wrong hash is a hard error. Only the ``gatewayd`` member is extracted. The binary is cached per tag: in
the runner's tool cache on GitHub Actions (``$RUNNER_TOOL_CACHE/gatewayd/<X.Y.Z>/<arch>``, the layout of
``@actions/tool-cache``), else in ``~/.cache/gatewayd-plugin-actions/gatewayd/<tag>/``; a cached binary is
re-hashed against its recorded sha256 before use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gatewayd_plugin_actions import actions_io, contract, semver
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.github.client import DEFAULT_API_URL, GitHubClient, Limits
from gatewayd_plugin_actions.github.errors import GitHubError
from gatewayd_plugin_actions.github.network import Network
from gatewayd_plugin_actions.targets import Target, host_target

OWNER, REPO = "gatewayd-io", "gatewayd"
# The input first, then the runner's environment.
GATEWAYD_API_VARIABLES = ("GPA_GATEWAYD_API_URL", "GATEWAYD_RELEASES_API_URL")
CACHE_RECORD = "gatewayd-release.json"
_NODE_ARCH = {"amd64": "x64", "arm64": "arm64", "386": "x32", "arm": "arm"}


@dataclass(frozen=True)
class GatewayDBinary:
    path: Path
    tag: str  # the release tag, e.g. v0.11.1 ("" for a binary given by path)
    source: str  # "download", "cache" or "path"
    archive: str = ""  # asset name it came from


def binary_name(target: Target) -> str:
    return "gatewayd.exe" if target.goos == "windows" else "gatewayd"


def archive_name(target: Target, tag: str) -> str:
    return f"gatewayd-{target.goos}-{target.goarch}-{tag}{target.extension}"


def cache_dir(tag: str, target: Target, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    tool_cache = env.get("RUNNER_TOOL_CACHE", "").strip()
    if tool_cache:
        return Path(tool_cache) / "gatewayd" / tag.removeprefix("v") / _NODE_ARCH.get(target.goarch, target.goarch)
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gatewayd-plugin-actions" / "gatewayd" / tag / target.slug


def _cached(directory: Path, target: Target) -> GatewayDBinary | None:
    """The cached binary if its record is there and its bytes still hash to what was recorded."""
    record_path = directory / CACHE_RECORD
    binary = directory / binary_name(target)
    try:
        record: dict[str, Any] = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not binary.is_file() or contract.sha256_file(binary) != record.get("binary_sha256"):
        return None
    return GatewayDBinary(binary, str(record.get("tag")), "cache", str(record.get("archive", "")))


def _release(client: GitHubClient, version: str) -> dict[str, Any]:
    if version == "latest":
        release = client.get_latest_release(OWNER, REPO)
        if release is None:
            raise UserError(f"{OWNER}/{REPO} has no latest release")
    else:
        release = client.get_release_by_tag(OWNER, REPO, version)
        if release is None:
            raise UserError(f"GatewayD release {version} not found in {OWNER}/{REPO} (tags look like v0.11.1)")
    return release


def _assets(client: GitHubClient, release: dict[str, Any]) -> list[dict[str, Any]]:
    assets = release.get("assets")
    if not isinstance(assets, list):
        assets = client.list_assets(OWNER, REPO, int(release["id"]))
    return [a for a in assets if isinstance(a, dict) and isinstance(a.get("name"), str)]


def _extract_binary(archive: Path, member: str, dest: Path) -> None:
    """Copy one member out of the archive (never ``extractall``: names in the archive are not trusted)."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped, zipped.open(member) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    else:
        with tarfile.open(archive, "r:gz") as tarred:
            source = tarred.extractfile(member)
            if source is None:
                raise UserError(f"{archive.name}: {member} is not a regular file")
            with source, dest.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
    dest.chmod(0o755)


def verify_archive(archive: Path, checksums_text: str, target: Target) -> tuple[str, str]:
    """Check a downloaded GatewayD archive against ``checksums.txt``; returns (the binary's member name,
    the archive's sha256).

    The hash is looked up exactly as ``gatewayd plugin install`` does (the first line containing the
    asset name), but a missing line is an error, not a silent skip.
    """
    name = archive.name
    expected = contract.installer_checksum_for(checksums_text, name)
    if expected is None:
        raise UserError(f"GatewayD download not verified: checksums.txt has no line for {name}",
                        [Problem(f"checksums.txt has no line for {name}; refusing an unverifiable GatewayD")])
    actual = contract.sha256_file(archive)
    if actual != expected.lower():
        message = (f"GatewayD download checksum mismatch: {name} has sha256 {actual}, "
                   f"checksums.txt says {expected}")
        raise UserError(message, [Problem(message)])
    contents = contract.read_archive(archive)
    wanted = binary_name(target)
    member = next((m for m in contents.members if m.name.lstrip("./") == wanted and m.kind == "file"), None)
    if member is None:
        raise UserError(f"{name} has no {wanted} at its root (members: "
                        f"{', '.join(m.name for m in contents.members[:8])})")
    return member.name, actual


def lookup_client(env: Mapping[str, str] | None = None) -> GitHubClient:
    """The client for gatewayd-io/gatewayd's releases, which live on github.com whatever server runs the job.

    * API base: ``GPA_GATEWAYD_API_URL`` (the ``gatewayd-api-url`` input), else ``GATEWAYD_RELEASES_API_URL``
      (set once in a self-hosted runner's environment, for a mirror every workflow uses), else
      https://api.github.com; never ``GITHUB_API_URL``, which on GitHub Enterprise Server names the GHES
      host, where gatewayd-io/gatewayd does not exist.
    * Token: ``GPA_GATEWAYD_TOKEN`` (the actions' ``gatewayd-token`` input) goes to that base as given. Else the
      workflow's token (``GPA_WORKFLOW_TOKEN``, how the release action passes it without putting it in the
      build's environment, or ``GITHUB_TOKEN``) only when the workflow's own API is that same base: a GHES
      token is never sent to github.com (setup-go's rule). Without a token github.com allows 60 requests an hour
      per IP address, enough for a few jobs.
    """
    env = os.environ if env is None else env
    variable, api_url = next(((k, env[k].strip().rstrip("/")) for k in GATEWAYD_API_VARIABLES
                              if env.get(k, "").strip()), ("", DEFAULT_API_URL))
    if not re.match(r"^https?://[^/\s]+", api_url):
        raise UserError(f"{variable}={api_url!r} is not an http(s) URL (the API base of GatewayD's releases, "
                        "e.g. https://api.github.com)")
    workflow_api = (env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/")
    explicit = env.get("GPA_GATEWAYD_TOKEN", "").strip()
    workflow_token = next((env[k].strip() for k in ("GPA_WORKFLOW_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")
                           if env.get(k, "").strip()), "")
    same_server = _origin(workflow_api) == _origin(api_url)
    token = explicit or (workflow_token if same_server else "")
    if workflow_token and not token:
        actions_io.progress(f"  the workflow's token is for {_origin(workflow_api)}, not {_origin(api_url)}: "
                            "looking up GatewayD without a token (set gatewayd-token for a higher rate limit)")
    return GitHubClient(api_url, token or None, limits=Limits.from_env(env), network=Network.from_env(env))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}{f':{parts.port}' if parts.port else ''}"


def cached_tags(target: Target, env: Mapping[str, str] | None = None) -> list[str]:
    """The GatewayD tags whose verified binary for ``target`` is in the cache, newest first."""
    # <tool cache>/gatewayd/<X.Y.Z>/<arch>, or <cache>/gatewayd/<tag>/<slug>: the versions are two levels up
    root = cache_dir("v0.0.0", target, env).parent.parent
    found = []
    if root.is_dir():
        for entry in root.iterdir():
            tag = entry.name if entry.name.startswith("v") else f"v{entry.name}"
            if contract.is_valid_tag(tag) and _cached(cache_dir(tag, target, env), target) is not None:
                found.append(tag)
    return sorted(found, key=semver.Version.parse, reverse=True)


def _unreachable(error: GitHubError, version: str, client: GitHubClient, target: Target,
                 env: Mapping[str, str] | None) -> UserError:
    """The one line for an offline runner (or a blocked network): what failed and the two ways out."""
    cached = cached_tags(target, env)
    offer = (f"gatewayd-version: {cached[0]} (cached here{', as are ' + ', '.join(cached[1:4]) if cached[1:] else ''})"
             if cached else "a gatewayd-version that is in the runner's tool cache")
    wanted = "the latest GatewayD" if version == "latest" else f"GatewayD {version}"
    text = (f"cannot reach {client.api_url} to download {wanted} ({error.github_message}): set "
            f"gatewayd-binary: <path to a gatewayd> (--gatewayd-binary), or {offer}"
            f"{'. ' + error.hint if error.hint else ''}")
    return UserError(text, [Problem(text, title="GatewayD download")])


def fetch(version: str = "latest", *, client: GitHubClient | None = None, target: Target | None = None,
          env: Mapping[str, str] | None = None) -> GatewayDBinary:
    """The GatewayD binary of release ``version`` (a tag or ``latest``) for this machine, cached."""
    target = target or host_target()
    if version != "latest":
        if not contract.is_valid_tag(version):
            raise UserError(f"--gatewayd-version {version!r}: expected a release tag such as v0.11.1, or latest")
        hit = _cached(cache_dir(version, target, env), target)
        if hit is not None:
            return hit
    client = client or lookup_client(env)
    try:
        return _download(client, version, target, env)
    except GitHubError as error:
        if error.status == 0:
            raise _unreachable(error, version, client, target, env) from None
        raise


def _download(client: GitHubClient, version: str, target: Target, env: Mapping[str, str] | None) -> GatewayDBinary:
    release = _release(client, version)
    tag = str(release.get("tag_name") or version)
    directory = cache_dir(tag, target, env)
    if version == "latest":
        hit = _cached(directory, target)
        if hit is not None:
            return hit
    assets = _assets(client, release)
    names = [str(a["name"]) for a in assets]
    wanted = archive_name(target, tag)
    picked = wanted if wanted in names else contract.installer_pick_archive(names, target)
    checksums = contract.installer_pick_checksums(names)
    if picked is None:
        raise UserError(f"GatewayD {tag} has no release asset for {target} (looked for {wanted})")
    if checksums is None:
        raise UserError(f"GatewayD {tag} has no checksums.txt asset; refusing an unverifiable download")
    by_name = {str(a["name"]): a for a in assets}
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=directory.parent) as tmp:
        work = Path(tmp)
        actions_io.progress(f"  downloading {picked} from {OWNER}/{REPO} {tag}")
        client.download_asset(OWNER, REPO, by_name[checksums], work / checksums)
        archive = client.download_asset(OWNER, REPO, by_name[picked], work / picked)
        checksums_text = (work / checksums).read_text(encoding="utf-8", errors="replace")
        member, archive_sha256 = verify_archive(archive, checksums_text, target)
        staged = work / "staged"
        staged.mkdir()
        binary = staged / binary_name(target)
        _extract_binary(archive, member, binary)
        record = {"tag": tag, "archive": picked, "archive_sha256": archive_sha256,
                  "binary_sha256": contract.sha256_file(binary), "target": str(target)}
        (staged / CACHE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(directory, ignore_errors=True)  # a stale or corrupt entry
        try:
            staged.rename(directory)
        except OSError:  # another run filled the cache meanwhile
            hit = _cached(directory, target)
            if hit is None:
                raise
            return hit
        if (os.environ if env is None else env).get("RUNNER_TOOL_CACHE"):
            directory.with_name(directory.name + ".complete").touch()
    actions_io.progress(f"  verified {picked} against checksums.txt; cached in {directory}")
    return GatewayDBinary(directory / binary_name(target), tag, "download", picked)


def from_path(path: Path) -> GatewayDBinary:
    if not path.is_file():
        raise UserError(f"--gatewayd-binary {path}: no such file")
    if not os.access(path, os.X_OK):
        raise UserError(f"--gatewayd-binary {path}: not executable")
    return GatewayDBinary(path.resolve(), "", "path")
