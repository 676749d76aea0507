"""``verify``: check a dist/ against every local rule of `gatewayd plugin install` (and, with --gatewayd,
install it for real)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gatewayd_plugin_actions import actions_io, verify
from gatewayd_plugin_actions.commands.common import targets_arg
from gatewayd_plugin_actions.errors import Findings, UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("verify", help="check a dist/ is installable by gatewayd plugin install",
                                   description=__doc__)
    parser.add_argument("--dist", type=Path, default=Path("dist"), metavar="DIR", help="default: ./dist")
    parser.add_argument("--version", metavar="TAG", help="expected tag in asset names (default: from dist)")
    parser.add_argument("--name", help="plugin name (default: from dist metadata)")
    parser.add_argument("--targets", metavar="OS/ARCH,...", help="targets that must have an archive")
    parser.add_argument("--repository", metavar="OWNER/NAME", help="repository the manifest must point at")
    parser.add_argument("--gatewayd", type=Path, metavar="PATH",
                        help="a GatewayD binary: also run the real install round-trip and handshake")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dist = args.dist.resolve()
    meta = verify.read_metadata(dist)
    name = args.name or meta.get("plugin")
    if not isinstance(name, str) or not name:
        raise UserError(f"no plugin name: pass --name (no {dist}/metadata.json from `release --snapshot`)")
    tag = args.version or meta.get("version")
    if args.targets:
        targets = targets_arg(args.targets)
    else:
        targets = verify.dist_targets(meta, verify.uploadable_files(dist), name)
    if args.gatewayd is not None and not args.gatewayd.is_file():
        raise UserError(f"--gatewayd {args.gatewayd}: no such file")
    report = verify.verify_dist(dist, name, tag if isinstance(tag, str) else None, targets, args.repository,
                                args.gatewayd.resolve() if args.gatewayd else None)
    actions_io.report(report.problems)
    errors = Findings(report.problems).errors
    for item in report.checked:
        actions_io.progress(f"  checked: {item}")
    if errors:
        actions_io.progress(f"{dist}: NOT installable ({len(errors)} error(s))")
        return 1
    actions_io.progress(f"{dist}: installable ({len(targets)} targets)")
    return 0
