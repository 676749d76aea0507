"""``init``: adopt gatewayd-plugin-actions in a plugin repository in one command.

Writes .github/workflows/test.yaml and release.yaml from the templates of this release, replacing the old
release/test workflows it recognises (GatewayD's scaffold, plugin-template-go's descendants, the official
plugins'), runs `go mod tidy` when go.sum lacks entries the release build needs, wires a plugin.Version
variable into PluginID (the patch is shown first), reports manifest problems as `validate` does, and ends with
the commands to commit, push and tag. A second run changes nothing.
"""

from __future__ import annotations

import argparse

from gatewayd_plugin_actions.adopt.init import Options
from gatewayd_plugin_actions.adopt.init import run as run_init
from gatewayd_plugin_actions.commands.common import add_project


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("init", help="adopt the actions in a plugin repository (workflows, go.sum, "
                                                "plugin.Version)", description=__doc__)
    add_project(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the changes as a unified diff and write nothing")
    parser.add_argument("--force", action="store_true",
                        help="also replace a test/release workflow that is not recognised as an old one")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_init(Options(args.project, args.dry_run, args.force, args.repository))
