"""``validate``: check gatewayd_plugin.yaml as GatewayD's lint and installer would."""

from __future__ import annotations

import argparse

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.actions_io import display_path
from gatewayd_plugin_actions.commands.common import add_project
from gatewayd_plugin_actions.contract import MANIFEST_FILE
from gatewayd_plugin_actions.errors import Findings
from gatewayd_plugin_actions.manifest import check_manifest
from gatewayd_plugin_actions.userfiles import path_arg


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("validate", help="check gatewayd_plugin.yaml (lint + installer rules)",
                                   description=__doc__)
    add_project(parser)
    parser.add_argument("--file", type=path_arg, help=f"manifest to check (default: <project>/{MANIFEST_FILE})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.file or args.project / MANIFEST_FILE
    manifest, problems = check_manifest(path, actions_io.repository(args.repository))
    actions_io.report(problems)
    findings = Findings(problems)
    shown = display_path(path)
    if findings.errors:
        actions_io.progress(f"{shown}: {len(findings.errors)} error(s), {len(findings.warnings)} warning(s)")
        return 1
    assert manifest is not None
    actions_io.progress(f"{shown}: valid GatewayD plugin manifest for {manifest.plugin_name} "
                        f"({len(findings.warnings)} warning(s))")
    actions_io.set_output("plugin-name", manifest.plugin_name)
    # Legal but surprising, and the root of "my release installs the wrong config" reports.
    install = f"github.com/{manifest.owner or '<owner>'}/{manifest.plugin_name}@<tag>"
    actions_io.notice(f"`gatewayd plugin install {install}` reads "
                      f"{manifest.path.name} from the repository's default branch, not from the tag or the "
                      "archive: merge changes to it before tagging")
    return 0
