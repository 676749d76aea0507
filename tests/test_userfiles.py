"""Files a user names are read only when regular and of a sane size; messages are one line and cut when long;
no secret is printed by the reporter, whoever built the message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gatewayd_plugin_actions import actions_io, userfiles
from gatewayd_plugin_actions.errors import MESSAGE_LIMIT, Problem, UserError, shorten
from gatewayd_plugin_actions.manifest import check_manifest
from gatewayd_plugin_actions.publish.flow import NOTES_FILE_LIMIT
from gatewayd_plugin_actions.redaction import redact, register_secret


def test_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("héllo", encoding="utf-8")
    assert userfiles.read_text(tmp_path / "f", "the file", 100) == "héllo"


@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: p.symlink_to("/dev/zero"), "a character device (a symlink to /dev/zero)"),
    (lambda p: p.mkdir(), "a directory"),
    (os.mkfifo, "a named pipe (FIFO)"),
])
def test_anything_but_a_regular_file_is_named_not_read(tmp_path: Path, make: object, kind: str) -> None:
    path = tmp_path / "gatewayd_plugin.yaml"
    make(path)  # type: ignore[operator]
    with pytest.raises(UserError) as caught:
        userfiles.read_bytes(path, "the plugin manifest", 1024)
    assert caught.value.message == f"{path}: the plugin manifest must be a regular file, but this is {kind}"
    _, problems = check_manifest(path)  # the manifest check says the same, and returns at once
    assert [p.message for p in problems] == [f"the plugin manifest must be a regular file, but this is {kind}"]


def test_too_large_and_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 2049)
    with pytest.raises(UserError, match="the notes is larger than 2048 bytes"):
        userfiles.read_bytes(tmp_path / "big", "the notes", 2048)
    (tmp_path / "latin1").write_bytes("line one\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError) as caught:
        userfiles.read_text(tmp_path / "latin1", "the --notes-file", NOTES_FILE_LIMIT)
    [problem] = caught.value.problems
    assert (problem.line, problem.message) == (2, "the --notes-file is not UTF-8: byte 0xe9 cannot be decoded; "
                                                  "save it as UTF-8")


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")])
def test_a_file_saved_as_utf16_or_utf32_is_named_so(tmp_path: Path, encoding: str, name: str) -> None:
    """What a Windows editor writes for "Unicode": named for what it is, not as a bad byte somewhere."""
    text = "plugins:\n  - name: x\n"
    data = text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode("utf-16-be")
    (tmp_path / "gatewayd_plugin.yaml").write_bytes(data)
    with pytest.raises(UserError) as caught:
        userfiles.read_text(tmp_path / "gatewayd_plugin.yaml", "gatewayd_plugin.yaml", 1024)
    [problem] = caught.value.problems
    assert problem.line == 1
    assert problem.message.startswith(f"gatewayd_plugin.yaml is {name} (it starts with the byte-order mark 0x")
    assert problem.message.endswith("save it as UTF-8")


def test_long_values_are_cut_in_every_message() -> None:
    value = "x" * 8 * 1024 * 1024
    problem = Problem(f"plugins[0].name {value!r} must match [A-Za-z0-9-]+", "gatewayd_plugin.yaml", 2)
    assert len(problem.message) < MESSAGE_LIMIT + 40 and problem.message.endswith("more characters)")
    assert len(UserError(value).message) < MESSAGE_LIMIT + 40
    assert shorten("short") == "short"


def test_the_reporter_never_prints_a_secret(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    register_secret("s3cr3t-token-value")
    actions_io.report([Problem("push with s3cr3t-token-value failed", "x.yaml", 1)])
    actions_io.progress("connecting to postgres://alice:p@ss@127.0.0.1:5432/db")
    actions_io.notice("Authorization: Bearer ghp_" + "a" * 36)
    actions_io.error_line("https://user:pw@example.invalid/x failed")
    out = capsys.readouterr()
    text = out.out + out.err
    for secret in ("s3cr3t-token-value", "p@ss", ":pw@", "ghp_" + "a" * 36):
        assert secret not in text
    assert "postgres://***@127.0.0.1:5432/db" in text
    assert redact("no secrets here: github.com/o/r@v1.0.0") == "no secrets here: github.com/o/r@v1.0.0"
