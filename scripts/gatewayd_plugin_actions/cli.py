"""The ``gatewayd-plugin-actions`` command line: one subcommand per pipeline stage.

Bad input and failed checks end as ``UserError``: printed as ``file:line: message`` (plus an annotation
on GitHub Actions) with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gatewayd_plugin_actions import __version__, actions_io
from gatewayd_plugin_actions.errors import Problem, UserError

# Each module registers its own subcommand(s).
COMMAND_MODULES = (
    "validate",
    "build",
    "package",
    "verify",
    "release",
    "publish",
    "go_test",
    "toolbox",
    "test_plugin",
)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatewayd-plugin-actions",
        description="Build, verify, test and release GatewayD plugins, locally and in GitHub Actions.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"gatewayd_plugin_actions.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        problems = exc.problems or [Problem(exc.message)]
        actions_io.report(problems)
        if exc.problems and exc.message not in {str(p) for p in problems}:
            print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
