"""A binary the gate has just written is started even while a descriptor for writing it is still open somewhere
(a child forked by another thread holds one until it execs): exec's ETXTBSY is waited out, not reported."""

from __future__ import annotations

import errno
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from gatewayd_plugin_actions import goplugin


def _fresh_copy_of_true(tmp_path: Path) -> Path:
    binary = tmp_path / "plugin"
    shutil.copyfile(shutil.which("true") or "/bin/true", binary)
    binary.chmod(0o755)
    return binary


def test_exec_of_a_binary_open_for_writing_is_text_file_busy(tmp_path: Path) -> None:
    """The kernel behaviour the helper exists for: without waiting, exec fails."""
    binary = _fresh_copy_of_true(tmp_path)
    with binary.open("ab"), pytest.raises(OSError) as raised:
        subprocess.Popen([str(binary)])
    assert raised.value.errno == errno.ETXTBSY


def test_a_busy_binary_is_started_once_the_writer_lets_go(tmp_path: Path) -> None:
    binary = _fresh_copy_of_true(tmp_path)
    writer = binary.open("ab")
    release = threading.Timer(0.3, writer.close)
    release.start()
    try:
        process = goplugin.start_fresh_binary([str(binary)])
        assert process.wait(timeout=10) == 0
    finally:
        release.cancel()
        writer.close()


def test_a_binary_that_stays_busy_is_an_error_after_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(goplugin, "TEXT_BUSY_WAIT_SECONDS", 0.2)
    binary = _fresh_copy_of_true(tmp_path)
    with binary.open("ab"):
        result = goplugin.refuses_without_cookie(binary, timeout=5)
    assert not result.ok and "Text file busy" in result.reason, result.reason
