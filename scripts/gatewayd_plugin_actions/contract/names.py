"""The installer contract's names: tags, which asset ``gatewayd plugin install`` picks (a
*substring* match, first in API order) and how it reads ``checksums.txt`` (the first line that *contains*
the asset name)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from gatewayd_plugin_actions.errors import Problem
from gatewayd_plugin_actions.targets import Target

MAGIC_COOKIE_KEY = "GATEWAYD_PLUGIN"
MAGIC_COOKIE_VALUE = "5712b87aa5d7e9f9e9ab643e6603181c5b796015cb1c09d6f5ada882bf2a1872"
# What go-plugin prints when a plugin binary is started without (or with a wrong) magic cookie.
COOKIE_REFUSAL_MARKERS = ("This binary is a plugin", "Misconfigured ServeConfig")

MANIFEST_FILE = "gatewayd_plugin.yaml"
CHECKSUMS_ASSET = "checksums.txt"
BINARY_CHECKSUM_FILE = "checksum.txt"

# The installer copies each member through io.LimitReader(…, 100 MiB): bigger members are truncated.
MAX_MEMBER_BYTES = 104_857_600

# GitHubURLRegex's account/repository part: no dots or underscores.
NAME_RE = re.compile(r"^[A-Za-z0-9-]+$")
_NUM = r"(?:0|[1-9]\d*)"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
SEMVER_RE = re.compile(
    rf"^(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?\Z",
    re.ASCII,  # Go's semver takes ASCII digits only: "v1.0.1\u0663" is no version; \Z: no trailing newline either
)
INSTALL_URL_RE = re.compile(r"^github\.com/(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9-]+)@(?P<version>latest|v.+)$")
CHECKSUM_LINE_RE = re.compile(r"^[0-9a-f]{64} [ *]\S+$")


def is_valid_tag(tag: str) -> bool:
    """A tag the installer's ``@vX.Y.Z`` form can resolve: ``v`` plus strict semver 2.0."""
    return tag.startswith("v") and SEMVER_RE.match(tag[1:]) is not None


def parse_install_url(url: str) -> re.Match[str] | None:
    """Match a ``url`` the way ``gatewayd plugin install`` does (scheme stripped, ``@latest`` implied)."""
    bare = re.sub(r"^https?://", "", url)
    if "@" not in bare:
        bare += "@latest"
    match = INSTALL_URL_RE.match(bare)
    if match and match["version"] != "latest" and not is_valid_tag(match["version"]):
        return None
    return match


def archive_name(plugin: str, target: Target, tag: str) -> str:
    return f"{plugin}-{target.goos}-{target.goarch}-{tag}{target.extension}"


# A file name may have 255 bytes on every file system a runner uses; the packer writes "<name>.partial" first.
NAME_MAX = 255
PARTIAL_SUFFIX = ".partial"


def archive_name_problem(plugin: str, targets: Sequence[Target], tag: str) -> str | None:
    """Why an archive of this release cannot be written (its name too long for a file name), or None."""
    longest = max((archive_name(plugin, target, tag) for target in targets), key=lambda n: len(n.encode()),
                  default="")
    size = len(longest.encode()) + len(PARTIAL_SUFFIX)
    if size <= NAME_MAX:
        return None
    return (f"tag {tag[:40]}… ({len(tag)} characters) makes the archive name {size - len(PARTIAL_SUFFIX)} bytes "
            f"long, over the {NAME_MAX - len(PARTIAL_SUFFIX)} a release asset file may have; shorten the tag's "
            "prerelease or build part")


def installer_matches_archive(asset_name: str, target: Target) -> bool:
    """``findAsset``: the name merely *contains* GOOS, GOARCH and the extension."""
    return target.goos in asset_name and target.goarch in asset_name and target.extension in asset_name


def installer_pick_archive(asset_names: Sequence[str], target: Target) -> str | None:
    return next((n for n in asset_names if installer_matches_archive(n, target)), None)


def installer_pick_checksums(asset_names: Sequence[str]) -> str | None:
    return next((n for n in asset_names if CHECKSUMS_ASSET in n), None)


def checksum_line(sha256_hex: str, name: str) -> str:
    """One GNU ``sha256sum`` line, the only format the installer understands."""
    return f"{sha256_hex}  {name}"


def installer_checksum_for(checksums_text: str, asset_name: str) -> str | None:
    """The hash the installer would compare, or None when it would *silently skip* verification."""
    for line in checksums_text.split("\n"):
        if asset_name in line:
            return line.split(" ")[0]
    return None


def check_asset_names(
    asset_names: Sequence[str], plugin: str, tag: str | None, targets: Iterable[Target], where: str
) -> list[Problem]:
    """Invariants 10-12 (and 23): one archive per target, no look-alikes, one ``checksums.txt``."""
    problems: list[Problem] = []
    names = list(asset_names)
    for target in targets:
        matching = [n for n in names if installer_matches_archive(n, target)]
        expected = archive_name(plugin, target, tag) if tag else None
        if not matching:
            problems.append(Problem(f"no asset for {target}: the installer looks for a name containing "
                                    f"'{target.goos}', '{target.goarch}' and '{target.extension}'", where))
        elif len(matching) > 1:
            problems.append(Problem(
                f"{len(matching)} assets match {target} for the installer ({', '.join(matching)}); it takes "
                f"whichever GitHub lists first, so exactly one may contain '{target.goos}', "
                f"'{target.goarch}' and '{target.extension}'", where))
        elif expected and matching[0] != expected:
            problems.append(Problem(f"asset {matching[0]!r} for {target} should be named {expected!r}", where))
    checksum_assets = [n for n in names if CHECKSUMS_ASSET in n]
    if not checksum_assets:
        problems.append(Problem(f"no {CHECKSUMS_ASSET} asset: the installer refuses the release", where))
    elif checksum_assets != [CHECKSUMS_ASSET]:
        problems.append(Problem(
            f"asset names containing '{CHECKSUMS_ASSET}': {', '.join(checksum_assets)}; the installer takes "
            f"the first one, so only one asset, named exactly {CHECKSUMS_ASSET}, may contain it", where))
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9._+-]+", name):
            problems.append(Problem(f"asset name {name!r} has characters GitHub rewrites; use [A-Za-z0-9._-]",
                                    where))
    return problems


def check_checksums(checksums_text: str, archive_sha256: dict[str, str], where: str) -> list[Problem]:
    """Invariants 13-14: GNU format, and the installer's first matching line carries the right hash."""
    problems: list[Problem] = []
    for number, line in enumerate(checksums_text.split("\n"), start=1):
        text = line.rstrip("\r")
        if text and not CHECKSUM_LINE_RE.match(text):
            problems.append(Problem(
                f"line is not GNU sha256sum format '<64 lowercase hex>  <name>': {text[:80]!r}", where, number))
        elif text and (name := text[66:]) not in archive_sha256:
            # The installer only looks for a line *containing* its archive's name, so "….tar.gzx" passes it;
            # `sha256sum -c` and every other reader fail on a line for a file the release does not have.
            problems.append(Problem(f"line names {name[:100]!r}, which is not an archive of this release "
                                    "(`sha256sum -c checksums.txt` fails on it); checksums.txt lists exactly the "
                                    "archives: rebuild the dist", where, number))
    for asset, sha in sorted(archive_sha256.items()):
        mentioning = [ln for ln in checksums_text.split("\n") if asset in ln]
        found = installer_checksum_for(checksums_text, asset)
        if found is None:
            problems.append(Problem(f"no line for {asset}: the installer would skip verification silently", where))
        elif found != sha:
            problems.append(Problem(f"the installer reads hash {found[:16]}… for {asset}, "
                                    f"but the file's sha256 is {sha[:16]}…", where))
        elif len(mentioning) > 1:
            problems.append(Problem(f"{len(mentioning)} lines mention {asset}; only its own line may", where))
    return problems


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
