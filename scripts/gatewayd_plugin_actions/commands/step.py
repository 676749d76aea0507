"""``step NAME``: what one step of a composite action runs, its inputs read from ``GPA_*`` env (see action_steps)."""

from __future__ import annotations

import argparse

from gatewayd_plugin_actions import action_steps


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("step", help="run one step of the test, test-plugin, release or root action "
                                                "(inputs from GPA_* env)", description=__doc__)
    parser.add_argument("name", choices=sorted(action_steps.STEPS), metavar="NAME",
                        help="one of: " + ", ".join(sorted(action_steps.STEPS)))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return action_steps.run_step(args.name)
