"""A complete, valid ``dist/`` in milliseconds, without Go: tiny fake executables in real archives.

``make_dist(tmp_path)`` writes what ``release --snapshot`` would: one archive per target named
``<plugin>-<os>-<arch>-<tag>.tar.gz`` (``.zip`` for windows) built with the package stage's own writers
(binary first, mode 0755, then ``LICENSE``, ``README.md``, ``checksum.txt``, ``gatewayd_plugin.yaml``),
and a GNU ``checksums.txt``. The fake binaries carry just enough of an ELF, Mach-O or PE header for
``contract.executable_kind`` to identify the target. Tests then break one thing with the ``Dist`` helpers
(``rewrite``, ``rewrite_raw``, ``add_asset``, ``rename``…), which keep ``checksums.txt`` consistent unless
told not to, so each test fails for exactly the reason it is about.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import contract, verify
from gatewayd_plugin_actions.release.package import Entry, write_tar_gz, write_zip
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS, Target

PLUGIN = "gatewayd-plugin-example"
OWNER = "gatewayd-io"
TAG = "v1.2.3"
MTIME = 1_767_323_045  # 2026-01-02T03:04:05Z, like the tests' git commits

# The machine numbers contract.executable_kind reads (the inverse of its tables).
ELF_MACHINE = {"amd64": 0x3E, "arm64": 0xB7, "386": 0x03, "arm": 0x28, "riscv64": 0xF3}
MACHO_CPU = {"amd64": 0x01000007, "arm64": 0x0100000C, "386": 0x7, "arm": 0xC}
PE_MACHINE = {"amd64": 0x8664, "arm64": 0xAA64, "386": 0x14C, "arm": 0x1C4}
FORMATS = ("elf", "macho", "pe")


def fake_executable(fmt: str, goarch: str, payload: bytes = b"") -> bytes:
    """The smallest header ``contract.executable_kind`` accepts as ``(fmt, goarch)``, then ``payload``."""
    if fmt == "elf":
        ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)  # 64-bit, little-endian, version 1
        header = ident + struct.pack("<HHI", 2, ELF_MACHINE[goarch], 1)  # ET_EXEC, machine, version
        header += bytes(64 - len(header))
    elif fmt == "macho":
        header = b"\xcf\xfa\xed\xfe" + struct.pack("<IIIIII", MACHO_CPU[goarch], 3, 2, 0, 0, 0)
    elif fmt == "pe":
        dos = bytearray(0x40)
        dos[:2] = b"MZ"
        dos[0x3C:0x40] = struct.pack("<I", 0x40)
        header = bytes(dos) + b"PE\x00\x00" + struct.pack("<HH", PE_MACHINE[goarch], 0) + bytes(16)
    else:
        raise ValueError(f"unknown executable format {fmt!r}")
    return header + payload


def binary_for(target: Target, plugin: str = PLUGIN) -> bytes:
    """A fake binary of the right format and CPU for ``target``, different for every target."""
    return fake_executable(contract.expected_format(target), target.goarch,
                           f"\n{plugin} {target} fake build\n".encode())


def manifest_text(plugin: str = PLUGIN, owner: str = OWNER) -> str:
    return (
        "plugins:\n"
        f"  - name: {plugin}\n"
        "    enabled: true\n"
        f"    url: github.com/{owner}/{plugin}@latest\n"
        f"    localPath: ../{plugin}/{plugin}\n"
        '    args: ["--log-level", "info"]\n'
        "    env:\n"
        f"      - MAGIC_COOKIE_KEY={contract.MAGIC_COOKIE_KEY}\n"
        f"      - MAGIC_COOKIE_VALUE={contract.MAGIC_COOKIE_VALUE}\n"
        f"    checksum: {sha256(b'not the real binary')}\n"
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def standard_entries(target: Target, plugin: str = PLUGIN, binary: bytes | None = None,
                     binary_name: str | None = None, owner: str = OWNER) -> list[Entry]:
    """The members ``package`` writes, in its order: the binary, then the rest sorted by name."""
    data = binary_for(target, plugin) if binary is None else binary
    name = binary_name or plugin
    rest = [
        Entry("LICENSE", data=b"Apache License 2.0 (test copy)\n"),
        Entry("README.md", data=f"# {plugin}\n".encode()),
        Entry(contract.BINARY_CHECKSUM_FILE, data=(contract.checksum_line(sha256(data), name) + "\n").encode()),
        Entry(contract.MANIFEST_FILE, data=manifest_text(plugin, owner).encode()),
    ]
    return [Entry(name, data=data, executable=True), *sorted(rest, key=lambda e: e.name)]


def write_archive(path: Path, entries: list[Entry]) -> Path:
    """With the package stage's own writers: ``.zip`` by name, else ``.tar.gz``."""
    (write_zip if path.name.endswith(".zip") else write_tar_gz)(path, entries, MTIME)
    return path


def checksums_text(dist: Path, names: Iterable[str]) -> str:
    return "".join(contract.checksum_line(contract.sha256_file(dist / n), n) + "\n" for n in sorted(names))


@dataclass
class Dist:
    path: Path
    plugin: str = PLUGIN
    tag: str = TAG
    owner: str = OWNER
    targets: list[Target] = field(default_factory=lambda: list(DEFAULT_TARGETS))

    def name(self, target: Target) -> str:
        return contract.archive_name(self.plugin, target, self.tag)

    def archive(self, target: Target | str) -> Path:
        return self.path / self.name(Target.parse(target) if isinstance(target, str) else target)

    def archives(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.name.endswith((".tar.gz", ".zip")))

    @property
    def checksums(self) -> Path:
        return self.path / contract.CHECKSUMS_ASSET

    def write_checksums(self, names: Iterable[str] | None = None) -> None:
        """``checksums.txt`` for ``names`` (default: every archive now in the dist)."""
        self.checksums.write_text(checksums_text(self.path, self.archives() if names is None else names),
                                  encoding="utf-8")

    def rewrite(self, target: Target | str, entries: list[Entry], update_checksums: bool = True) -> Path:
        """Replace one archive by ``entries`` (written by the package stage's writers)."""
        return self.rewrite_raw(target, lambda path: write_archive(path, entries), update_checksums)

    def rewrite_raw(self, target: Target | str, writer: Callable[[Path], object],
                    update_checksums: bool = True) -> Path:
        """Replace one archive by whatever ``writer(path)`` writes (for members the package stage refuses)."""
        path = self.archive(target)
        writer(path)
        if update_checksums:
            self.write_checksums()
        return path

    def entries(self, target: Target | str) -> list[Entry]:
        parsed = Target.parse(target) if isinstance(target, str) else target
        return standard_entries(parsed, self.plugin, owner=self.owner)

    def add_asset(self, name: str, data: bytes = b"sidecar\n") -> Path:
        path = self.path / name
        path.write_bytes(data)
        return path

    def rename(self, target: Target | str, new_name: str, update_checksums: bool = True) -> Path:
        new = self.archive(target).rename(self.path / new_name)
        if update_checksums:
            self.write_checksums()
        return new

    def write_metadata(self) -> Path:
        """The part of ``metadata.json`` that ``verify`` reads (so it needs no --name/--version/--targets)."""
        path = self.path / "metadata.json"
        path.write_text(json.dumps({"plugin": self.plugin, "version": self.tag,
                                    "targets": [str(t) for t in self.targets]}) + "\n", encoding="utf-8")
        return path

    def verify(self, tag: str | None = None, targets: Sequence[Target] | None = None,
               repository: str | None = None) -> verify.VerifyReport:
        # The fake binaries cannot start: the gate has its own tests with real builds (test_release_gate).
        return verify.verify_dist(self.path, self.plugin, tag or self.tag,
                                  list(self.targets if targets is None else targets), repository,
                                  gate=verify.GateOptions(enabled=False))

    def cli_args(self, *extra: str) -> list[str]:
        """``verify --dist … --name … --version … --targets … --no-gate`` for the real CLI (the fake binaries
        cannot start)."""
        return ["verify", "--dist", str(self.path), "--name", self.plugin, "--version", self.tag,
                "--targets", ",".join(str(t) for t in self.targets), "--no-gate", *extra]


def make_dist(root: Path, plugin: str = PLUGIN, tag: str = TAG, owner: str = OWNER,
              targets: Sequence[Target] = DEFAULT_TARGETS) -> Dist:
    """A valid dist for ``targets`` under ``root/dist`` (about 10 ms for the six default targets)."""
    dist = Dist(root / "dist", plugin, tag, owner, list(targets))
    dist.path.mkdir(parents=True, exist_ok=True)
    for target in dist.targets:
        write_archive(dist.archive(target), standard_entries(target, plugin, owner=owner))
    dist.write_checksums()
    return dist


def tar_gz_writer(members: Sequence[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.GNU_FORMAT,
                  pax_headers: dict[str, str] | None = None) -> Callable[[Path], None]:
    """A raw ``.tar.gz`` writer for members the package stage never writes (links, devices, PAX headers…)."""
    def write(path: Path) -> None:
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=fmt, pax_headers=pax_headers) as tar:
            for info, data in members:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)

    return write


def tar_member(name: str, data: bytes | None = b"", mode: int = 0o644, kind: bytes = tarfile.REGTYPE,
               linkname: str = "") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = MTIME
    info.linkname = linkname
    if kind == tarfile.REGTYPE and data is not None:
        info.size = len(data)
        return info, data
    return info, None


def standard_tar_members(target: Target, plugin: str = PLUGIN) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """``standard_entries`` as raw tar members, to mix with members ``tar_gz_writer`` allows."""
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for entry in standard_entries(target, plugin):
        assert entry.data is not None
        out.append(tar_member(entry.name, entry.data, 0o755 if entry.executable else 0o644))
    return out
