"""``build``: cross-compile the plugin into <dist>/.build/<os>-<arch>/ (``package`` archives them)."""

from __future__ import annotations

import argparse

from gatewayd_plugin_actions.commands.common import add_build, add_project, options_from
from gatewayd_plugin_actions.release import stages
from gatewayd_plugin_actions.release.context import ReleaseContext


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("build", help="cross-compile the plugin for every target",
                                   description=__doc__)
    add_project(parser)
    add_build(parser)
    parser.add_argument("--snapshot", action="store_true", help="allow an untagged HEAD (snapshot version)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stages.run_pipeline(stages.BUILD, ReleaseContext(options_from(args, snapshot=args.snapshot)))
    return 0
