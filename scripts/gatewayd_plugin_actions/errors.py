"""Problems found in a user's input, and the exception that carries them to the CLI.

A ``Problem`` is something a plugin author must fix (or should look at, for warnings). The CLI prints
each as ``file:line: message`` and, on GitHub Actions, as a workflow annotation; it never shows a
traceback for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "notice"]

# A message longer than this is cut: an 8 MiB field value echoed in full helps nobody and floods the log.
MESSAGE_LIMIT = 2000


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def last_lines(text: str, limit: int = 500) -> str:
    """The end of a program's output in about ``limit`` characters, cut at a line boundary (a tail cut
    mid-line starts with half a word or half a JSON object): the last whole lines that fit, or when even the
    last line is longer, that line shortened at its end."""
    lines = text.strip().splitlines()
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        if kept and used + len(line) + 1 > limit:
            break
        kept.append(line)
        used += len(line) + 1
    if len(kept) == 1 and len(kept[0]) > limit:
        kept[0] = shorten(kept[0], limit)
    return "\n".join(reversed(kept))


def with_output(headline: str, output: str, limit: int = 500) -> str:
    """``headline`` followed by the end of a tool's ``output`` on the lines after it (see :func:`split_detail`:
    the reporter prints them above the headline); just the headline when the tool printed nothing."""
    tail = last_lines(output, limit)
    return f"{headline}:\n{tail}" if tail else headline


def one_line(text: str) -> str:
    """``text`` as one line: a line break inside a value (a path, an argument) is shown escaped, so the line
    that names it stays one line for a log, an annotation and a test."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def split_detail(message: str) -> tuple[str, list[str]]:
    """A message's headline (its first line) and the lines after it: the tool's own output (a ``go build`` compile
    error, initdb's, govulncheck's) that a failure carries. The reporter prints the detail first and the headline
    last, so a failure's last line names what failed; a headline that ended with ``:`` (its output followed) says
    where its output is instead."""
    headline, *detail = message.rstrip().splitlines() or [""]
    if detail:
        headline = f"{headline.rstrip().removesuffix(':')} (output above)"
    return headline, detail


def first_few(items: list[str], limit: int = 5) -> str:
    """``a, b, c and 4 more``: a list named in a message without flooding it."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


@dataclass(frozen=True)
class Problem:
    message: str
    file: str | None = None
    line: int | None = None
    severity: Severity = "error"
    title: str | None = None

    def __post_init__(self) -> None:
        # The message may end with a tool's own output (go build, initdb) on lines of its own: kept readable.
        object.__setattr__(self, "message", shorten(self.message))
        if self.file is not None:
            object.__setattr__(self, "file", shorten(one_line(self.file), 500))

    def __str__(self) -> str:
        return self.located(self.message)

    def located(self, message: str) -> str:
        """``file:line: message`` (``warning: `` before a warning's message) for this problem's place."""
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}{prefix}{message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class UserError(Exception):
    """Bad input or a failed check: the CLI reports it and exits non-zero, without a traceback."""

    def __init__(self, message: str, problems: Iterable[Problem] = (), exit_code: int = 1) -> None:
        message = shorten(message)
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.exit_code = exit_code


@dataclass
class Findings:
    """An ordered list of problems gathered by a checking stage."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(message, file, line, "error"))

    def warning(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(message, file, line, "warning"))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def raise_if_errors(self, summary: str) -> None:
        if self.errors:
            raise UserError(f"{summary}: {len(self.errors)} error(s)", self.problems)
