"""GitHub Actions I/O: annotations, step outputs, the step summary, log groups and progress lines.

Outside Actions (``GITHUB_ACTIONS`` unset) annotations degrade to plain lines and outputs/summary are
skipped unless their files are given, so the same CLI reads well in a terminal.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from gatewayd_plugin_actions.errors import Problem, UserError, one_line, split_detail
from gatewayd_plugin_actions.redaction import redact

# Before each line of a tool's own output that a failure carries: it reads as detail, and never as the error line.
DETAIL_PREFIX = "  | "

# GitHub shows only 10 annotations of each kind per step; the rest still go to the log and summary.
MAX_ANNOTATIONS_PER_KIND = 10


def repository(explicit: str | None = None) -> str | None:
    """OWNER/NAME: the one given (--repository), else $GITHUB_REPOSITORY, else None."""
    return explicit or os.environ.get("GITHUB_REPOSITORY") or None


def display_path(path: Path) -> str:
    """The path relative to the workspace (or cwd) so annotations land on the right file."""
    base = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
    try:
        shown = str(path.resolve().relative_to(base))
    except (ValueError, RuntimeError):  # elsewhere, or a symlink loop (named as given, for its error)
        shown = str(path)
    return one_line(shown)


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _emit(line: str, stream: TextIO | None = None) -> None:
    """Every line this tool prints: redacted (no token, no password, whoever built the message), flushed."""
    print(redact(line), file=stream or sys.stdout, flush=True)


def _escape_data(text: str) -> str:
    # Redacted before escaping: an escaped URL (``postgres%3A/alice%3A…@``) no longer looks like one to _emit.
    return redact(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(problem: Problem) -> str:
    """The ``::error file=…,line=…::message`` line for a problem."""
    props: list[str] = []
    if problem.file:
        props.append(f"file={_escape_property(problem.file)}")
    if problem.line:
        props.append(f"line={problem.line}")
    if problem.title:
        props.append(f"title={_escape_property(problem.title)}")
    joined = " " + ",".join(props) if props else ""
    return f"::{problem.severity}{joined}::{_escape_data(problem.message)}"


def _emit_failure(message: str, line_for: Callable[[str], str]) -> None:
    """A message on stderr: the tool output it carries first (prefixed as detail), then its headline as
    ``line_for`` places it, so the last line is the one-line error."""
    headline, detail = split_detail(message)
    for line in detail:
        _emit(f"{DETAIL_PREFIX}{line}".rstrip(), sys.stderr)
    _emit(line_for(headline), sys.stderr)


def report(problems: list[Problem]) -> None:
    """Print problems for humans (stderr: any tool output above each ``file:line: message``) and, on Actions, as
    annotations (stdout, capped per kind: the headline first, the tool output after it)."""
    shown: dict[str, int] = {}
    for problem in problems:
        _emit_failure(problem.message, problem.located)
        if in_actions():
            count = shown.get(problem.severity, 0)
            if count < MAX_ANNOTATIONS_PER_KIND:
                _emit(workflow_command(problem))
            shown[problem.severity] = count + 1


def conclude(problems: list[Problem], failure: str) -> None:
    """The one way a checking stage ends: with errors, raise them all for the CLI to report once (so each
    problem is one annotation); without, report the warnings here and go on."""
    errors = [p for p in problems if p.is_error]
    if errors:
        raise UserError(f"{failure}: {len(errors)} error(s)", problems)
    report(problems)


def error_line(message: str) -> None:
    """The closing ``error: …`` line of a failed command (its problems, and any tool output it carries, above it)."""
    _emit_failure(message, lambda headline: f"error: {headline}")


def progress(message: str) -> None:
    """One line of progress on stderr, flushed at once so long stages show where they are."""
    _emit(message, sys.stderr)


def notice(message: str) -> None:
    if in_actions():
        _emit(f"::notice::{_escape_data(message)}")
    else:
        _emit(f"note: {message}", sys.stderr)


@contextmanager
def group(title: str) -> Iterator[None]:
    if in_actions():
        _emit(f"::group::{_escape_data(title)}")
    else:
        progress(f"== {title}")
    try:
        yield
    finally:
        if in_actions():
            print("::endgroup::", flush=True)


# Open recorders of ``recorded_outputs``: each sees every output set while it is open.
_recorders: list[dict[str, str]] = []


@contextmanager
def recorded_outputs() -> Iterator[dict[str, str]]:
    """Every step output set inside the block, by name (they are still written to ``$GITHUB_OUTPUT``): how the
    toolbox collects a subcommand's outputs into one JSON object without touching the environment."""
    recorder: dict[str, str] = {}
    _recorders.append(recorder)
    try:
        yield recorder
    finally:
        _recorders.remove(recorder)


def set_output(name: str, value: str) -> None:
    """Write a step output; multi-line values use a random heredoc delimiter."""
    for recorder in _recorders:
        recorder[name] = value
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        if "\n" in value:
            delimiter = f"ghadelim_{secrets.token_hex(8)}"
            out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            out.write(f"{name}={value}\n")


# GitHub rejects a step summary over 1 MiB; stay well below it.
SUMMARY_LIMIT_BYTES = 1000 * 1024


def append_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    target = Path(path)
    used = target.stat().st_size if target.exists() else 0
    data = markdown if markdown.endswith("\n") else markdown + "\n"
    if used + len(data.encode()) > SUMMARY_LIMIT_BYTES:
        data = "\n_(summary truncated: GitHub caps step summaries at 1 MiB)_\n"
    with target.open("a", encoding="utf-8") as out:
        out.write(redact(data))


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
