"""One negative test per local invariant of the installer contract (what GatewayD's installer checks).

Each test starts from a complete, valid dist (``tests/fixtures/dist_factory.py``) that verifies clean, breaks
exactly one thing, and asserts the specific problem both from ``verify.verify_dist`` and from the real CLI
(``verify --dist … --name … --version …``, exit 1, no traceback). Tag and URL rules (invariants 1-2, 8) and
the executable-header reader are tested directly.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.contract import ArchiveContents, ArchiveMember
from gatewayd_plugin_actions.release.package import Entry, write_zip
from gatewayd_plugin_actions.targets import Target, parse_targets
from tests.conftest import RunCli
from tests.fixtures.dist_factory import (
    PLUGIN,
    TAG,
    Dist,
    binary_for,
    fake_executable,
    make_dist,
    manifest_text,
    standard_entries,
    standard_tar_members,
    tar_gz_writer,
    tar_member,
)

LINUX_AMD64 = Target("linux", "amd64")
DARWIN_ARM64 = Target("darwin", "arm64")
WINDOWS_AMD64 = Target("windows", "amd64")


@pytest.fixture
def dist(tmp_path: Path) -> Dist:
    """A valid six-target dist, checked clean before the test breaks it."""
    made = make_dist(tmp_path)
    assert [str(p) for p in made.verify().problems] == []
    return made


def assert_flags(dist: Dist, run_cli: RunCli, expected: str, *, tag: str | None = None,
                 targets: list[Target] | None = None) -> None:
    """``expected`` is an error of verify_dist and of the CLI (exit 1)."""
    errors = [p.message for p in dist.verify(tag=tag, targets=targets).errors]
    assert any(expected in m for m in errors), errors
    args = dist.cli_args()
    if tag:
        args[args.index("--version") + 1] = tag
    if targets is not None:
        args[args.index("--targets") + 1] = ",".join(str(t) for t in targets)
    result = run_cli(*args)
    assert result.returncode == 1, result.stderr
    assert expected in result.stderr, result.stderr
    assert "NOT installable" in result.stderr


def rewrite_entries(dist: Dist, target: Target, change: Callable[[list[Entry]], list[Entry]]) -> None:
    dist.rewrite(target, change(dist.entries(target)))


def with_binary(target: Target, data: bytes, name: str = PLUGIN, executable: bool = True) -> list[Entry]:
    """The standard members around another binary (checksum.txt follows it, so only the binary is wrong)."""
    entries = standard_entries(target, binary=data, binary_name=name)
    entries[0] = Entry(name, data=data, executable=executable)
    return entries


# --- the clean baseline ---------------------------------------------------------------------------------------

def test_valid_dist_verifies_clean_through_the_cli(dist: Dist, run_cli: RunCli) -> None:
    result = run_cli(*dist.cli_args())
    assert result.returncode == 0, result.stderr
    assert f"{dist.path}: installable (6 targets)" in result.stderr
    for target in dist.targets:
        assert f"verified {dist.name(target)}: 5 members, binary {contract.expected_format(target)}/" \
               f"{target.goarch} mode 0755: ok" in result.stderr


def test_verify_reads_name_version_and_targets_from_metadata(dist: Dist, run_cli: RunCli) -> None:
    dist.write_metadata()
    assert run_cli("verify", "--dist", dist.path, "--no-gate").returncode == 0
    dist.archive("linux/arm64").unlink()
    dist.write_checksums()
    result = run_cli("verify", "--dist", dist.path, "--no-gate")
    assert result.returncode == 1
    assert "no asset for linux/arm64" in result.stderr


def test_verify_cli_input_errors_are_reported_without_traceback(tmp_path: Path, dist: Dist,
                                                                 run_cli: RunCli) -> None:
    missing = run_cli("verify", "--dist", tmp_path / "nope", "--name", PLUGIN)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    no_name = run_cli("verify", "--dist", dist.path)
    assert no_name.returncode == 1 and "no plugin name: pass --name" in no_name.stderr
    bad_targets = run_cli("verify", "--dist", dist.path, "--name", PLUGIN, "--targets", "linux-amd64")
    assert bad_targets.returncode == 1 and "--targets: target 'linux-amd64' is not of the form GOOS/GOARCH" \
        in bad_targets.stderr


# --- 10: exactly one archive per target, named R-os-arch-T.ext ------------------------------------------------

def test_10_missing_archive_for_a_target(dist: Dist, run_cli: RunCli) -> None:
    dist.archive("linux/arm64").unlink()
    dist.write_checksums()
    assert_flags(dist, run_cli, "no asset for linux/arm64: the installer looks for a name containing 'linux', "
                                "'arm64' and '.tar.gz'")


def test_10_two_archives_for_one_target(dist: Dist, run_cli: RunCli) -> None:
    (dist.path / f"{PLUGIN}-linux-amd64-{TAG}-debug.tar.gz").write_bytes(dist.archive(LINUX_AMD64).read_bytes())
    dist.write_checksums()
    assert_flags(dist, run_cli, "2 assets match linux/amd64 for the installer")


def test_10_archive_not_named_by_convention(dist: Dist, run_cli: RunCli) -> None:
    dist.rename(LINUX_AMD64, f"{PLUGIN}_linux_amd64.tar.gz")
    assert_flags(dist, run_cli, f"asset '{PLUGIN}_linux_amd64.tar.gz' for linux/amd64 should be named "
                                f"'{PLUGIN}-linux-amd64-{TAG}.tar.gz'")


def test_10_windows_needs_a_zip(dist: Dist, run_cli: RunCli) -> None:
    dist.rename(WINDOWS_AMD64, f"{PLUGIN}-windows-amd64-{TAG}.tar.gz")
    assert_flags(dist, run_cli, "no asset for windows/amd64: the installer looks for a name containing "
                                "'windows', 'amd64' and '.zip'")


# --- 11: no look-alike assets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".sig", ".sbom.json", ".sha256", ".pem"])
def test_11_sidecar_named_after_an_archive(dist: Dist, run_cli: RunCli, suffix: str) -> None:
    dist.add_asset(dist.name(LINUX_AMD64) + suffix)
    assert_flags(dist, run_cli, f"2 assets match linux/amd64 for the installer ({dist.name(LINUX_AMD64)}")


def test_11_sidecar_without_the_archive_extension_is_refused_as_undeclared(dist: Dist) -> None:
    """The installer would not mistake them for an archive, but publish uploads only what was verified."""
    dist.add_asset(f"{PLUGIN}-linux-amd64-{TAG}.sbom.json")
    dist.add_asset("sbom.spdx.json")
    errors = [p.message for p in dist.verify().errors]
    assert len(errors) == 2, errors
    assert all("is not the archive of a declared target" in e for e in errors), errors


def test_11_arm_matches_arm64_names(tmp_path: Path, run_cli: RunCli) -> None:
    """GOARCH 'arm' is a substring of 'arm64': a 32-bit ARM archive can never sit next to an arm64 one."""
    alone = make_dist(tmp_path / "alone", targets=[Target("linux", "arm"), LINUX_AMD64])
    assert alone.verify().problems == []
    both = make_dist(tmp_path / "both", targets=[Target("linux", "arm"), Target("linux", "arm64")])
    assert_flags(both, run_cli, "2 assets match linux/arm for the installer")


def test_11_arm_installer_would_take_the_arm64_archive(tmp_path: Path, run_cli: RunCli) -> None:
    only64 = make_dist(tmp_path, targets=[Target("linux", "arm64")])
    assert_flags(only64, run_cli, f"asset '{PLUGIN}-linux-arm64-{TAG}.tar.gz' for linux/arm should be named "
                                  f"'{PLUGIN}-linux-arm-{TAG}.tar.gz'", targets=[Target("linux", "arm")])


# --- 12: one checksums.txt, named exactly so --------------------------------------------------------------------

def test_12_no_checksums_file(dist: Dist, run_cli: RunCli) -> None:
    dist.checksums.unlink()
    assert_flags(dist, run_cli, "no checksums.txt asset: the installer refuses the release")


def test_12_checksums_signature_sidecar(dist: Dist, run_cli: RunCli) -> None:
    dist.add_asset("checksums.txt.sigstore.json", b"{}")
    assert_flags(dist, run_cli, "asset names containing 'checksums.txt': checksums.txt, checksums.txt.sigstore.json")


def test_12_goreleaser_style_checksums_name(dist: Dist, run_cli: RunCli) -> None:
    dist.checksums.rename(dist.path / f"{PLUGIN}_1.2.3_checksums.txt")
    assert_flags(dist, run_cli, f"asset names containing 'checksums.txt': {PLUGIN}_1.2.3_checksums.txt")


# --- 13: GNU sha256sum format ----------------------------------------------------------------------------------

def _lines(dist: Dist) -> list[str]:
    return dist.checksums.read_text(encoding="utf-8").splitlines()


def test_13_bsd_format(dist: Dist, run_cli: RunCli) -> None:
    lines = _lines(dist)
    sha, name = lines[0].split("  ")
    lines[0] = f"SHA256 ({name}) = {sha}"
    dist.checksums.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_flags(dist, run_cli, f"line is not GNU sha256sum format '<64 lowercase hex>  <name>': 'SHA256 ({name})")
    [problem] = [p for p in dist.verify().errors if "GNU" in p.message]
    assert (problem.file, problem.line) == (str(dist.checksums), 1)


def test_13_uppercase_hex(dist: Dist, run_cli: RunCli) -> None:
    lines = _lines(dist)
    sha, name = lines[2].split("  ")
    lines[2] = f"{sha.upper()}  {name}"
    dist.checksums.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_flags(dist, run_cli, "line is not GNU sha256sum format")
    assert any(f"the installer reads hash {sha.upper()[:16]}… for {name}" in p.message for p in dist.verify().errors)


def test_13_single_space_separator(dist: Dist, run_cli: RunCli) -> None:
    dist.checksums.write_text(dist.checksums.read_text(encoding="utf-8").replace("  ", " ", 1), encoding="utf-8")
    assert_flags(dist, run_cli, "line is not GNU sha256sum format")


def test_13_binary_mode_star_crlf_and_blank_lines_are_tolerated(dist: Dist) -> None:
    lines = [line.replace("  ", " *") if i % 2 else line for i, line in enumerate(_lines(dist))]
    dist.checksums.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert dist.verify().problems == []


# --- 14: the installer's first matching line is the archive's own --------------------------------------------

def test_14_missing_line_means_silently_skipped_verification(dist: Dist, run_cli: RunCli) -> None:
    name = dist.name(DARWIN_ARM64)
    dist.write_checksums([n for n in dist.archives() if n != name])
    assert_flags(dist, run_cli, f"no line for {name}: the installer would skip verification silently")


def test_14_wrong_hash(dist: Dist, run_cli: RunCli) -> None:
    name = dist.name(LINUX_AMD64)
    real = contract.sha256_file(dist.archive(LINUX_AMD64))
    dist.checksums.write_text(dist.checksums.read_text(encoding="utf-8").replace(real, "f" * 64), encoding="utf-8")
    assert_flags(dist, run_cli, f"the installer reads hash ffffffffffffffff… for {name}, but the file's sha256 is "
                                f"{real[:16]}…")


def test_14_signature_line_listed_first_wins(dist: Dist, run_cli: RunCli) -> None:
    name = dist.name(LINUX_AMD64)
    text = dist.checksums.read_text(encoding="utf-8")
    dist.checksums.write_text(contract.checksum_line("a" * 64, name + ".sig") + "\n" + text, encoding="utf-8")
    assert_flags(dist, run_cli, f"the installer reads hash aaaaaaaaaaaaaaaa… for {name}")


def test_14_another_line_mentions_the_archive(dist: Dist, run_cli: RunCli) -> None:
    name = dist.name(LINUX_AMD64)
    with dist.checksums.open("a", encoding="utf-8") as out:
        out.write(contract.checksum_line("b" * 64, name + ".sbom.json") + "\n")
    assert_flags(dist, run_cli, f"2 lines mention {name}; only its own line may")


# --- 15: regular files and directories only ---------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "word"), [(tarfile.SYMTYPE, "symlink"), (tarfile.LNKTYPE, "hardlink"),
                                            (tarfile.CHRTYPE, "device"), (tarfile.BLKTYPE, "device"),
                                            (tarfile.FIFOTYPE, "device")])
def test_15_link_or_device_member(dist: Dist, run_cli: RunCli, kind: bytes, word: str) -> None:
    members = [*standard_tar_members(LINUX_AMD64), tar_member("extra", None, kind=kind, linkname="LICENSE")]
    dist.rewrite_raw(LINUX_AMD64, tar_gz_writer(members))
    # The installer's own extraction fails on every such type, and the error says so in Go's words.
    assert_flags(dist, run_cli, "a member type the installer refuses (only files and directories): unknown file "
                                "type: extra")


def test_15_pax_global_header(dist: Dist, run_cli: RunCli) -> None:
    """What `git archive` writes: Python applies it silently, Go hands it to the installer, which refuses it."""
    writer = tar_gz_writer(standard_tar_members(LINUX_AMD64), fmt=tarfile.PAX_FORMAT,
                           pax_headers={"comment": "0123456789abcdef0123456789abcdef01234567"})
    path = dist.rewrite_raw(LINUX_AMD64, writer)
    with tarfile.open(path) as tar:  # the header really is there, and Python hides it from the member list
        assert tar.pax_headers and tar.getnames()[0] == PLUGIN
    assert_flags(dist, run_cli, "the installer cannot extract it: a member type the installer refuses (only "
                                "files and directories): unknown file type: ././@PaxHeader")


def _empty_global_header_writer(path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        header = tarfile.TarInfo("pax_global_header")
        header.type = tarfile.XGLTYPE
        tar.addfile(header)
        for info, data in standard_tar_members(LINUX_AMD64):
            tar.addfile(info, io.BytesIO(data or b""))
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))


def test_15_empty_pax_global_header(dist: Dist) -> None:
    dist.rewrite_raw(LINUX_AMD64, _empty_global_header_writer)
    errors = [p.message for p in dist.verify().errors]
    assert any("unknown file type" in m for m in errors), errors


def test_15_pax_extended_headers_for_long_names_are_fine(dist: Dist) -> None:
    long_name = "docs-" + "x" * 150 + ".txt"
    members = [*standard_tar_members(LINUX_AMD64), tar_member(long_name, b"long\n")]
    path = dist.rewrite_raw(LINUX_AMD64, tar_gz_writer(members, fmt=tarfile.PAX_FORMAT))
    assert contract.read_archive(path).members[-1].name == long_name
    assert dist.verify().problems == []


def test_15_symlink_in_a_zip(dist: Dist, run_cli: RunCli) -> None:
    def writer(path: Path) -> None:
        write_zip(path, dist.entries(WINDOWS_AMD64), 0)
        with zipfile.ZipFile(path, "a") as archive:
            link = zipfile.ZipInfo("docs-link")
            link.create_system = 3
            link.external_attr = 0o120777 << 16
            archive.writestr(link, "README.md")

    dist.rewrite_raw(WINDOWS_AMD64, writer)
    assert_flags(dist, run_cli, "a member type the installer refuses (only files and directories): unknown file "
                                "type: docs-link")


# --- 16: no absolute or '..' paths; directory entries first -----------------------------------------------------

@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "../evil", "docs/../../evil"])
def test_16_escaping_paths(dist: Dist, run_cli: RunCli, name: str) -> None:
    members = [*standard_tar_members(LINUX_AMD64), tar_member("docs", None, 0o755, tarfile.DIRTYPE),
               tar_member(name, b"x\n")]
    dist.rewrite_raw(LINUX_AMD64, tar_gz_writer(members))
    assert_flags(dist, run_cli, f"{name!r}" if name.startswith("..") or "/../" in name else
                 f"reading member {name!r}".replace("'", '"'))


def test_16_escaping_path_in_a_zip(dist: Dist, run_cli: RunCli) -> None:
    rewrite_entries(dist, WINDOWS_AMD64, lambda entries: [*entries, Entry("C:/Windows/evil.dll", data=b"x")])
    assert_flags(dist, run_cli, 'reading member "C:/Windows/evil.dll"')


def test_16_file_before_its_directory_entry(dist: Dist, run_cli: RunCli) -> None:
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [*entries, Entry("docs/guide.md", data=b"# guide\n"),
                                                        Entry("docs/", is_dir=True)])
    assert_flags(dist, run_cli, "a file before its directory entry (the installer creates no parents): open "
                                "plugins/docs/guide.md: no such file or directory")


def test_16_directory_entries_first_is_fine(dist: Dist) -> None:
    for target in (LINUX_AMD64, WINDOWS_AMD64):
        rewrite_entries(dist, target, lambda entries: [
            *entries, Entry("docs/", is_dir=True), Entry("docs/img/", is_dir=True),
            Entry("docs/guide.md", data=b"# guide\n"), Entry("docs/img/logo.txt", data=b"logo\n")])
    assert dist.verify().problems == []


# --- 17/18: the binary is named R and is the first path containing R -------------------------------------------

def test_17_binary_with_another_name(dist: Dist, run_cli: RunCli) -> None:
    dist.rewrite(LINUX_AMD64, with_binary(LINUX_AMD64, binary_for(LINUX_AMD64), name=f"{PLUGIN}.bin"))
    assert_flags(dist, run_cli, f"the installer takes '{PLUGIN}.bin' as the binary (first file whose path "
                                f"contains '{PLUGIN}'); the binary must be named '{PLUGIN}' at the archive root")


def test_17_exe_suffix_only_on_windows(dist: Dist, run_cli: RunCli) -> None:
    dist.rewrite(WINDOWS_AMD64, with_binary(WINDOWS_AMD64, binary_for(WINDOWS_AMD64), name=f"{PLUGIN}.exe"))
    assert dist.verify().problems == []
    dist.rewrite(LINUX_AMD64, with_binary(LINUX_AMD64, binary_for(LINUX_AMD64), name=f"{PLUGIN}.exe"))
    assert_flags(dist, run_cli, f"the installer takes '{PLUGIN}.exe' as the binary")


def test_17_binary_in_a_subdirectory(dist: Dist, run_cli: RunCli) -> None:
    binary = binary_for(LINUX_AMD64)
    entries = [Entry("bin/", is_dir=True), *with_binary(LINUX_AMD64, binary, name=f"bin/{PLUGIN}")]
    dist.rewrite(LINUX_AMD64, entries)
    assert_flags(dist, run_cli, f"the installer takes 'bin/{PLUGIN}' as the binary")


def test_17_no_member_named_after_the_plugin(dist: Dist, run_cli: RunCli) -> None:
    dist.rewrite(LINUX_AMD64, with_binary(LINUX_AMD64, binary_for(LINUX_AMD64), name="plugin"))
    assert_flags(dist, run_cli, f"no file's path contains '{PLUGIN}': the installer would record an empty "
                                "localPath")


def test_18_plugin_named_readme_before_the_binary(dist: Dist, run_cli: RunCli) -> None:
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [Entry(f"README-{PLUGIN}.md", data=b"# readme\n"),
                                                        *entries])
    assert_flags(dist, run_cli, f"the installer takes 'README-{PLUGIN}.md' as the binary")


def test_18_plugin_named_directory_before_the_binary(dist: Dist, run_cli: RunCli) -> None:
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [Entry(f"{PLUGIN}-docs/", is_dir=True), *entries])
    assert_flags(dist, run_cli, f"other members contain the plugin name ({PLUGIN}-docs/)")


def test_18_plugin_named_file_after_the_binary(dist: Dist, run_cli: RunCli) -> None:
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [*entries, Entry(f"{PLUGIN}.md", data=b"# doc\n")])
    assert_flags(dist, run_cli, f"other members contain the plugin name ({PLUGIN}.md); keep the binary the only one")


# --- 19: exec bits -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [LINUX_AMD64, DARWIN_ARM64], ids=str)
def test_19_binary_without_exec_bits(dist: Dist, run_cli: RunCli, target: Target) -> None:
    dist.rewrite(target, with_binary(target, binary_for(target), executable=False))
    assert_flags(dist, run_cli, f"binary '{PLUGIN}' has mode 0644 without exec bits; it installs non-executable")


def test_19_exec_bits_do_not_matter_on_windows(dist: Dist) -> None:
    dist.rewrite(WINDOWS_AMD64, with_binary(WINDOWS_AMD64, binary_for(WINDOWS_AMD64), executable=False))
    assert dist.verify().problems == []


# --- 20: members up to 100 MiB ----------------------------------------------------------------------------------

class _Zeros(io.RawIOBase):
    """``size`` zero bytes, streamed: a 100 MiB member without 100 MiB of memory."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_20_member_over_100_mib(dist: Dist, run_cli: RunCli) -> None:
    size = contract.MAX_MEMBER_BYTES + 1

    def writer(path: Path) -> None:
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for info, data in standard_tar_members(LINUX_AMD64):
                tar.addfile(info, io.BytesIO(data or b""))
            big = tarfile.TarInfo("model.bin")
            big.size = size
            tar.addfile(big, _Zeros(size))

    path = dist.rewrite_raw(LINUX_AMD64, writer)
    assert path.stat().st_size < 1 << 20
    assert_flags(dist, run_cli, f"member 'model.bin' is {size} bytes; the installer truncates members over "
                                f"{contract.MAX_MEMBER_BYTES} bytes (100 MiB)")


@pytest.mark.parametrize(("size", "flagged"), [(contract.MAX_MEMBER_BYTES, False),
                                               (contract.MAX_MEMBER_BYTES + 1, True)])
def test_20_limit_is_exactly_100_mib(size: int, flagged: bool) -> None:
    binary = binary_for(LINUX_AMD64)
    contents = ArchiveContents(
        [ArchiveMember(PLUGIN, "file", 0o755, len(binary)), ArchiveMember("model.bin", "file", 0o644, size),
         ArchiveMember(contract.MANIFEST_FILE, "file", 0o644, 10)],
        False, {PLUGIN: binary}, {}, {})
    problems = contract.check_archive(contents, PLUGIN, LINUX_AMD64, "x")
    assert any("100 MiB" in p.message for p in problems) is flagged, problems


# --- 21: the executable matches the target ----------------------------------------------------------------------

@pytest.mark.parametrize(("target", "fmt", "arch", "message"), [
    (LINUX_AMD64, "elf", "arm64", "is elf/arm64, expected elf/amd64 for linux/amd64"),
    (LINUX_AMD64, "pe", "amd64", "is pe/amd64, expected elf/amd64 for linux/amd64"),
    (DARWIN_ARM64, "macho", "amd64", "is macho/amd64, expected macho/arm64 for darwin/arm64"),
    (DARWIN_ARM64, "elf", "arm64", "is elf/arm64, expected macho/arm64 for darwin/arm64"),
    (WINDOWS_AMD64, "elf", "amd64", "is elf/amd64, expected pe/amd64 for windows/amd64"),
    (WINDOWS_AMD64, "pe", "386", "is pe/386, expected pe/amd64 for windows/amd64"),
], ids=lambda v: str(v) if isinstance(v, Target) else None)
def test_21_wrong_executable(dist: Dist, run_cli: RunCli, target: Target, fmt: str, arch: str,
                             message: str) -> None:
    dist.rewrite(target, with_binary(target, fake_executable(fmt, arch, b"wrong build")))
    assert_flags(dist, run_cli, f"binary '{PLUGIN}' {message}")


def test_21_not_an_executable(dist: Dist, run_cli: RunCli) -> None:
    dist.rewrite(LINUX_AMD64, with_binary(LINUX_AMD64, b"#!/bin/sh\necho not a go plugin\n"))
    assert_flags(dist, run_cli, f"binary '{PLUGIN}' is not an ELF, Mach-O or PE executable")


def test_executable_kind_reads_each_header() -> None:
    for fmt, table in (("elf", "amd64 arm64 386 arm riscv64"), ("macho", "amd64 arm64 386 arm"),
                       ("pe", "amd64 arm64 386 arm")):
        for arch in table.split():
            assert contract.executable_kind(fake_executable(fmt, arch)) == (fmt, arch)
    big_endian = bytearray(fake_executable("elf", "amd64"))
    big_endian[5] = 2
    big_endian[18:20] = b"\x00\x3e"
    assert contract.executable_kind(bytes(big_endian)) == ("elf", "amd64")
    assert contract.executable_kind(b"\xce\xfa\xed\xfe\x07\x00\x00\x00") == ("macho", "386")
    odd = bytearray(fake_executable("elf", "amd64"))
    odd[18:20] = b"\x34\x12"
    assert contract.executable_kind(bytes(odd)) == ("elf", "machine-0x1234")
    for truncated in (b"", b"\x7fELF", fake_executable("elf", "amd64")[:19], b"MZ" + bytes(10),
                      fake_executable("pe", "amd64")[:0x44], b"\xcf\xfa\xed\xfe\x07", b"PK\x03\x04" + bytes(60)):
        assert contract.executable_kind(truncated) is None, truncated


# --- 22: the archive is installable with --name (manifest, checksum.txt) ----------------------------------------

def test_22_no_manifest_in_the_archive(dist: Dist, run_cli: RunCli) -> None:
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [e for e in entries if e.name != contract.MANIFEST_FILE])
    assert_flags(dist, run_cli, "no gatewayd_plugin.yaml at the archive root; a local install (--name) needs it")


def test_22_checksum_txt_with_the_wrong_hash(dist: Dist, run_cli: RunCli) -> None:
    wrong = (contract.checksum_line("c" * 64, PLUGIN) + "\n").encode()
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [
        Entry(e.name, data=wrong) if e.name == contract.BINARY_CHECKSUM_FILE else e for e in entries])
    real = contract.read_archive(dist.archive(LINUX_AMD64)).sha256[PLUGIN]
    assert_flags(dist, run_cli, f"checksum.txt does not hold the binary's sha256 {real[:16]}…")


def test_22_missing_checksum_txt_is_only_a_warning(dist: Dist, run_cli: RunCli) -> None:
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [
        e for e in entries if e.name != contract.BINARY_CHECKSUM_FILE])
    problems = dist.verify().problems
    assert [(p.severity, p.message) for p in problems] == [
        ("warning", "no checksum.txt next to the binary (GatewayD docs rule 3)")]
    result = run_cli(*dist.cli_args())
    assert result.returncode == 0
    assert "warning: no checksum.txt next to the binary" in result.stderr


def test_22_embedded_manifest_errors_point_into_the_archive(dist: Dist, run_cli: RunCli) -> None:
    text = manifest_text().replace(f"      - MAGIC_COOKIE_VALUE={contract.MAGIC_COOKIE_VALUE}\n", "")
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [
        Entry(e.name, data=text.encode()) if e.name == contract.MANIFEST_FILE else e for e in entries])
    label = f"{dist.name(LINUX_AMD64)}!{contract.MANIFEST_FILE}"
    [problem] = dist.verify().errors
    assert (problem.file, problem.line) == (label, 7)
    assert_flags(dist, run_cli, "plugins[0].env is missing MAGIC_COOKIE_VALUE")
    assert f"{label}:7: plugins[0].env is missing MAGIC_COOKIE_VALUE" in run_cli(*dist.cli_args()).stderr


def test_22_embedded_manifest_for_another_plugin(dist: Dist, run_cli: RunCli) -> None:
    other = manifest_text("gatewayd-plugin-other").encode()
    rewrite_entries(dist, LINUX_AMD64, lambda entries: [
        Entry(e.name, data=other) if e.name == contract.MANIFEST_FILE else e for e in entries])
    assert_flags(dist, run_cli, f"plugins[0].name is 'gatewayd-plugin-other', expected '{PLUGIN}'")


def test_22_embedded_manifest_for_another_repository(dist: Dist, run_cli: RunCli) -> None:
    errors = [p.message for p in dist.verify(repository=f"someone-else/{PLUGIN}").errors]
    assert len(errors) == 6
    assert all(m.startswith(f"plugins[0].url points at github.com/gatewayd-io/{PLUGIN}, but this repository is "
                            f"someone-else/{PLUGIN}") for m in errors)
    result = run_cli(*dist.cli_args("--repository", f"someone-else/{PLUGIN}"))
    assert result.returncode == 1 and "but this repository is someone-else/" in result.stderr


# --- 23: the version in every asset name is the tag -------------------------------------------------------------

def test_23_verified_against_another_tag(dist: Dist, run_cli: RunCli) -> None:
    assert_flags(dist, run_cli, f"asset '{PLUGIN}-linux-amd64-{TAG}.tar.gz' for linux/amd64 should be named "
                                f"'{PLUGIN}-linux-amd64-v1.2.4.tar.gz'", tag="v1.2.4")


def test_23_one_archive_from_an_older_describe(dist: Dist, run_cli: RunCli) -> None:
    dist.rename(DARWIN_ARM64, f"{PLUGIN}-darwin-arm64-v1.2.2-3-gabcdef0.tar.gz")
    assert_flags(dist, run_cli, f"asset '{PLUGIN}-darwin-arm64-v1.2.2-3-gabcdef0.tar.gz' for darwin/arm64 should "
                                f"be named '{PLUGIN}-darwin-arm64-{TAG}.tar.gz'")


def test_23_prerelease_tag_dist_is_valid(tmp_path: Path, run_cli: RunCli) -> None:
    pre = make_dist(tmp_path, tag="v2.1.0-rc.1")
    assert pre.verify().problems == []
    assert run_cli(*pre.cli_args()).returncode == 0


# --- corrupt archives ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [LINUX_AMD64, WINDOWS_AMD64], ids=str)
def test_corrupt_archive_is_reported_not_a_traceback(dist: Dist, run_cli: RunCli, target: Target) -> None:
    path = dist.archive(target)
    path.write_bytes(path.read_bytes()[:200])
    dist.write_checksums()
    result = run_cli(*dist.cli_args())
    assert result.returncode == 1
    assert dist.name(target) in result.stderr


# --- 1, 2, 8: names, tags and install URLs ----------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["v0.0.0", "v1.2.3", "v10.20.30", "v1.2.3-rc.1", "v1.2.3-0", "v1.2.3-alpha.0.beta",
                                 "v1.2.3-x-y-z.--", "v1.2.3+build", "v1.2.3+build.01", "v1.2.3-rc.1+sha.abc",
                                 "v1.0.0-0A.is.legal"])
def test_valid_tags(tag: str) -> None:
    assert contract.is_valid_tag(tag)


@pytest.mark.parametrize("tag", ["1.2.3", "V1.2.3", "v1.2", "v1", "v01.2.3", "v1.02.3", "v1.2.03", "v1.2.3-01",
                                 "v1.2.3-rc.01", "v1.2.3-", "v1.2.3+", "v1.2.3-rc..1", "v1.2.3-rc_1", "v1.2.3.4",
                                 "v1.2.3 ", "v>=1.2.3", "latest", ""])
def test_invalid_tags(tag: str) -> None:
    assert not contract.is_valid_tag(tag)


@pytest.mark.parametrize(("url", "owner", "repo", "version"), [
    (f"github.com/gatewayd-io/{PLUGIN}", "gatewayd-io", PLUGIN, "latest"),
    (f"github.com/gatewayd-io/{PLUGIN}@latest", "gatewayd-io", PLUGIN, "latest"),
    (f"https://github.com/gatewayd-io/{PLUGIN}@v1.2.3", "gatewayd-io", PLUGIN, "v1.2.3"),
    (f"http://github.com/Org-1/{PLUGIN}@v1.2.3-rc.1+b.2", "Org-1", PLUGIN, "v1.2.3-rc.1+b.2"),
])
def test_install_urls_accepted(url: str, owner: str, repo: str, version: str) -> None:
    match = contract.parse_install_url(url)
    assert match is not None
    assert (match["owner"], match["repo"], match["version"]) == (owner, repo, version)


@pytest.mark.parametrize("url", [
    f"github.com/gatewayd-io/{PLUGIN}@1.2.3", f"github.com/gatewayd-io/{PLUGIN}@v1.2",
    f"github.com/gatewayd-io/{PLUGIN}.git", f"github.com/gatewayd-io/{PLUGIN}/", f"github.com/gatewayd.io/{PLUGIN}",
    "github.com/gatewayd-io/gatewayd_plugin_example", f"gitlab.com/gatewayd-io/{PLUGIN}",
    f"www.github.com/gatewayd-io/{PLUGIN}", f"github.com/gatewayd-io/{PLUGIN}@v1.2.3-01",
    f"github.com/gatewayd-io/{PLUGIN}@v>=1.2.3", f"github.com/{PLUGIN}", f"ssh://github.com/gatewayd-io/{PLUGIN}",
    f"github.com/gatewayd-io/{PLUGIN}@", f"github.com/gatewayd-io/{PLUGIN}@main",
])
def test_install_urls_rejected(url: str) -> None:
    assert contract.parse_install_url(url) is None


def test_owner_and_repo_names() -> None:
    assert all(contract.NAME_RE.match(n) for n in ("gatewayd-io", "A1-b2", "x"))
    assert not any(contract.NAME_RE.match(n) for n in ("gatewayd.io", "a_b", "", "a/b", "ä"))


def test_targets_parse_and_archive_names() -> None:
    assert parse_targets("windows/arm64, linux/amd64 linux/amd64") == [LINUX_AMD64,
                                                                                Target("windows", "arm64")]
    for bad in ("linux", "linux/amd64/v2", "Linux/AMD64", "linux/"):
        with pytest.raises(ValueError, match="GOOS/GOARCH"):
            Target.parse(bad)
    with pytest.raises(ValueError, match="no targets"):
        parse_targets(" , ")
    assert contract.archive_name(PLUGIN, WINDOWS_AMD64, TAG) == f"{PLUGIN}-windows-amd64-{TAG}.zip"
    assert contract.archive_name(PLUGIN, DARWIN_ARM64, TAG) == f"{PLUGIN}-darwin-arm64-{TAG}.tar.gz"


def test_installer_picks_by_substring_in_listed_order() -> None:
    names = [f"{PLUGIN}-linux-arm64-{TAG}.tar.gz.sig", f"{PLUGIN}-linux-arm64-{TAG}.tar.gz", "checksums.txt.sig",
             "checksums.txt"]
    assert contract.installer_pick_archive(names, Target("linux", "arm64")) == names[0]
    assert contract.installer_pick_archive(names, Target("linux", "arm")) == names[0]
    assert contract.installer_pick_archive(names, LINUX_AMD64) is None
    assert contract.installer_pick_checksums(names) == "checksums.txt.sig"
    text = f"{'1' * 64}  {names[0]}\n{'2' * 64}  {names[1]}\n"
    assert contract.installer_checksum_for(text, names[1]) == "1" * 64
    assert contract.installer_checksum_for(text, "other.tar.gz") is None
