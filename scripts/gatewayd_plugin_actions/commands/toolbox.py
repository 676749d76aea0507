"""``toolbox COMMAND [ARGS]``: what the root action runs, one subcommand by name with an argument string.

The argument string is split with ``shlex`` here, in Python: the shell never evaluates it, so an input
such as ``--project "$(rm -rf ~)"`` stays a literal path. The subcommand writes its step outputs as
usual; they are also collected into one JSON object (``outputs``), because a composite action must
declare its outputs statically.
"""

from __future__ import annotations

import argparse
import json
import shlex

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.redaction import redact_argv

NAME = "toolbox"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(NAME, help="run one subcommand from a command name and an argument string "
                                              "(the root action's entry point)", description=__doc__)
    parser.add_argument("subcommand", metavar="COMMAND", help="a subcommand, e.g. validate, verify, release")
    parser.add_argument("args", nargs="?", default="", metavar="ARGS",
                        help="its arguments as one string, split like a POSIX shell would (no expansion)")
    parser.set_defaults(func=run)


def split_args(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise UserError(f"args {text!r} cannot be split: {exc} (quote with ' or \")") from None


def known_commands(parser_actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[str]:
    return sorted(parser_actions.choices)


def run(args: argparse.Namespace) -> int:
    from gatewayd_plugin_actions import cli  # noqa: PLC0415 - cli imports this module

    name = args.subcommand.strip()
    parser = cli.make_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = [c for c in known_commands(subparsers) if c != NAME]
    if name not in commands:
        raise UserError(f"unknown command {name!r}; one of: {', '.join(commands)}")
    argv = [name, *split_args(args.args)]
    actions_io.progress(f"$ gatewayd-plugin-actions {redact_argv(argv)}")
    with actions_io.recorded_outputs() as outputs:
        code = cli.main(argv)
    actions_io.set_output("outputs", json.dumps(outputs, sort_keys=True))
    actions_io.set_output("exit-code", str(code))
    return code
