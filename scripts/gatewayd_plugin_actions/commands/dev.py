"""``dev``: build the plugin as the release does, run it in a real GatewayD (dev mode, trace logs) in front of
PostgreSQL, print the proxy's psql connection string, stream the plugin's log, and rebuild and reload it on
every source change, until Ctrl-C, which stops everything and removes what it created."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType

from gatewayd_plugin_actions.commands.common import add_gatewayd_run, add_project
from gatewayd_plugin_actions.dev.loop import run_dev
from gatewayd_plugin_actions.integration.engine import IntegrationOptions

# Plugins are pinged at GatewayD's default period: at trace level every ping is a log line.
HEALTH_CHECK_PERIOD = "5s"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dev", help="run the plugin in a local GatewayD, rebuilt and reloaded on changes",
                                   description=__doc__)
    add_project(parser)
    add_gatewayd_run(parser, parser)
    parser.add_argument("--version-variable", metavar="IMPORTPATH.Version",
                        help="as in `release` (default: <module>/plugin.Version when it exists; 'none')")
    parser.add_argument("--build-tags", default="", metavar="TAGS")
    parser.add_argument("--main-package", default=".", metavar="PKG")
    parser.add_argument("--cgo", action="store_true")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR",
                        help="on exit, copy GatewayD's whole log and the generated configs here")
    parser.set_defaults(func=run)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # The first Ctrl-C (or SIGTERM) starts the clean-up; a second one must not cut it short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    options = IntegrationOptions(
        project=args.project.resolve(), gatewayd_version=args.gatewayd_version,
        gatewayd_binary=args.gatewayd_binary, postgres_url=args.postgres_url, plugin_env=list(args.plugin_env),
        plugin_args=args.plugin_args, dev=True, install=False, log_level="trace",
        health_check_period=HEALTH_CHECK_PERIOD, keep_logs=args.keep_logs.resolve() if args.keep_logs else None,
        repository=args.repository, version_variable=args.version_variable, build_tags=args.build_tags,
        main_package=args.main_package, cgo=args.cgo)
    previous = signal.signal(signal.SIGINT, _interrupt), signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_dev(options)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    return 0
