"""Files a user names (a manifest, release notes, a golangci config, SQL, dist metadata): read only when they are
regular files of a sane size, so a symlink to ``/dev/zero``, a FIFO or a directory is one clear error, not a
hang, an out-of-memory or a traceback."""

from __future__ import annotations

import argparse
import errno
import os
import stat
from pathlib import Path

from gatewayd_plugin_actions.errors import Problem, UserError, shorten

MIB = 1024 * 1024
# What editors on Windows write when asked for "Unicode"; the longer UTF-32 marks first (they begin like UTF-16's).
BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def path_arg(text: str) -> Path:
    """The argparse type of every path option: a path the system cannot even look up (a symlink loop, a name
    longer than the file system allows) is refused where it is named, not deep in a command as an OSError."""
    path = Path(text)
    try:
        path.stat()
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENAMETOOLONG):
            raise argparse.ArgumentTypeError(f"{shorten(text, 120)!r}: {exc.strerror}") from None
    return path


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def regular_file_problem(path: Path, display: str, what: str) -> Problem | None:
    """None when ``path`` is a regular file (symlinks followed); else the problem, naming what it is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Problem(f"{what} not found", display)
    except OSError as exc:
        return Problem(f"cannot read {what}: {exc.strerror or exc}", display)
    if stat.S_ISREG(mode):
        return None
    via = f" (a symlink to {os.path.realpath(path)})" if path.is_symlink() else ""
    return Problem(f"{what} must be a regular file, but this is {kind_of(mode)}{via}", display)


def read_bytes(path: Path, what: str, limit: int, display: str | None = None) -> bytes:
    """The file's bytes, or a ``UserError`` naming the file: missing, not a regular file, or over ``limit``."""
    display = display or str(path)
    problem = regular_file_problem(path, display, what)
    if problem is None:
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)  # never more: the file may grow while we read
        except OSError as exc:
            problem = Problem(f"cannot read {what}: {exc.strerror or exc}", display)
        else:
            if len(data) <= limit:
                return data
            problem = Problem(f"{what} is larger than {limit // MIB or limit} {'MiB' if limit >= MIB else 'bytes'}, "
                              "the most this tool reads; is it the right file?", display)
    raise UserError(str(problem), [problem])


def first_bad_byte(exc: UnicodeDecodeError) -> tuple[int, str]:
    """(line number, hex) of the byte UTF-8 could not decode: where to look, and what is there."""
    return exc.object[: exc.start].count(b"\n") + 1, exc.object[exc.start:exc.start + 1].hex()


def read_text(path: Path, what: str, limit: int, display: str | None = None) -> str:
    """``read_bytes`` decoded as UTF-8; a file in another encoding is one error naming the line of the first bad
    byte."""
    display = display or str(path)
    data = read_bytes(path, what, limit, display)
    for bom, encoding in BYTE_ORDER_MARKS:
        if data.startswith(bom):
            problem = Problem(f"{what} is {encoding} (it starts with the byte-order mark 0x{bom.hex()}); save it as "
                              "UTF-8", display, 1)
            raise UserError(str(problem), [problem])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, bad = first_bad_byte(exc)
        problem = Problem(f"{what} is not UTF-8: byte 0x{bad} cannot be decoded; save it as UTF-8", display, line)
        raise UserError(str(problem), [problem]) from None
