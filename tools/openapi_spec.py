#!/usr/bin/env python3
"""GitHub's official OpenAPI description of the REST API, from the pinned npm package, once, and print its path.

    python3 tools/openapi_spec.py            # prints /abs/path/to/api.github.com.json (fetches it first if needed)

The tests check every request our client sends to the fake GitHubs, and every answer the fakes give, against
it (``tests/fixtures/openapi.py``). GitHub publishes the description as the npm package ``@octokit/openapi``;
``npm pack`` fetches exactly the pinned version through npm's ordinary client (its proxy and registry settings
apply), the tarball's sha512 must equal the pinned integrity (what ``npm view @octokit/openapi@VERSION
dist.integrity`` prints), and only ``package/generated/api.github.com.json`` is kept, in
``$GPA_CACHE_DIR/openapi/octokit-openapi-<version>/`` (the cache ``tools/gobin.py`` uses), under a lock, renamed
into place, so concurrent callers fetch once and never see a partial file.

Re-pinning: set ``VERSION`` and ``INTEGRITY`` from ``npm view @octokit/openapi dist-tags.latest`` and
``npm view @octokit/openapi@<version> dist.integrity``, then run the tests in ``tests/github/test_openapi.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from gobin import cache_root, locked

PACKAGE = "@octokit/openapi"
VERSION = "23.0.2"
INTEGRITY = "sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg=="
MEMBER = "package/generated/api.github.com.json"


class SpecError(Exception):
    """A failure reported as one line, without a traceback."""


def spec_file() -> Path:
    return cache_root() / "openapi" / f"octokit-openapi-{VERSION}" / Path(MEMBER).name


def integrity_of(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def npm_pack(dest: Path) -> Path:
    """``npm pack PACKAGE@VERSION`` into ``dest``; the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise SpecError("no `npm` on PATH: install Node.js (it ships npm) to fetch GitHub's OpenAPI description")
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
    result = subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--ignore-scripts", "--json",
                             "--pack-destination", str(dest)], capture_output=True, text=True, env=env,
                            stdin=subprocess.DEVNULL, check=False, timeout=600)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if "ERR" in line] or result.stderr.splitlines()
        raise SpecError(f"npm pack {PACKAGE}@{VERSION} failed: {(lines or ['no output'])[0][:300]}")
    try:
        filename = json.loads(result.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError):
        raise SpecError(f"npm pack {PACKAGE}@{VERSION} printed no JSON file list: {result.stdout[:200]!r}") from None
    tarball = dest / str(filename)
    if not tarball.is_file():
        raise SpecError(f"npm pack {PACKAGE}@{VERSION} wrote no {tarball.name} into {dest}")
    return tarball


def extract(tarball: Path, dest: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            if member.name == MEMBER and member.isfile():
                source = archive.extractfile(member)
                assert source is not None
                with source, dest.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                return
    raise SpecError(f"{PACKAGE}@{VERSION} has no {MEMBER}")


def ensure() -> Path:
    """The cached description, fetched first if it is missing."""
    target = spec_file()
    if target.is_file():
        return target
    with locked(target.parent.parent / ".lock"):
        if target.is_file():  # another process fetched it meanwhile
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        print(f"openapi: fetching {PACKAGE}@{VERSION} with npm (cached afterwards)…", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=target.parent) as tmp:
            tarball = npm_pack(Path(tmp))
            found = integrity_of(tarball)
            if found != INTEGRITY:
                raise SpecError(f"{tarball.name} has integrity {found}, not the pinned {INTEGRITY}: the registry "
                                "served other bytes for this version; nothing was cached")
            partial = Path(tmp) / target.name
            extract(tarball, partial)
            try:
                json.loads(partial.read_bytes())
            except ValueError as exc:
                raise SpecError(f"{MEMBER} of {PACKAGE}@{VERSION} is not JSON: {exc}") from None
            partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv:
        print(f"usage: {Path(__file__).name}  (prints the path of the cached description)", file=sys.stderr)
        return 2
    try:
        print(ensure())
    except SpecError as exc:
        print(f"openapi: error: {exc}", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired:
        print(f"openapi: error: npm pack {PACKAGE}@{VERSION} took over 10 minutes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
