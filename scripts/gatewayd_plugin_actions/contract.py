"""The GatewayD installer contract: the one place that knows how ``gatewayd plugin install`` reads a release.

Everything here mirrors GatewayD's ``cmd/plugin_install.go`` (v0.10.3 and v0.11.1 behave the same):
which asset it picks (a *substring* match, first in API order), how it reads ``checksums.txt`` (the
first line that *contains* the asset name), which archive members it accepts, and which extracted file
it takes for the binary. The pre-publish ``verify`` stage, the post-publish check and ``test-plugin``'s
GatewayD download all call these functions instead of re-implementing them.
"""

from __future__ import annotations

import hashlib
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gatewayd_plugin_actions.errors import Problem

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
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?$"
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


@dataclass(frozen=True, order=True)
class Target:
    goos: str
    goarch: str

    @classmethod
    def parse(cls, text: str) -> Target:
        parts = text.strip().split("/")
        if len(parts) != 2 or not all(re.fullmatch(r"[a-z0-9]+", p) for p in parts):
            raise ValueError(f"target {text!r} is not of the form GOOS/GOARCH, e.g. linux/amd64")
        return cls(parts[0], parts[1])

    def __str__(self) -> str:
        return f"{self.goos}/{self.goarch}"

    @property
    def slug(self) -> str:
        return f"{self.goos}-{self.goarch}"

    @property
    def extension(self) -> str:
        # getFileExtension: .zip only when the *installing* machine runs Windows.
        return ".zip" if self.goos == "windows" else ".tar.gz"


DEFAULT_TARGETS: tuple[Target, ...] = tuple(
    Target(goos, goarch) for goos in ("linux", "darwin", "windows") for goarch in ("amd64", "arm64")
)


def parse_targets(text: str) -> list[Target]:
    targets = [Target.parse(part) for part in re.split(r"[,\s]+", text.strip()) if part]
    if not targets:
        raise ValueError("no targets given")
    return sorted(set(targets))


def archive_name(plugin: str, target: Target, tag: str) -> str:
    return f"{plugin}-{target.goos}-{target.goarch}-{tag}{target.extension}"


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


@dataclass(frozen=True)
class ArchiveMember:
    name: str
    kind: str  # "file", "dir", "symlink", "hardlink", "device", "other"
    mode: int
    size: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isdev():
        return "device"
    return "other"


@dataclass
class ArchiveContents:
    members: list[ArchiveMember]
    has_global_pax_header: bool
    first_bytes: dict[str, bytes]  # the head of every regular file, to identify executables
    files: dict[str, bytes]  # small text members the checks read whole (manifest, checksum.txt)
    sha256: dict[str, str]  # of every regular file's content


_SMALL_FILES = (MANIFEST_FILE, BINARY_CHECKSUM_FILE)
_HEAD_BYTES = 4096


def _consume(name: str, handle: IO[bytes], size: int, contents: ArchiveContents) -> None:
    """Stream one regular member: keep its head, hash it, keep it whole if the checks read it."""
    digest = hashlib.sha256()
    head = b""
    keep = name in _SMALL_FILES and size < 1 << 20
    kept: list[bytes] = []
    for block in iter(lambda: handle.read(1 << 20), b""):
        if len(head) < _HEAD_BYTES:
            head += block[: _HEAD_BYTES - len(head)]
        digest.update(block)
        if keep:
            kept.append(block)
    contents.first_bytes[name] = head
    contents.sha256[name] = digest.hexdigest()
    if keep:
        contents.files[name] = b"".join(kept)


class ArchiveError(ValueError):
    """An asset that is not a readable archive at all (truncated, corrupt, wrong format)."""


class _GlobalHeaderSpy(tarfile.TarInfo):
    """Python folds PAX global headers (type 'g', as `git archive` writes) into ``TarFile.pax_headers``
    without returning them, even empty ones; Go's archive/tar returns them and the installer then fails
    with "unknown file type". Record that one was seen."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.XGLTYPE:
            archive.gpa_saw_global_header = True  # type: ignore[attr-defined]
        member: tarfile.TarInfo = super()._proc_member(archive)  # type: ignore[misc]
        return member


def read_archive(path: Path) -> ArchiveContents:
    """Read a .tar.gz or .zip the way the installer walks it, keeping order, types and modes."""
    try:
        return _read_archive(path)
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error) as exc:
        raise ArchiveError(f"{path.name} is not a readable {'zip' if path.name.endswith('.zip') else 'tar.gz'} "
                           f"archive ({exc.__class__.__name__}: {exc})") from None


def _read_archive(path: Path) -> ArchiveContents:
    contents = ArchiveContents([], False, {}, {}, {})
    members = contents.members
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as zipped:
            for zinfo in zipped.infolist():
                unix_mode = zinfo.external_attr >> 16
                if zinfo.is_dir():
                    kind = "dir"
                elif unix_mode and stat.S_ISLNK(unix_mode):
                    kind = "symlink"
                else:
                    kind = "file"
                members.append(ArchiveMember(zinfo.filename, kind, stat.S_IMODE(unix_mode), zinfo.file_size))
                if kind == "file":
                    with zipped.open(zinfo) as handle:
                        _consume(zinfo.filename, handle, zinfo.file_size, contents)
        return contents
    with tarfile.open(path, "r:gz", tarinfo=_GlobalHeaderSpy) as tarred:
        for tinfo in tarred:
            members.append(ArchiveMember(tinfo.name, _tar_kind(tinfo), stat.S_IMODE(tinfo.mode), tinfo.size))
            extracted = tarred.extractfile(tinfo) if tinfo.isreg() else None
            if extracted is not None:
                _consume(tinfo.name, extracted, tinfo.size, contents)
        contents.has_global_pax_header = bool(tarred.pax_headers) or getattr(tarred, "gpa_saw_global_header", False)
    return contents


def installer_pick_binary(members: Sequence[ArchiveMember], plugin: str) -> ArchiveMember | None:
    """The installer keeps the first extracted path containing the plugin name as the binary."""
    return next((m for m in members if plugin in m.name), None)


_ELF_MACHINES = {0x3E: "amd64", 0xB7: "arm64", 0x03: "386", 0x28: "arm", 0xF3: "riscv64"}
_MACHO_CPUS = {0x01000007: "amd64", 0x0100000C: "arm64", 0x7: "386", 0xC: "arm"}
_PE_MACHINES = {0x8664: "amd64", 0xAA64: "arm64", 0x14C: "386", 0x1C4: "arm"}


def executable_kind(head: bytes) -> tuple[str, str] | None:
    """(format, goarch) of an executable's first bytes: ("elf"|"macho"|"pe", arch), or None."""
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        little = head[5] == 1
        machine = struct.unpack("<H" if little else ">H", head[18:20])[0]
        return "elf", _ELF_MACHINES.get(machine, f"machine-0x{machine:x}")
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") and len(head) >= 8:
        cpu = struct.unpack("<I", head[4:8])[0]
        return "macho", _MACHO_CPUS.get(cpu, f"cpu-0x{cpu:x}")
    if head[:2] == b"MZ" and len(head) >= 0x40:
        offset = struct.unpack("<I", head[0x3C:0x40])[0]
        if head[offset:offset + 4] == b"PE\x00\x00" and len(head) >= offset + 6:
            machine = struct.unpack("<H", head[offset + 4:offset + 6])[0]
            return "pe", _PE_MACHINES.get(machine, f"machine-0x{machine:x}")
    return None


def expected_format(target: Target) -> str:
    return {"darwin": "macho", "windows": "pe"}.get(target.goos, "elf")


def check_archive(contents: ArchiveContents, plugin: str, target: Target, where: str) -> list[Problem]:
    """Invariants 15-22 for one archive."""
    problems: list[Problem] = []

    def add(message: str) -> None:
        problems.append(Problem(message, where))

    if contents.has_global_pax_header:
        add("has a PAX global header (as `git archive` writes); the installer fails with 'unknown file type'")
    seen_dirs: set[str] = set()
    for member in contents.members:
        if member.kind not in ("file", "dir"):
            add(f"member {member.name!r} is a {member.kind}; the installer accepts only files and directories")
        parts = member.name.replace("\\", "/").split("/")
        if member.name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", member.name) or ".." in parts:
            add(f"member {member.name!r} has an absolute path or a '..' component")
        parent = "/".join(p for p in parts[:-1] if p)
        if member.kind == "file" and parent and parent not in seen_dirs:
            add(f"member {member.name!r} comes before its directory entry {parent + '/'!r}; "
                "the installer does not create parent directories")
        if member.kind == "dir":
            seen_dirs.add(member.name.rstrip("/"))
        if member.size > MAX_MEMBER_BYTES:
            add(f"member {member.name!r} is {member.size} bytes; the installer truncates members over "
                f"{MAX_MEMBER_BYTES} bytes (100 MiB)")
    allowed = {plugin, plugin + ".exe"} if target.goos == "windows" else {plugin}
    binary = installer_pick_binary(contents.members, plugin)
    if binary is None:
        add(f"no member's path contains {plugin!r}: the installer would record an empty localPath")
        return problems
    if binary.name not in allowed:
        add(f"the installer takes {binary.name!r} as the binary (first path containing {plugin!r}); "
            f"the binary must be named {plugin!r} at the archive root and come first")
        return problems
    others = [m.name for m in contents.members if plugin in m.name and m is not binary]
    if others:
        add(f"other members contain the plugin name ({', '.join(others)}); keep the binary the only one")
    if binary.kind != "file":
        add(f"{binary.name!r} is not a regular file")
    if target.goos != "windows" and not binary.mode & 0o111:
        add(f"binary {binary.name!r} has mode {binary.mode:04o} without exec bits; it installs non-executable")
    kind = executable_kind(contents.first_bytes.get(binary.name, b""))
    want = expected_format(target)
    if kind is None:
        add(f"binary {binary.name!r} is not an ELF, Mach-O or PE executable")
    elif kind != (want, target.goarch):
        add(f"binary {binary.name!r} is {kind[0]}/{kind[1]}, expected {want}/{target.goarch} for {target}")
    names = {m.name for m in contents.members}
    if MANIFEST_FILE not in names:
        add(f"no {MANIFEST_FILE} at the archive root; a local install (--name) needs it")
    return problems


def check_binary_checksum_file(contents: ArchiveContents, binary_sha256: str, plugin: str,
                               where: str) -> list[Problem]:
    """Docs rule 3: ``checksum.txt`` next to the binary holds the binary's hash (the installer ignores it)."""
    data = contents.files.get(BINARY_CHECKSUM_FILE)
    if data is None:
        return [Problem(f"no {BINARY_CHECKSUM_FILE} next to the binary (GatewayD docs rule 3)", where,
                        severity="warning")]
    found = installer_checksum_for(data.decode("utf-8", "replace"), plugin)
    if found != binary_sha256:
        return [Problem(f"{BINARY_CHECKSUM_FILE} does not hold the binary's sha256 {binary_sha256[:16]}…", where)]
    return []
