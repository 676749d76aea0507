"""The ``gatewayd-plugin-actions`` command line: one subcommand per pipeline stage.

Bad input and failed checks end as ``UserError``: printed as ``file:line: message`` (plus an annotation
on GitHub Actions) with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Protocol

from gatewayd_plugin_actions import __version__, actions_io
from gatewayd_plugin_actions.commands import COMMANDS, MODULES
from gatewayd_plugin_actions.errors import Problem, UserError, one_line, shorten
from gatewayd_plugin_actions.redaction import redact


class Writable(Protocol):
    """What argparse prints to (typeshed's ``SupportsWrite[str]``, which no installed distribution provides)."""

    def write(self, s: str, /) -> object: ...


class Parser(argparse.ArgumentParser):
    """argparse, whose usage errors quote the value given (``invalid float value: '…'``) on stderr directly:
    its messages pass the same redaction as every other line (a URL given to the wrong option keeps its
    password). Subparsers are made of the same class."""

    def _print_message(self, message: str, file: Writable | None = None) -> None:
        super()._print_message(redact(message), file)

    def error(self, message: str) -> NoReturn:
        """The usage, then ``prog: error: …`` on one line (a value holding a line break is shown escaped)."""
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {shorten(one_line(message))}\n")


def make_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``only`` (a subcommand name) just the module that registers it."""
    parser = Parser(
        prog="gatewayd-plugin-actions",
        description="Build, verify, test and release GatewayD plugins, locally and in GitHub Actions.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    owner = COMMANDS.get(only) if only else None
    for name in (owner,) if owner else MODULES:
        module = importlib.import_module(f"gatewayd_plugin_actions.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    parser = make_parser(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
    try:
        return int(args.func(args))
    except UserError as exc:
        problems = exc.problems or [Problem(exc.message)]
        actions_io.report(problems)
        if exc.problems and exc.message not in {str(p) for p in problems}:
            actions_io.error_line(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
