"""``package``: archive the binaries ``build`` left in <dist>/.build and write checksums.txt."""

from __future__ import annotations

import argparse

from gatewayd_plugin_actions.commands.common import add_project
from gatewayd_plugin_actions.release import stages
from gatewayd_plugin_actions.release.context import Options, ReleaseContext
from gatewayd_plugin_actions.userfiles import path_arg


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("package", help="archive built binaries and write checksums.txt",
                                   description=__doc__)
    add_project(parser)
    parser.add_argument("--dist", type=path_arg, metavar="DIR", help="dist directory (default: <project>/dist)")
    parser.add_argument("--extra-files", metavar="PATH", nargs="*", default=[], type=path_arg,
                        help="more files or directories for every archive")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = args.project.resolve()
    options = Options(project=project, dist=(args.dist or project / "dist").resolve(),
                      extra_files=list(args.extra_files), repository=args.repository)
    stages.run_pipeline(stages.PACKAGE, ReleaseContext(options))
    return 0
