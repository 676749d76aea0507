"""The GatewayD installer contract: the one place that knows how ``gatewayd plugin install`` reads a release.

Everything here mirrors GatewayD's ``cmd/plugin_install.go`` (v0.10.3 and v0.11.1 behave the same):
which asset it picks (a *substring* match, first in API order), how it reads ``checksums.txt`` (the
first line that *contains* the asset name), how it extracts an archive (``archive``: read with Go's own
readers) and which extracted file it takes for the binary. The pre-publish ``verify`` stage, the
post-publish check and ``test-plugin``'s GatewayD download all call these instead of re-implementing them.
"""

from __future__ import annotations

from gatewayd_plugin_actions.contract.archive import (
    CHECKER_DIR,
    OUTPUT_DIR,
    ArchiveContents,
    ArchiveError,
    ArchiveMember,
    check_archive,
    check_binary_checksum_file,
    checker_binary,
    describe_installer_error,
    executable_kind,
    expected_format,
    installer_pick_binary,
    read_archive,
    read_archives,
)
from gatewayd_plugin_actions.contract.names import (
    BINARY_CHECKSUM_FILE,
    CHECKSUM_LINE_RE,
    CHECKSUMS_ASSET,
    COOKIE_REFUSAL_MARKERS,
    INSTALL_URL_RE,
    MAGIC_COOKIE_KEY,
    MAGIC_COOKIE_VALUE,
    MANIFEST_FILE,
    MAX_MEMBER_BYTES,
    NAME_RE,
    SEMVER_RE,
    archive_name,
    check_asset_names,
    check_checksums,
    checksum_line,
    installer_checksum_for,
    installer_matches_archive,
    installer_pick_archive,
    installer_pick_checksums,
    is_valid_tag,
    parse_install_url,
    sha256_file,
)

__all__ = [
    "BINARY_CHECKSUM_FILE",
    "CHECKER_DIR",
    "CHECKSUMS_ASSET",
    "CHECKSUM_LINE_RE",
    "COOKIE_REFUSAL_MARKERS",
    "INSTALL_URL_RE",
    "MAGIC_COOKIE_KEY",
    "MAGIC_COOKIE_VALUE",
    "MANIFEST_FILE",
    "MAX_MEMBER_BYTES",
    "NAME_RE",
    "OUTPUT_DIR",
    "SEMVER_RE",
    "ArchiveContents",
    "ArchiveError",
    "ArchiveMember",
    "archive_name",
    "check_archive",
    "check_asset_names",
    "check_binary_checksum_file",
    "check_checksums",
    "checker_binary",
    "checksum_line",
    "describe_installer_error",
    "executable_kind",
    "expected_format",
    "installer_checksum_for",
    "installer_matches_archive",
    "installer_pick_archive",
    "installer_pick_binary",
    "installer_pick_checksums",
    "is_valid_tag",
    "parse_install_url",
    "read_archive",
    "read_archives",
    "sha256_file",
]
