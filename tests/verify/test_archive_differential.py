"""Differential test of the archive checks: a good release archive, mutated ~100 ways, judged by OUR verifier
(``verify.verify_archive``) and by the ORACLE, the real ``gatewayd plugin install --name`` of both pinned
GatewayD versions (``gatewayd.install_local_archive`` in a fresh directory).

The oracle installs a case correctly when the install succeeds (its markers, entry, lint) and leaves an
executable binary whose sha256 is the released binary's: a "wrong binary installed" is an oracle failure.
Rules: no false passes (whenever OURS passes, both installs are correct); OUR verdict is the one each case
declares, with its expected words in our errors; OURS may fail an archive the installer installs fine
("stricter") only where the case says why, and exactly there. GatewayD only reads ``.zip`` on Windows
(``getFileExtension``), so zip cases are judged by OURS against written expectations for windows/amd64.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import stat
import struct
import tarfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import pytest

from gatewayd_plugin_actions.contract import MAX_MEMBER_BYTES, archive_name, checksum_line
from gatewayd_plugin_actions.gatewayd.program import install_local_archive
from gatewayd_plugin_actions.release import package
from gatewayd_plugin_actions.targets import Target
from gatewayd_plugin_actions.verify import verify_archive
from tests.fixtures.go import EXAMPLE_PLUGIN_NAME, EXAMPLE_PLUGIN_SRC, GATEWAYD_VERSIONS

pytestmark = pytest.mark.gatewayd

PLUGIN = EXAMPLE_PLUGIN_NAME
TAG = "v0.1.0"
LINUX = Target("linux", "amd64")
WINDOWS = Target("windows", "amd64")
MTIME = 1_767_225_600
SCRIPT = b"#!/bin/sh\necho 'not the plugin'\n"
OTHER_PLUGIN = "gatewayd-plugin-other"
TarFormat = Literal[0, 1, 2]  # tarfile.USTAR_FORMAT, GNU_FORMAT, PAX_FORMAT
COOKIE_LINES = ("      - MAGIC_COOKIE_KEY=GATEWAYD_PLUGIN\n"
                "      - MAGIC_COOKIE_VALUE=5712b87aa5d7e9f9e9ab643e6603181c5b796015cb1c09d6f5ada882bf2a1872\n")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------
# Archive builders: every byte under the test's control (tar headers by TarInfo.tobuf, gzip by zlib).
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class M:
    """A tar member."""

    name: str
    data: bytes = b""
    mode: int = 0o644
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    pax: tuple[tuple[str, str], ...] = ()
    size: int | None = None  # the declared size, when the header must lie about it
    uid: int = 0
    uname: str = ""
    mtime: int = MTIME


def tar_header(member: M, fmt: TarFormat) -> bytes:
    info = tarfile.TarInfo(member.name)
    info.type = member.type
    info.mode = member.mode
    info.mtime = member.mtime
    info.uid = info.gid = member.uid
    info.uname = info.gname = member.uname
    info.linkname = member.linkname
    info.size = member.size if member.size is not None else (len(member.data) if member.type in (
        tarfile.REGTYPE, tarfile.AREGTYPE) else 0)
    info.pax_headers = dict(member.pax)
    return info.tobuf(fmt, "utf-8", "surrogateescape")


def tar_bytes(members: list[M], fmt: TarFormat = tarfile.GNU_FORMAT, end: bool = True, record: bool = True,
              global_pax: dict[str, str] | None = None) -> bytes:
    """What ``tarfile`` writes (headers, data padded to 512, two zero blocks, padding to 10240 bytes)."""
    out = bytearray(tarfile.TarInfo.create_pax_global_header(global_pax) if global_pax else b"")
    for member in members:
        out += tar_header(member, fmt)
        out += member.data + b"\0" * (-len(member.data) % tarfile.BLOCKSIZE)
    if end:
        out += b"\0" * (2 * tarfile.BLOCKSIZE)
    if record:
        out += b"\0" * (-len(out) % tarfile.RECORDSIZE)
    return bytes(out)


def gz(data: bytes, level: int = 1) -> bytes:
    """gzip as ``package.write_tar_gz`` writes it (no name, mtime 0, OS byte 255)."""
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0) as stream:
        stream.write(data)
    return raw.getvalue()


def gzip_with_header_fields(data: bytes) -> bytes:
    """One gzip member with every optional header field (FEXTRA, FNAME, FCOMMENT, FHCRC) and an mtime."""
    extra = b"AB" + struct.pack("<H", 4) + b"gpa!"
    head = b"\x1f\x8b\x08" + bytes([0x02 | 0x04 | 0x08 | 0x10]) + struct.pack("<I", MTIME) + b"\x00\x03"
    head += struct.pack("<H", len(extra)) + extra + b"plugin.tar\0" + b"a comment\0"
    head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    body = compressor.compress(data) + compressor.flush()
    return head + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def rechecksum(block: bytes) -> bytes:
    blank = block[:148] + b" " * 8 + block[156:512]
    return blank[:148] + b"%06o\0 " % sum(blank) + blank[156:]


def patch_headers(tar: bytes, change: Callable[[int, bytes], bytes]) -> bytes:
    """Rewrite each plain (ustar/v7) header block with ``change(index, block)``."""
    out = bytearray(tar)
    offset = index = 0
    while offset + 512 <= len(out) and out[offset:offset + 512] != bytes(512):
        block = bytes(out[offset:offset + 512])
        size = int(block[124:136].rstrip(b"\0 ") or b"0", 8)
        out[offset:offset + 512] = change(index, block)
        offset += 512 + -(-size // 512) * 512
        index += 1
    return bytes(out)


def v7(_index: int, block: bytes) -> bytes:
    """Strip the ustar part of a header (magic, version, owner names, devices, prefix): a V7 header."""
    return rechecksum(block[:257] + bytes(243) + block[500:])


def bad_checksum(index: int, block: bytes) -> bytes:
    return block[:148] + b"000000\0 " + block[156:] if index == 0 else block


@dataclass(frozen=True)
class Z:
    """A zip member."""

    name: str
    data: bytes = b""
    mode: int = 0o644
    kind: str = "file"  # file, dir, symlink
    method: int = zipfile.ZIP_DEFLATED
    system: int = 3  # 3 = unix (modes in the external attributes), 0 = MS-DOS
    zip64: bool = False


def zip_bytes(members: list[Z]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": on purpose
        with zipfile.ZipFile(buffer, "w") as archive:
            for member in members:
                info = zipfile.ZipInfo(member.name, date_time=(2026, 1, 1, 0, 0, 0))
                info.create_system = member.system
                dos_dir = 0x10 if member.kind == "dir" else 0
                kind = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}[member.kind]
                info.external_attr = ((kind | member.mode) << 16 | dos_dir) if member.system == 3 else dos_dir
                info.compress_type = member.method
                if member.zip64:
                    with archive.open(info, "w", force_zip64=True) as out:
                        out.write(member.data)
                else:
                    archive.writestr(info, member.data)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# The good release, as ``package.py`` lays it out: the binary first (0755), then the rest sorted
# (LICENSE, README.md, checksum.txt, gatewayd_plugin.yaml, copied verbatim), GNU tar, uid/gid 0.
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Parts:
    binary: bytes
    manifest: bytes
    license: bytes
    readme: bytes
    pe: bytes  # a windows/amd64 PE header (the zip cases' binary: the checks read only the head)

    @property
    def checksum(self) -> bytes:
        line: str = checksum_line(sha256(self.binary), PLUGIN)
        return (line + "\n").encode()

    def binary_member(self, name: str = PLUGIN, mode: int = 0o755, data: bytes | None = None, *,
                      type: bytes = tarfile.REGTYPE, pax: tuple[tuple[str, str], ...] = (), size: int | None = None,
                      uid: int = 0, uname: str = "", mtime: int = MTIME) -> M:
        return M(name, self.binary if data is None else data, mode, type, pax=pax, size=size, uid=uid, uname=uname,
                 mtime=mtime)

    def rest(self, checksum: bytes | None = None, manifest: bytes | None = None, drop: tuple[str, ...] = (),
             prefix: str = "") -> list[M]:
        members = [M("LICENSE", self.license), M("README.md", self.readme),
                   M("checksum.txt", self.checksum if checksum is None else checksum),
                   M("gatewayd_plugin.yaml", self.manifest if manifest is None else manifest)]
        return [replace(m, name=prefix + m.name) for m in members if m.name not in drop]

    def std(self) -> list[M]:
        return [self.binary_member(), *self.rest()]

    def manifest_with(self, *edits: tuple[str, str]) -> bytes:
        text = self.manifest.decode()
        for old, new in edits:
            assert text.count(old) == 1, f"the example manifest changed: {old!r} not found once"
            text = text.replace(old, new)
        return text.encode()

    def zip_std(self, binary: Z | None = None) -> list[Z]:
        pe_checksum = (checksum_line(sha256(self.pe), PLUGIN + ".exe") + "\n").encode()
        return [binary or Z(PLUGIN + ".exe", self.pe, 0o755), Z("LICENSE", self.license),
                Z("README.md", self.readme), Z("checksum.txt", pe_checksum),
                Z("gatewayd_plugin.yaml", self.manifest)]


def fake_pe() -> bytes:
    head = bytearray(bytes(range(256)) * 16)
    head[0:2] = b"MZ"
    head[0x3C:0x40] = struct.pack("<I", 0x80)
    head[0x80:0x86] = b"PE\0\0" + struct.pack("<H", 0x8664)
    return bytes(head)


def good_tar(p: Parts) -> bytes:
    return tar_bytes(p.std())


def good(p: Parts) -> bytes:
    return gz(good_tar(p), level=package.COMPRESS_LEVEL)


def tgz(members: list[M], fmt: TarFormat = tarfile.GNU_FORMAT, end: bool = True, record: bool = True,
        global_pax: dict[str, str] | None = None) -> bytes:
    return gz(tar_bytes(members, fmt, end, record, global_pax))


def elf_machine(binary: bytes, machine: int) -> bytes:
    assert binary[:4] == b"\x7fELF" and binary[5] == 1, "a little-endian ELF"
    return binary[:18] + struct.pack("<H", machine) + binary[20:]


def patch_zip_crc(data: bytes, member_data: bytes) -> bytes:
    packed = struct.pack("<I", zlib.crc32(member_data))
    assert data.count(packed) == 2, "the CRC is in the local header and in the central directory"
    return data.replace(packed, struct.pack("<I", zlib.crc32(member_data) ^ 1))


def split_gzip(tar: bytes, at: int) -> bytes:
    return gz(tar[:at]) + gz(tar[at:])


def flip_stored_binary_byte(p: Parts) -> bytes:
    """A stored (level 0) gzip with one byte of the binary's data flipped: structure intact, CRC wrong."""
    tar = good_tar(p)
    data = bytearray(gz(tar, level=0))
    needle = tar[512 + len(p.binary) // 2:][:32]
    at = data.find(needle)
    assert at > 0, "stored deflate keeps the bytes verbatim"
    data[at + 16] ^= 0x55
    return bytes(data)


# --------------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    cls: str
    build: Callable[[Parts], bytes]
    error: str | None  # None: OURS must pass; else words one of our errors must contain
    stricter: str | None = None  # why OURS fails an archive the installer installs correctly (then only)
    zip: bool = False
    oracle_note: str | None = None  # words both oracle verdicts must contain (evidence of what it did)


def case(id: str, cls: str, build: Callable[[Parts], bytes], error: str | None,
         stricter: str | None = None, oracle_note: str | None = None) -> Case:
    return Case(id, cls, build, error, stricter, oracle_note=oracle_note)


def zcase(id: str, build: Callable[[Parts], bytes], error: str | None) -> Case:
    return Case(id, "zip", build, error, zip=True)


NO_EXEC = "without exec bits"
NOT_FOUND = "no file's path contains"
MISNAMED = "must be named"
TAKES = "as the binary (first file whose path contains"
TYPES = "only files and directories"
ESCAPES = "absolute path or a '..' component"
NO_PARENT = "creates no parents"
DUPLICATE = "times; the installer writes each copy over the last"
NAME_RISK = ("it works only through the installer's substring match (first file whose path contains the name): "
             "it installs under another name, and any member with the name placed earlier would be taken instead")
ESCAPE_RISK = ("the installer maps it into its plugins dir, but other extractors do not: Python's tarfile without a "
               "filter writes '/x' at the root and follows 'a/../x', GNU tar strips or skips such members")
DUP_RISK = "a listing shows one copy, the installer keeps the last: the way tampered archives hide a payload"
TAIL_RISK = ("the installer stops at the tar end marker, so bytes past it (or a damaged gzip trailer) go unseen: "
             "the file is not exactly what was built and checksummed")
CHECKSUM_RISK = "checksum.txt is for users (`sha256sum -c`, GatewayD docs rule 3); the installer ignores it"
CHECKSUM_FORMAT_RISK = ("`sha256sum -c` accepts this line, but not the installer's checksums parser (first space-"
                        "separated token, compared as a lowercase string), which our rule holds checksum.txt to")
HANDSHAKE_RISK = "the installer copies plugins[0] verbatim, and GatewayD cannot start a plugin without the cookie"

TAR_CASES: list[Case] = [
    # -- the baseline and harmless layout variants
    case("good", "baseline", good, None),
    case("brief-order", "order", lambda p: tgz([p.binary_member(), *p.rest(drop=("LICENSE", "README.md"))[::-1]]),
         None),
    case("binary-last", "order", lambda p: tgz([*p.rest(), p.binary_member()]), None),
    case("binary-middle", "order", lambda p: tgz([*p.rest()[:2], p.binary_member(), *p.rest()[2:]]), None),
    case("ustar-format", "format", lambda p: tgz(p.std(), fmt=tarfile.USTAR_FORMAT), None),
    case("pax-format", "format", lambda p: tgz([p.binary_member(pax=(("comment", "release build"),)), *p.rest()],
                                               fmt=tarfile.PAX_FORMAT), None),
    case("v7-headers", "format", lambda p: gz(patch_headers(tar_bytes(p.std(), fmt=tarfile.USTAR_FORMAT), v7)),
         None),
    case("no-record-padding", "tar", lambda p: tgz(p.std(), record=False), None),
    case("no-end-marker", "tar", lambda p: tgz(p.std(), end=False, record=False), None),
    case("gzip-header-fields", "gzip", lambda p: gzip_with_header_fields(good_tar(p)), None),
    case("gzip-level-9", "gzip", lambda p: gz(good_tar(p), level=9), None),
    case("odd-owner-fields", "format",
         lambda p: tgz([p.binary_member(uid=2_097_151, uname="u" * 31, mtime=0), *p.rest()]), None),
    case("future-mtime-base256", "format", lambda p: tgz([p.binary_member(mtime=2**34), *p.rest()]), None),
    # -- binary mode
    case("mode-0700", "mode", lambda p: tgz([p.binary_member(mode=0o700), *p.rest()]), None),
    case("mode-0111", "mode", lambda p: tgz([p.binary_member(mode=0o111), *p.rest()]), None),
    case("mode-0001", "mode", lambda p: tgz([p.binary_member(mode=0o001), *p.rest()]), None),
    case("mode-setuid", "mode", lambda p: tgz([p.binary_member(mode=0o4755), *p.rest()]), None),
    case("mode-0644", "mode", lambda p: tgz([p.binary_member(mode=0o644), *p.rest()]), NO_EXEC),
    case("mode-0000", "mode", lambda p: tgz([p.binary_member(mode=0), *p.rest()]), NO_EXEC),
    case("mode-setuid-no-exec", "mode", lambda p: tgz([p.binary_member(mode=0o6644), *p.rest()]), NO_EXEC),
    # -- which member is the binary
    case("binary-missing", "name", lambda p: tgz(p.rest()), NOT_FOUND),
    case("binary-renamed", "name", lambda p: tgz([p.binary_member("plugin"), *p.rest()]), NOT_FOUND),
    case("binary-other-case", "name", lambda p: tgz([p.binary_member(PLUGIN.title()), *p.rest()]), NOT_FOUND),
    case("binary-suffixed", "name", lambda p: tgz([p.binary_member(PLUGIN + "-linux-amd64"), *p.rest()]),
         MISNAMED, NAME_RISK),
    case("binary-exe-on-linux", "name", lambda p: tgz([p.binary_member(PLUGIN + ".exe"), *p.rest()]),
         MISNAMED, NAME_RISK),
    case("decoy-first", "name", lambda p: tgz([M(PLUGIN + ".md", b"# docs\n"), *p.std()]), TAKES),
    case("decoy-dir-first", "name",
         lambda p: tgz([M(PLUGIN + "-docs/", type=tarfile.DIRTYPE, mode=0o755),
                        M(PLUGIN + "-docs/README.md", b"# docs\n"), *p.std()]), TAKES),
    case("sidecar-after", "name", lambda p: tgz([*p.std(), M(PLUGIN + ".sha256", p.checksum)]),
         "other members contain the plugin name", NAME_RISK),
    case("readme-before-binary", "order", lambda p: tgz([M("NOTES.txt", b"notes\n"), *p.std()]), None),
    # -- paths and directories
    case("dot-slash-names", "path",
         lambda p: tgz([M("./", type=tarfile.DIRTYPE, mode=0o755), p.binary_member("./" + PLUGIN),
                        *p.rest(prefix="./")]), None),
    case("dir-entries", "path",
         lambda p: tgz([*p.std(), M("docs/", type=tarfile.DIRTYPE, mode=0o755), M("docs/USAGE.md", b"use\n")]),
         None),
    case("nested-binary", "path",
         lambda p: tgz([M("bin/", type=tarfile.DIRTYPE, mode=0o755), p.binary_member("bin/" + PLUGIN),
                        *p.rest()]), MISNAMED),
    case("nested-binary-no-dir", "path", lambda p: tgz([p.binary_member("bin/" + PLUGIN), *p.rest()]), NO_PARENT),
    case("file-before-dir", "path", lambda p: tgz([*p.std(), M("docs/USAGE.md", b"use\n")]), NO_PARENT),
    case("dir-named-plugin-after", "path",
         lambda p: tgz([*p.std(), M(PLUGIN + "/", type=tarfile.DIRTYPE, mode=0o755)]), "not a directory"),
    case("dir-named-plugin-first", "path",
         lambda p: tgz([M(PLUGIN + "/", type=tarfile.DIRTYPE, mode=0o755), *p.std()]), "is a directory"),
    case("manifest-in-subdir", "path",
         lambda p: tgz([p.binary_member(), *p.rest(drop=("gatewayd_plugin.yaml",)),
                        M("config/", type=tarfile.DIRTYPE, mode=0o755), M("config/gatewayd_plugin.yaml", p.manifest)]),
         "no gatewayd_plugin.yaml at the archive root"),
    case("absolute-binary", "path", lambda p: tgz([p.binary_member("/" + PLUGIN), *p.rest()]), ESCAPES,
         ESCAPE_RISK),
    case("absolute-dir", "path",
         lambda p: tgz([*p.std(), M("/tmp/gpa-differential/", type=tarfile.DIRTYPE, mode=0o755)]), ESCAPES,
         ESCAPE_RISK),
    case("dotdot-binary", "path", lambda p: tgz([p.binary_member("../" + PLUGIN), *p.rest()]), ESCAPES),
    case("dotdot-inner", "path", lambda p: tgz([p.binary_member(f"sub/../{PLUGIN}"), *p.rest()]), ESCAPES,
         ESCAPE_RISK),
    case("dotdot-escape-extra", "path", lambda p: tgz([*p.std(), M("../../escape.txt", b"out\n")]), ESCAPES,
         "the installer writes it two levels above its plugins dir (path traversal; its cleanup deletes it again)"),
    # A directory escapes too, and the installer's cleanup leaves it: the oracle sees it outside its cwd.
    case("dotdot-escape-dir", "path", lambda p: tgz([*p.std(), M("../../escape/", type=tarfile.DIRTYPE, mode=0o755)]),
         ESCAPES, "the installer creates it two levels above its plugins dir (path traversal)",
         oracle_note="made a/escape outside its cwd"),
    # Go keeps a '0' member named "x/" a file (the installer installs it fine); GNU tar takes it for a
    # directory and skips its data. Ours rejects it, but for a reason the installer refutes (see the report).
    case("trailing-slash-file", "path", lambda p: tgz([p.binary_member(PLUGIN + "/"), *p.rest()]),
         "trailing '/'", "GNU tar extracts a file member whose name ends in '/' as an empty directory: the binary "
                         "vanishes outside GatewayD"),
    # A legacy '\0' member named "x/" is a directory for Go: its data is then read as the next header.
    case("trailing-slash-aregtype", "path",
         lambda p: tgz([p.binary_member(PLUGIN + "/", type=tarfile.AREGTYPE), *p.rest()]), "invalid tar header"),
    case("gnu-longname-extra", "gnu", lambda p: tgz([*p.std(), M("docs-" + "x" * 200 + ".txt", b"long\n")]), None),
    case("gnu-longname-binary", "gnu", lambda p: tgz([p.binary_member("./" * 60 + PLUGIN), *p.rest()]), None),
    # -- member types
    case("symlink-extra", "link", lambda p: tgz([*p.std(), M("link", type=tarfile.SYMTYPE, linkname=PLUGIN)]),
         TYPES),
    case("symlink-binary", "link",
         lambda p: tgz([M(PLUGIN, type=tarfile.SYMTYPE, linkname="/bin/sh", mode=0o777), *p.rest()]), TYPES),
    case("hardlink-extra", "link", lambda p: tgz([*p.std(), M("copy", type=tarfile.LNKTYPE, linkname=PLUGIN)]),
         TYPES),
    case("char-device", "link", lambda p: tgz([*p.std(), M("null", type=tarfile.CHRTYPE)]), TYPES),
    case("fifo", "link", lambda p: tgz([*p.std(), M("pipe", type=tarfile.FIFOTYPE)]), TYPES),
    # -- PAX
    case("pax-path-override", "pax",
         lambda p: tgz([p.binary_member("decoy", pax=(("path", PLUGIN),)), *p.rest()], fmt=tarfile.PAX_FORMAT),
         None),
    case("pax-unicode-extra", "pax", lambda p: tgz([*p.std(), M("dökümanlar-ü.txt", b"x\n")],
                                                   fmt=tarfile.PAX_FORMAT), None),
    case("pax-global-header", "pax",
         lambda p: tgz(p.std(), fmt=tarfile.PAX_FORMAT, global_pax={"comment": "git archive"}), TYPES),
    case("pax-dotdot", "pax",
         lambda p: tgz([p.binary_member("decoy", pax=(("path", "../" + PLUGIN),)), *p.rest()],
                       fmt=tarfile.PAX_FORMAT), ESCAPES),
    case("pax-size-override", "pax",
         lambda p: tgz([p.binary_member(pax=(("size", str(len(p.binary) // 2)),)), *p.rest()],
                       fmt=tarfile.PAX_FORMAT), "invalid tar header"),
    # -- duplicates
    case("dup-binary-same", "dup", lambda p: tgz([*p.std(), p.binary_member()]), DUPLICATE, DUP_RISK),
    case("dup-binary-script", "dup", lambda p: tgz([*p.std(), p.binary_member(data=SCRIPT)]), DUPLICATE),
    case("dup-manifest-broken", "dup", lambda p: tgz([*p.std(), M("gatewayd_plugin.yaml", b"plugins: [\n")]),
         DUPLICATE),
    # -- sizes
    case("declared-8gib", "size", lambda p: tgz([p.binary_member(size=8 * 2**30), *p.rest()]), "truncated"),
    case("declared-too-small", "size", lambda p: tgz([p.binary_member(size=len(p.binary) - 700), *p.rest()]),
         "invalid tar header"),
    case("member-over-100mib", "size", lambda p: tgz([*p.std(), M("assets.bin", bytes(MAX_MEMBER_BYTES + 1))]),
         "truncates members over", "the installer silently cuts it to 100 MiB: the installed file is not the "
                                   "released one"),
    # -- the tar stream
    case("truncated-tar-in-binary", "tar", lambda p: gz(good_tar(p)[:512 + len(p.binary) // 2]), "truncated"),
    case("truncated-tar-in-header", "tar",
         lambda p: gz(good_tar(p)[:512 + -(-len(p.binary) // 512) * 512 + 100]), "truncated"),
    case("bad-header-checksum", "tar",
         lambda p: gz(patch_headers(tar_bytes(p.std(), fmt=tarfile.USTAR_FORMAT), bad_checksum)),
         "invalid tar header"),
    case("zero-block-then-data", "tar",
         lambda p: gz(tar_bytes(p.std(), end=False, record=False) + bytes(512)
                      + tar_bytes([M("late.txt", b"late\n")])), "invalid tar header"),
    case("data-after-end-marker", "tar",
         lambda p: gz(good_tar(p) + tar_bytes([p.binary_member(data=SCRIPT)])), "after the tar end-of-archive",
         TAIL_RISK),
    case("empty-tar", "tar", lambda p: gz(bytes(tarfile.RECORDSIZE)), NOT_FOUND),
    # -- the gzip stream
    case("truncated-gzip-half", "gzip", lambda p: good(p)[: len(good(p)) // 2], "truncated"),
    case("truncated-gzip-trailer", "gzip", lambda p: good(p)[:-8], "gzip stream is damaged", TAIL_RISK),
    case("gzip-crc-mismatch", "gzip",
         lambda p: good(p)[:-8] + struct.pack("<I", zlib.crc32(good_tar(p)) ^ 1) + good(p)[-4:],
         "gzip stream is damaged", TAIL_RISK),
    case("gzip-size-mismatch", "gzip", lambda p: good(p)[:-4] + struct.pack("<I", 12345), "gzip stream is damaged",
         TAIL_RISK),
    case("gzip-bitflip-stored", "gzip", flip_stored_binary_byte, "gzip stream is damaged"),
    case("trailing-garbage", "gzip", lambda p: good(p) + b"GARBAGE\n" * 8, "not gzip data follow", TAIL_RISK),
    case("trailing-zeros", "gzip", lambda p: good(p) + bytes(1024), "not gzip data follow", TAIL_RISK),
    case("concat-gzip-payload", "gzip", lambda p: good(p) + tgz([p.binary_member(data=SCRIPT)]), "gzip member 2",
         TAIL_RISK),
    case("split-gzip-members", "gzip", lambda p: split_gzip(good_tar(p), 512 + len(p.binary) // 3),
         "one gzip member", "tools that read only the first gzip member see a truncated archive"),
    case("not-gzip", "gzip", good_tar, "not a gzip stream"),
    case("xz-not-gzip", "gzip", lambda p: lzma.compress(good_tar(p), preset=0), "not a gzip stream"),
    case("zlib-not-gzip", "gzip", lambda p: zlib.compress(good_tar(p), 1), "not a gzip stream"),
    case("empty-file", "gzip", lambda p: b"", "empty file"),
    # -- the binary's content
    case("binary-shell-script", "exec", lambda p: tgz([p.binary_member(data=SCRIPT), *p.rest()]), "not an ELF"),
    case("binary-empty", "exec", lambda p: tgz([p.binary_member(data=b""), *p.rest()]), "not an ELF"),
    case("binary-arm64-elf", "exec", lambda p: tgz([p.binary_member(data=elf_machine(p.binary, 0xB7)), *p.rest()]),
         "elf/arm64, expected elf/amd64"),
    case("binary-macho", "exec",
         lambda p: tgz([p.binary_member(data=b"\xcf\xfa\xed\xfe" + struct.pack("<I", 0x01000007) + p.binary[8:]),
                        *p.rest()]), "macho/amd64, expected elf/amd64"),
    case("binary-pe", "exec", lambda p: tgz([p.binary_member(data=p.pe), *p.rest()]), "pe/amd64, expected elf/amd64"),
    # -- checksum.txt (the installer never reads it)
    case("checksum-missing", "checksum", lambda p: tgz([p.binary_member(), *p.rest(drop=("checksum.txt",))]), None),
    case("checksum-wrong", "checksum", lambda p: tgz([p.binary_member(), *p.rest(
        checksum=(checksum_line(sha256(b"x"), PLUGIN) + "\n").encode())]), "does not hold the binary's sha256",
         CHECKSUM_RISK),
    case("checksum-uppercase", "checksum", lambda p: tgz([p.binary_member(), *p.rest(
        checksum=(checksum_line(sha256(p.binary).upper(), PLUGIN) + "\n").encode())]),
         "does not hold the binary's sha256", CHECKSUM_FORMAT_RISK),
    case("checksum-bsd-format", "checksum", lambda p: tgz([p.binary_member(), *p.rest(
        checksum=f"SHA256 ({PLUGIN}) = {sha256(p.binary)}\n".encode())]), "does not hold the binary's sha256",
         CHECKSUM_FORMAT_RISK),
    case("checksum-extra-lines", "checksum", lambda p: tgz([p.binary_member(), *p.rest(
        checksum=(checksum_line(sha256(p.readme), "README.md") + "\n").encode() + p.checksum)]), None),
    case("checksum-star-crlf", "checksum", lambda p: tgz([p.binary_member(), *p.rest(
        checksum=f"{sha256(p.binary)} *{PLUGIN}\r\n".encode())]), None),
    # -- the manifest
    case("manifest-missing", "manifest",
         lambda p: tgz([p.binary_member(), *p.rest(drop=("gatewayd_plugin.yaml",))]), "no gatewayd_plugin.yaml"),
    case("manifest-invalid-yaml", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=b"plugins: [\n")]),
         "invalid YAML"),
    # A zero-byte manifest: the installer panics (plugins[0] of nothing). See the report: ours passes it.
    case("manifest-empty", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=b"")]), "empty"),
    case("manifest-comments-only", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=b"# none\n")]),
         "empty"),
    case("manifest-empty-plugins", "manifest",
         lambda p: tgz([p.binary_member(), *p.rest(manifest=b"plugins: []\n")]), "empty list"),
    case("manifest-wrong-name", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        (f"- name: {PLUGIN} ", f"- name: {OTHER_PLUGIN} ")))]), f"plugins[0].name {OTHER_PLUGIN!r} must equal"),
    case("manifest-other-plugin", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        (f"- name: {PLUGIN} ", f"- name: {OTHER_PLUGIN} "), (f"actions/{PLUGIN}@", f"actions/{OTHER_PLUGIN}@")))]),
         f"plugins[0].name is {OTHER_PLUGIN!r}, expected"),
    case("manifest-no-env", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ("    env:\n", ""), ("      # The go-plugin handshake: without these two the plugin refuses to start.\n", ""),
        (COOKIE_LINES, "")))]), "missing required key 'env'"),
    case("manifest-env-no-cookie", "manifest", lambda p: tgz([p.binary_member(), *p.rest(
        manifest=p.manifest_with((COOKIE_LINES, "      - EXAMPLE_SETTING=on\n")))]), "missing MAGIC_COOKIE_KEY",
         HANDSHAKE_RISK),
    case("manifest-wrong-cookie", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ("MAGIC_COOKIE_VALUE=5712b87a", "MAGIC_COOKIE_VALUE=0badc0de")))]), "handshake expects", HANDSHAKE_RISK),
    case("manifest-extra-key", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ("    enabled: True\n", "    enabled: True\n    priority: 1\n")))]), "unknown key 'priority'"),
    case("manifest-duplicate-key", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ("    enabled: True\n", "    enabled: True\n    enabled: True\n")))]), "invalid YAML"),
    case("manifest-enabled-yes", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ("    enabled: True\n", "    enabled: yes\n")))]), "must be true or false"),
    # %YAML 1.1 makes ruamel read `yes` as true; GatewayD (yaml.v3) keeps the string. See the report.
    case("manifest-yaml11-yes", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=b"%YAML 1.1\n---\n"
        + p.manifest_with(("    enabled: True\n", "    enabled: yes\n")))]), "must be true or false"),
    case("manifest-enabled-quoted", "manifest", lambda p: tgz([p.binary_member(), *p.rest(
        manifest=p.manifest_with(("    enabled: True\n", '    enabled: "true"\n')))]), "must be true or false"),
    case("manifest-args-number", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ('    args: ["--log-level", "info"]\n', '    args: ["--port", 5432]\n')))]), "must be a string"),
    case("manifest-two-documents", "manifest", lambda p: tgz([p.binary_member(), *p.rest(
        manifest=p.manifest + b"---\nplugins: []\n")]), "expected a single document",
         "yaml.v3 silently takes the first document; which one counts depends on the reader (PyYAML and ruamel "
         "refuse the file)"),
    case("manifest-args-string", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ('    args: ["--log-level", "info"]\n', '    args: "--log-level info"\n')))]), "must be a list of strings"),
    case("manifest-args-null", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        ('    args: ["--log-level", "info"]\n', "    args:\n")))]), "must be a list of strings"),
    case("manifest-bad-url", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=p.manifest_with(
        (f"url: github.com/gatewayd-plugin-actions/{PLUGIN}@latest",
         "url: github.com/gatewayd_plugin_actions/example@latest")))]), "is not what `gatewayd plugin install` accepts",
         "users install releases with `gatewayd plugin install <url>`, which rejects this URL"),
    case("manifest-unknown-global", "manifest", lambda p: tgz([p.binary_member(), *p.rest(
        manifest=b"compatibilityPolicy: strict\n" + p.manifest)]), "unknown top-level key",
         "`gatewayd plugin lint` of the manifest itself rejects it (the installer copies only plugins[0])"),
    case("manifest-bom", "manifest", lambda p: tgz([p.binary_member(), *p.rest(manifest=b"\xef\xbb\xbf" + p.manifest)]),
         None),
    case("manifest-crlf", "manifest", lambda p: tgz([p.binary_member(), *p.rest(
        manifest=p.manifest.replace(b"\n", b"\r\n"))]), None),
    case("manifest-utf16", "manifest", lambda p: tgz([p.binary_member(), *p.rest(
        manifest=p.manifest.decode().encode("utf-16"))]), "not UTF-8",
         "policy: GatewayD (yaml.v3) decodes UTF-16 with a BOM, but UTF-8-only YAML readers (ours among them) "
         "cannot; a release ships UTF-8"),
    case("manifest-dot-slash", "manifest", lambda p: tgz([p.binary_member(), *p.rest(drop=("gatewayd_plugin.yaml",)),
                                                          M("./gatewayd_plugin.yaml", p.manifest)]), None),
]

ZIP_CASES: list[Case] = [
    zcase("zip-good", lambda p: zip_bytes(p.zip_std()), None),
    zcase("zip-stored", lambda p: zip_bytes([replace(m, method=zipfile.ZIP_STORED) for m in p.zip_std()]), None),
    zcase("zip-no-exe-suffix", lambda p: zip_bytes(p.zip_std(Z(PLUGIN, p.pe, 0o755))), None),
    zcase("zip-dir-entries", lambda p: zip_bytes([*p.zip_std(), Z("docs/", kind="dir", mode=0o755),
                                                  Z("docs/USAGE.md", b"use\n")]), None),
    zcase("zip-binary-0644", lambda p: zip_bytes(p.zip_std(Z(PLUGIN + ".exe", p.pe, 0o644))), None),
    zcase("zip-msdos-attributes", lambda p: zip_bytes([replace(m, system=0) for m in p.zip_std()]), None),
    zcase("zip64", lambda p: zip_bytes(p.zip_std(Z(PLUGIN + ".exe", p.pe, 0o755, zip64=True))), None),
    zcase("zip-prepended-bytes", lambda p: b"MZ-stub" * 100 + zip_bytes(p.zip_std()), None),
    zcase("zip-trailing-bytes", lambda p: zip_bytes(p.zip_std()) + b"trailer" * 10, None),
    zcase("zip-dotdot", lambda p: zip_bytes(p.zip_std(Z("../" + PLUGIN + ".exe", p.pe, 0o755))), ESCAPES),
    zcase("zip-absolute", lambda p: zip_bytes([*p.zip_std(), Z("/gpa-evil.txt", b"x")]), ESCAPES),
    zcase("zip-absolute-nested", lambda p: zip_bytes([*p.zip_std(), Z("/etc/gpa-evil.txt", b"x")]), NO_PARENT),
    zcase("zip-backslash-dotdot", lambda p: zip_bytes([*p.zip_std(), Z("..\\gpa-evil.txt", b"x")]), ESCAPES),
    zcase("zip-symlink", lambda p: zip_bytes([*p.zip_std(), Z("link", PLUGIN.encode(), 0o777, kind="symlink")]),
          TYPES),
    zcase("zip-elf-binary", lambda p: zip_bytes(p.zip_std(Z(PLUGIN + ".exe", p.binary[:65536], 0o755))),
          "elf/amd64, expected pe/amd64"),
    zcase("zip-binary-missing", lambda p: zip_bytes(p.zip_std()[1:]), NOT_FOUND),
    zcase("zip-duplicate-binary", lambda p: zip_bytes([*p.zip_std(), Z(PLUGIN + ".exe", SCRIPT, 0o755)]), DUPLICATE),
    zcase("zip-crc-mismatch", lambda p: patch_zip_crc(zip_bytes(p.zip_std(
        Z(PLUGIN + ".exe", p.pe, 0o755, method=zipfile.ZIP_STORED))), p.pe), "zip CRC mismatch"),
    zcase("zip-bzip2", lambda p: zip_bytes(p.zip_std(Z(PLUGIN + ".exe", p.pe, 0o755, method=zipfile.ZIP_BZIP2))),
          "unsupported zip compression"),
    zcase("zip-truncated-central-dir", lambda p: zip_bytes(p.zip_std())[:-30], "not a zip file"),
    zcase("zip-is-a-tar-gz", good, "not a zip file"),
    zcase("zip-file-before-dir", lambda p: zip_bytes([*p.zip_std(), Z("docs/USAGE.md", b"use\n")]), NO_PARENT),
    zcase("zip-no-manifest", lambda p: zip_bytes(p.zip_std()[:-1]), "no gatewayd_plugin.yaml"),
]

CASES = TAR_CASES + ZIP_CASES


# --------------------------------------------------------------------------------------------------
# Running both sides
# --------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    case: Case
    path: Path
    ours_errors: list[str] = field(default_factory=list)
    ours_crash: str | None = None
    oracle: dict[str, str] = field(default_factory=dict)  # version → "ok" or why not

    @property
    def ours_pass(self) -> bool:
        return not self.ours_errors and self.ours_crash is None

    def oracle_ok(self, version: str) -> bool:
        return self.oracle.get(version, "").startswith("ok")

    @property
    def verdict(self) -> str:
        if self.case.zip:
            return "expected" if self.ours_pass == (self.case.error is None) else "UNEXPECTED"
        all_ok = all(self.oracle_ok(v) for v in GATEWAYD_VERSIONS)
        if self.ours_pass:
            return "agree" if all_ok else "FALSE PASS"
        return "stricter" if any(self.oracle_ok(v) for v in GATEWAYD_VERSIONS) else "agree"


def run_ours(outcome: Outcome) -> None:
    target = WINDOWS if outcome.case.zip else LINUX
    try:
        result = verify_archive(outcome.path, target, PLUGIN, None)
    except Exception as exc:  # a crash is a finding, reported with the case
        outcome.ours_crash = f"{type(exc).__name__}: {exc}"
        return
    outcome.ours_errors = [p.message for p in result.problems if p.is_error]


def run_oracle(outcome: Outcome, version: str, gatewayd: Path, expected_sha: str) -> None:
    # cwd is two levels below a private directory, so a '../..' member lands where it can be seen.
    private = outcome.path.parent / f"oracle-{version}"
    workdir = private / "a" / "cwd"
    try:
        result = install_local_archive(gatewayd, outcome.path, PLUGIN, workdir)
    except Exception as exc:  # the harness itself failed: not a verdict
        outcome.oracle[version] = f"harness error {type(exc).__name__}: {exc}"
        return
    escaped = sorted(str(p.relative_to(private)) for p in private.rglob("*")
                     if p != workdir and workdir not in p.parents and p not in workdir.parents)
    note = f" (made {', '.join(escaped)} outside its cwd)" if escaped else ""
    if not result.ok:
        outcome.oracle[version] = "FAIL: " + result.problems[0] + note
    elif result.binary is None or not os.access(result.binary, os.X_OK):
        outcome.oracle[version] = "FAIL: no executable binary" + note
    elif sha256(result.binary.read_bytes()) != expected_sha:
        outcome.oracle[version] = f"FAIL: wrong binary installed ({result.entry.get('localPath')})" + note
    else:
        outcome.oracle[version] = "ok" + note


@pytest.fixture(scope="module")
def parts(example_plugin_binary: Path) -> Parts:
    return Parts(example_plugin_binary.read_bytes(), (EXAMPLE_PLUGIN_SRC / "gatewayd_plugin.yaml").read_bytes(),
                 (EXAMPLE_PLUGIN_SRC / "LICENSE").read_bytes(), (EXAMPLE_PLUGIN_SRC / "README.md").read_bytes(),
                 fake_pe())


@dataclass
class Run:
    outcomes: list[Outcome]
    seconds: float


@pytest.fixture(scope="module")
def differential(parts: Parts, gatewayd_binaries: dict[str, Path],
                 tmp_path_factory: pytest.TempPathFactory) -> Run:
    started = time.monotonic()
    root = tmp_path_factory.mktemp("differential")

    def write(item: Case) -> Outcome:
        directory = root / item.id
        directory.mkdir()
        path = directory / archive_name(PLUGIN, WINDOWS if item.zip else LINUX, TAG)
        path.write_bytes(item.build(parts))
        return Outcome(item, path)

    expected_sha = sha256(parts.binary)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(write, CASES))
        jobs = [pool.submit(run_ours, o) for o in outcomes]
        jobs += [pool.submit(run_oracle, o, version, gatewayd_binaries[version], expected_sha)
                 for o in outcomes if not o.case.zip for version in GATEWAYD_VERSIONS]
        for job in jobs:
            job.result()
    return Run(outcomes, time.monotonic() - started)


# --------------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------------

def test_cases_are_many_distinct_and_well_formed(differential: Run) -> None:
    assert len(TAR_CASES) >= 32 and len(ZIP_CASES) >= 8
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids are unique"
    digests: dict[str, str] = {}
    for outcome in differential.outcomes:
        item = outcome.case
        digest = sha256(outcome.path.read_bytes()) + ("zip" if item.zip else "")
        assert digest not in digests, f"{item.id} builds the same bytes as {digests.get(digest)}: a no-op mutation"
        digests[digest] = item.id
        assert item.stricter is None or item.error is not None, f"{item.id}: a stricter case must name our error"


def test_good_archive_is_what_package_writes(parts: Parts, tmp_path: Path) -> None:
    """The baseline's members, bytes and order are those of the release packer for the same files."""
    sources = {name: tmp_path / name for name in ("LICENSE", "README.md", "gatewayd_plugin.yaml")}
    for name, path in sources.items():
        path.write_bytes({"LICENSE": parts.license, "README.md": parts.readme,
                          "gatewayd_plugin.yaml": parts.manifest}[name])
    binary = tmp_path / PLUGIN
    binary.write_bytes(parts.binary)
    rest = [package.Entry("checksum.txt", data=parts.checksum),
            *(package.Entry(name, path) for name, path in sources.items())]
    entries = [package.Entry(PLUGIN, binary, executable=True), *sorted(rest, key=lambda e: e.name)]
    packed = tmp_path / "packed.tar.gz"
    package.write_tar_gz(packed, entries, MTIME)
    assert gzip.decompress(packed.read_bytes()) == good_tar(parts)
    assert packed.read_bytes() == good(parts), "same gzip settings too (level, mtime 0, no name)"


def test_good_archive_passes_ours_and_both_installers(differential: Run) -> None:
    baseline = next(o for o in differential.outcomes if o.case.id == "good")
    assert baseline.ours_crash is None and baseline.ours_errors == []
    assert baseline.oracle == dict.fromkeys(GATEWAYD_VERSIONS, "ok")
    zipped = next(o for o in differential.outcomes if o.case.id == "zip-good")
    assert zipped.ours_crash is None and zipped.ours_errors == []


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _ours_cell(outcome: Outcome) -> str:
    if outcome.ours_crash:
        return "CRASH " + outcome.ours_crash
    if outcome.ours_pass:
        return "pass"
    wanted = outcome.case.error or ""
    shown = next((e for e in outcome.ours_errors if wanted and wanted in e), outcome.ours_errors[0])
    return "FAIL: " + shown


def test_differential_no_false_passes(differential: Run, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = differential.outcomes
    widths = (26, 10, 58, 46, 46, 10)
    header = ("case", "class", "ours", *(f"oracle {v}" for v in GATEWAYD_VERSIONS), "verdict")
    lines = [" | ".join(_cell(h, w).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for o in outcomes:
        oracle = [o.oracle.get(v, "n/a (zip)") for v in GATEWAYD_VERSIONS]
        row = (o.case.id, o.case.cls, _ours_cell(o), *oracle, o.verdict)
        lines.append(" | ".join(_cell(c, w).ljust(w) for c, w in zip(row, widths, strict=True)))
    verdicts = [o.verdict for o in outcomes]
    tar_count = sum(not o.case.zip for o in outcomes)
    summary = (f"{len(outcomes)} cases ({tar_count} tar.gz vs. GatewayD {' and '.join(GATEWAYD_VERSIONS)}, "
               f"{len(outcomes) - tar_count} zip vs. expectations): agree {verdicts.count('agree')}, "
               f"stricter {verdicts.count('stricter')}, FALSE PASS {verdicts.count('FALSE PASS')}, "
               f"zip expected {verdicts.count('expected')}, zip UNEXPECTED {verdicts.count('UNEXPECTED')}; "
               f"{differential.seconds:.1f}s")
    with capsys.disabled():
        print("\n" + "\n".join(lines) + "\n" + summary)

    failures: list[str] = []
    for o in outcomes:
        c = o.case
        if o.ours_crash:
            failures.append(f"{c.id}: verify_archive crashed: {o.ours_crash}")
            continue
        harness = [f"{v}: {r}" for v, r in o.oracle.items() if r.startswith("harness error")]
        if harness:
            failures.append(f"{c.id}: the oracle could not judge: {harness}")
        if o.verdict == "FALSE PASS":
            failures.append(f"{c.id}: FALSE PASS: ours passes, the installer does not install it correctly: "
                            f"{o.oracle}")
        if o.ours_pass != (c.error is None):
            failures.append(f"{c.id}: ours {'passes' if o.ours_pass else 'fails'}, the case expects "
                            f"{'a pass' if c.error is None else 'an error with ' + repr(c.error)}: {o.ours_errors}")
        elif c.error is not None and not any(c.error in e for e in o.ours_errors):
            failures.append(f"{c.id}: no error of ours contains {c.error!r}: {o.ours_errors}")
        if c.oracle_note and not all(c.oracle_note in o.oracle.get(v, "") for v in GATEWAYD_VERSIONS):
            failures.append(f"{c.id}: the oracle verdicts do not say {c.oracle_note!r}: {o.oracle}")
        if not c.zip and (o.verdict == "stricter") != (c.stricter is not None):
            failures.append(f"{c.id}: verdict {o.verdict}, but the case "
                            f"{'declares' if c.stricter else 'does not declare'} a reason to be stricter "
                            f"({c.stricter}); oracle: {o.oracle}")
    assert not failures, "\n".join(failures)
