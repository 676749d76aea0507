"""Archives as ``gatewayd plugin install`` reads them, and the rules a release archive must meet.

Archives are read by ``archivecheck`` (the Go program beside this file), built on first use with the Go
that builds the plugin: GatewayD extracts with Go's ``compress/gzip``, ``archive/tar`` and
``archive/zip``, and Python's readers disagree with them exactly where it matters (``tarfile`` stops
quietly at a non-header block where Go fails with "invalid tar header"; a damaged gzip stream surfaced as
a missing file). The reader walks members in the installer's order with its rules (accepted types, where
a member lands, the 100 MiB copy limit, the exec-bit rule, later members overwriting earlier ones) and
says what the installer's extraction would fail with, plus integrity faults the installer never looks at.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import re
import struct
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewayd_plugin_actions.contract.names import (
    BINARY_CHECKSUM_FILE,
    MANIFEST_FILE,
    MAX_MEMBER_BYTES,
    installer_checksum_for,
)
from gatewayd_plugin_actions.errors import Problem, UserError, with_output
from gatewayd_plugin_actions.targets import Target

CHECKER_DIR = Path(__file__).resolve().parent / "archivecheck"
# Where the installer extracts to (the relative -o every verifier uses); member paths are reported under it.
OUTPUT_DIR = "plugins"
_KEPT_FILES = (MANIFEST_FILE, BINARY_CHECKSUM_FILE)


@dataclass(frozen=True)
class ArchiveMember:
    name: str  # as stored in the archive
    kind: str  # "file", "dir", "symlink", "hardlink", "device", "other"
    mode: int
    size: int
    path: str = ""  # where the installer writes it, relative to its output dir ("" = as named)

    @property
    def rel(self) -> str:
        return self.path or self.name


@dataclass
class ArchiveContents:
    members: list[ArchiveMember]
    has_global_pax_header: bool
    first_bytes: dict[str, bytes]  # the head of every installed file (by ``rel``), to identify executables
    files: dict[str, bytes]  # small text files the checks read whole (manifest, checksum.txt)
    sha256: dict[str, str]  # of every installed file's content, as the installer leaves it
    installer_error: str | None = None  # what the installer's extraction fails with, in Go's words
    integrity: list[str] = field(default_factory=list)  # faults the installer does not notice
    installed_mode: dict[str, int] = field(default_factory=dict)  # 0755/0644, as the installer chmods
    writes: dict[str, int] = field(default_factory=dict)  # how many members wrote each path


class ArchiveError(UserError):
    """The archive reader itself could not run (no Go, a build failure): not a verdict on the archive."""


_build_lock = threading.Lock()
_built_checker: dict[str, Path] = {}  # "path" → the checker built by this process


def _go_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO"))}
    keep = {k: os.environ[k] for k in ("GOPATH", "GOCACHE", "GOMODCACHE", "GOROOT", "GOPROXY") if k in os.environ}
    # Stdlib only: no modules, no cgo, never a toolchain download; the user's GOFLAGS must not steer it.
    return {**env, **keep, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "", "GOTOOLCHAIN": "local"}


def checker_binary() -> Path:
    """The built ``archivecheck``, cached per source and Go version (built once per machine)."""
    with _build_lock:
        if "path" in _built_checker:
            return _built_checker["path"]
        # Imported here: gotools pulls in the Go-tool machinery, which only this needs.
        from gatewayd_plugin_actions import gotools  # noqa: PLC0415

        go = gotools.go_binary()
        env = _go_env()
        probe = subprocess.run([go, "env", "GOVERSION", "GOHOSTOS", "GOHOSTARCH"], capture_output=True,
                               text=True, env=env, check=False, stdin=subprocess.DEVNULL, cwd=CHECKER_DIR)
        if probe.returncode != 0:
            raise UserError(f"`go env` failed, so archives cannot be read with Go's own readers: "
                            f"{probe.stderr.strip()[:300]}")
        digest = hashlib.sha256(probe.stdout.encode())
        for source in sorted(CHECKER_DIR.iterdir()):
            digest.update(source.name.encode() + source.read_bytes())
        target = gotools.tools_root() / "archivecheck" / digest.hexdigest()[:16] / "archivecheck"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                built = Path(tmp) / "archivecheck"
                result = subprocess.run([go, "build", "-trimpath", "-o", str(built), "."], cwd=CHECKER_DIR,
                                        env=env, capture_output=True, text=True, check=False,
                                        stdin=subprocess.DEVNULL)
                if result.returncode != 0:
                    raise UserError(with_output("building the archive reader (Go stdlib only) failed; Go 1.22 "
                                                "or newer is needed", result.stderr))
                built.replace(target)  # atomic: a concurrent process sees the old state or the whole file
        _built_checker["path"] = target
        return target


def read_archive(path: Path) -> ArchiveContents:
    """Read a .tar.gz or .zip with Go's readers, the way the installer walks it."""
    return read_archives([path])[0]


def read_archives(paths: Sequence[Path]) -> list[ArchiveContents]:
    if not paths:
        return []
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path} is not a regular file")
    result = subprocess.run([str(checker_binary()), "-keep", ",".join(_KEPT_FILES), *map(str, paths)],
                            capture_output=True, check=False, stdin=subprocess.DEVNULL)
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != len(paths):
        raise ArchiveError(with_output(f"the archive reader failed (exit {result.returncode})",
                                       result.stderr.decode("utf-8", "replace"), 300))
    return [_contents(json.loads(line)) for line in lines]


_KINDS = {"file": "file", "dir": "dir", "symlink": "symlink", "hardlink": "hardlink", "char": "device",
          "block": "device"}


def _rel(installed: str, name: str) -> str:
    if not installed:
        return name
    return posixpath.relpath(installed, OUTPUT_DIR)


def _contents(data: dict[str, Any]) -> ArchiveContents:
    members = [ArchiveMember(str(m["name"]), _KINDS.get(str(m["type"]), "other"), int(m["mode"]) & 0o7777,
                             int(m["size"]), _rel(str(m.get("path") or ""), str(m["name"])))
               for m in data["members"]]
    contents = ArchiveContents(members, any(m["type"] == "pax-global" for m in data["members"]), {}, {}, {},
                               data.get("installer_error") or None, list(data.get("integrity") or []))
    for installed in data["files"]:
        rel = _rel(str(installed["path"]), "")
        contents.first_bytes[rel] = base64.b64decode(installed.get("head") or "")
        contents.sha256[rel] = str(installed["sha256"])
        contents.installed_mode[rel] = int(installed["mode"])
        contents.writes[rel] = int(installed["writes"])
        if installed.get("data") is not None:
            contents.files[rel] = base64.b64decode(installed["data"])
    return contents


# Go's error texts, and what they mean for the person who has to fix the archive.
_FAULTS = (
    ("invalid tar header", "invalid tar header"),
    ("unexpected EOF", "truncated"),
    ("flate: corrupt input", "corrupt gzip data"),
    ("gzip: invalid checksum", "gzip CRC mismatch"),
    ("gzip: invalid header", "not a gzip stream (or a damaged gzip header)"),
    ("gzip: EOF", "empty file"),
    ("zip: checksum error", "zip CRC mismatch"),
    ("zip: not a valid zip file", "not a zip file (or a damaged central directory)"),
    ("zip: unsupported compression", "unsupported zip compression method"),
    ("unknown file type", "a member type the installer refuses (only files and directories)"),
    ("no such file or directory", "a file before its directory entry (the installer creates no parents)"),
    ("is a directory", "a file where a directory of the same name was extracted"),
    ("not a directory", "a directory where a file of the same name was extracted"),
)


def describe_installer_error(error: str) -> str:
    """``<what is wrong>: <Go's words>``, e.g. ``truncated: unexpected EOF (reading member …)``."""
    label = next((meaning for marker, meaning in _FAULTS if marker in error), "unreadable")
    return f"{label}: {error}"


def installer_pick_binary(members: Sequence[ArchiveMember], plugin: str) -> ArchiveMember | None:
    """The installer keeps the first extracted *file* whose path (``plugins/<path>``) contains the plugin
    name; directories are created but never listed, so a folder named like the plugin does not count."""
    return next((m for m in members if m.kind == "file" and plugin in posixpath.join(OUTPUT_DIR, m.rel)), None)


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


def _member_problems(contents: ArchiveContents) -> list[str]:
    found: list[str] = []
    if contents.has_global_pax_header:
        found.append("has a PAX global header (as `git archive` writes); the installer fails with "
                     "'unknown file type'")
    seen_dirs: set[str] = set()
    for member in contents.members:
        if member.kind not in ("file", "dir"):
            found.append(f"member {member.name!r} is a {member.kind}; the installer accepts only files and "
                         "directories")
        parts = member.name.replace("\\", "/").split("/")
        if member.name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", member.name) or ".." in parts:
            # The installer itself writes '/x' inside its output dir and '../x' beside it; tar and unzip
            # write both elsewhere: either way not where a user looks for the plugin.
            found.append(f"member {member.name!r} has an absolute path or a '..' component: extractors write "
                         "it outside the plugins directory")
        if member.kind == "file" and member.name.endswith(("/", "\\")):
            # Go's readers (and so the installer) take it as a file; GNU tar and unzip make it a directory,
            # so the content vanishes for anyone who unpacks the archive by hand.
            found.append(f"member {member.name!r} is a file whose name has a trailing '/': tar and unzip "
                         "extract it as an empty directory; drop the slash")
            parts = [p for p in parts if p]
        parent = "/".join(p for p in parts[:-1] if p and p != ".")
        if member.kind == "file" and parent and parent not in seen_dirs:
            found.append(f"member {member.name!r} comes before its directory entry {parent + '/'!r}; "
                         "the installer does not create parent directories")
        if member.kind == "dir":
            seen_dirs.add(member.rel.rstrip("/"))
        if member.size > MAX_MEMBER_BYTES:
            found.append(f"member {member.name!r} is {member.size} bytes; the installer truncates members over "
                         f"{MAX_MEMBER_BYTES} bytes (100 MiB)")
    repeated = sorted(rel for rel, count in Counter(m.rel for m in contents.members if m.kind == "file").items()
                      if count > 1)
    for rel in repeated:
        found.append(f"{rel!r} is stored {contents.writes.get(rel, 2)} times; the installer writes each copy over "
                     "the last, so what it installs is not what a listing of the archive shows")
    return found


def check_archive(contents: ArchiveContents, plugin: str, target: Target, where: str) -> list[Problem]:
    """Invariants 15-22 for one archive: first whether the installer can extract it at all."""
    problems = [Problem(f"the installer cannot extract it: {describe_installer_error(contents.installer_error)}",
                        where)] if contents.installer_error else []
    problems += [Problem(f"damaged archive: {fault}", where) for fault in contents.integrity]
    if contents.installer_error:
        return problems  # the members read so far say nothing about the rest: no misleading follow-ups
    problems += [Problem(message, where) for message in _member_problems(contents)]

    def add(message: str) -> None:
        problems.append(Problem(message, where))

    allowed = {plugin, plugin + ".exe"} if target.goos == "windows" else {plugin}
    binary = installer_pick_binary(contents.members, plugin)
    if binary is None:
        add(f"no file's path contains {plugin!r}: the installer would record an empty localPath")
        return problems
    if binary.rel not in allowed:
        add(f"the installer takes {binary.name!r} as the binary (first file whose path contains {plugin!r}); "
            f"the binary must be named {plugin!r} at the archive root and come first")
        return problems
    others = [m.name for m in contents.members if plugin in m.name and m.rel != binary.rel]
    if others:
        add(f"other members contain the plugin name ({', '.join(others)}); keep the binary the only one")
    mode = contents.installed_mode.get(binary.rel, 0o755 if binary.mode & 0o111 else 0o644)
    if target.goos != "windows" and not mode & 0o111:
        add(f"binary {binary.name!r} has mode {binary.mode:04o} without exec bits; it installs non-executable")
    kind = executable_kind(contents.first_bytes.get(binary.rel, b""))
    want = expected_format(target)
    if kind is None:
        add(f"binary {binary.name!r} is not an ELF, Mach-O or PE executable")
    elif kind != (want, target.goarch):
        add(f"binary {binary.name!r} is {kind[0]}/{kind[1]}, expected {want}/{target.goarch} for {target}")
    if MANIFEST_FILE not in {m.rel for m in contents.members if m.kind == "file"}:
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
