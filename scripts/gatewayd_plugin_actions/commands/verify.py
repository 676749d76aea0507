"""``verify``: check a dist/ against every local rule of `gatewayd plugin install` (and, with --gatewayd,
install it for real)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gatewayd_plugin_actions import actions_io, dist, verify
from gatewayd_plugin_actions.commands.common import add_gate, gate_options, targets_arg
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.userfiles import path_arg


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("verify", help="check a dist/ is installable by gatewayd plugin install",
                                   description=__doc__)
    parser.add_argument("--dist", type=path_arg, default=Path("dist"), metavar="DIR", help="default: ./dist")
    parser.add_argument("--version", metavar="TAG", help="expected tag in asset names (default: from dist)")
    parser.add_argument("--name", help="plugin name (default: from dist metadata)")
    parser.add_argument("--targets", metavar="OS/ARCH,...", help="targets that must have an archive")
    parser.add_argument("--repository", metavar="OWNER/NAME", help="repository the manifest must point at")
    parser.add_argument("--project", type=path_arg, default=Path(), metavar="DIR",
                        help="where the gate runs the plugin, as GatewayD run next to it would: relative paths in "
                             "its env and args resolve there (default: the current directory)")
    add_gate(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.dist.resolve()
    meta = dist.load(path)
    name = args.name or (meta.plugin if meta else None)
    if not name:
        raise UserError(f"no plugin name: pass --name (no {path}/{dist.METADATA_FILE} from `release --snapshot`)")
    tag = args.version or (meta.version if meta else None)
    targets = targets_arg(args.targets) if args.targets else dist.targets_of(meta, dist.listed_files(path), name)
    report = verify.verify_dist(path, name, tag, targets, args.repository, gate=gate_options(args))
    for item in report.checked:
        actions_io.progress(f"  checked: {item}")
    actions_io.conclude(report.problems, f"{path} is NOT installable")
    actions_io.progress(f"{path}: installable ({len(targets)} targets)")
    return 0
