"""Arguments several subcommands share, parsed into the pipeline's ``Options``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.goplugin import parse_plugin_env
from gatewayd_plugin_actions.release.context import Options
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS, Target, parse_targets
from gatewayd_plugin_actions.userfiles import path_arg
from gatewayd_plugin_actions.verify import GATE_TIMEOUT_SECONDS, GateOptions


def add_project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", type=path_arg, default=Path(), metavar="DIR",
                        help="the plugin's repository root (default: the current directory)")
    parser.add_argument("--repository", metavar="OWNER/NAME",
                        help="GitHub repository the plugin is installed from (default: $GITHUB_REPOSITORY, "
                             "else the manifest's url)")


def add_gatewayd_run(gatewayd: argparse._ActionsContainer, plugin: argparse._ActionsContainer) -> None:
    """Which GatewayD and PostgreSQL a plugin runs in, and its settings there (test-plugin, dev)."""
    gatewayd.add_argument("--gatewayd-version", default="latest", metavar="TAG",
                          help="release of gatewayd-io/gatewayd to download and verify (default: latest)")
    gatewayd.add_argument("--gatewayd-binary", type=path_arg, metavar="PATH",
                          help="use this GatewayD binary instead of downloading a release")
    gatewayd.add_argument("--postgres-url", metavar="URL",
                          help="an existing PostgreSQL (postgres://user:pass@host:port/db); default: start a "
                               "throwaway server on 127.0.0.1")
    plugin.add_argument("--plugin-env", action="extend", nargs="+", default=[], metavar="K=V",
                        help="set or override env entries of the plugin (repeatable)")
    plugin.add_argument("--plugin-args", metavar="'ARGS'",
                        help="replace the plugin's args (one shell-quoted string, e.g. '--log-level debug')")


def add_build(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", metavar="TAG", help="release tag, e.g. v1.2.3 (default: the tag on HEAD)")
    parser.add_argument("--targets", metavar="OS/ARCH,...", default=",".join(str(t) for t in DEFAULT_TARGETS),
                        help="platforms to build (default: %(default)s)")
    parser.add_argument("--version-variable", metavar="IMPORTPATH.Version",
                        help="string variable set with -X to the version without 'v' (default: "
                             "<module>/plugin.Version when it exists; 'none' to disable)")
    parser.add_argument("--cgo", action="store_true", help="build with CGO_ENABLED=1 (needs cross compilers)")
    parser.add_argument("--exe-suffix", action="store_true", help="name Windows binaries <name>.exe")
    parser.add_argument("--extra-files", metavar="PATH", nargs="*", default=[], type=path_arg,
                        help="more files or directories for every archive (files go to the archive root)")
    parser.add_argument("--main-package", default=".", metavar="PKG", help="package to build (default: .)")
    parser.add_argument("--build-tags", default="", metavar="TAGS", help="go build -tags value")
    parser.add_argument("--ldflags", dest="extra_ldflags", default="", metavar="FLAGS",
                        help="extra -ldflags appended after '-s -w -X …'")
    parser.add_argument("--dist", type=path_arg, metavar="DIR", help="output directory (default: <project>/dist)")
    parser.add_argument("--jobs", type=int, default=0, metavar="N",
                        help="targets built at once (default: one per CPU)")


def add_gate(parser: argparse.ArgumentParser) -> None:
    """The release gate: the host build is started as GatewayD starts it before anything is published."""
    gate = parser.add_argument_group("release gate")
    gate.add_argument("--plugin-env", action="append", default=[], metavar="K=V",
                      help="an env setting the plugin needs to start (repeatable; one value may hold several "
                           "lines); added to the manifest's env for the gate's start")
    gate.add_argument("--gate-timeout", type=float, default=GATE_TIMEOUT_SECONDS, metavar="SECONDS",
                      help="how long the plugin may take to answer the go-plugin handshake (default: "
                           "%(default)s)")
    gate.add_argument("--no-gate", dest="gate", action="store_false",
                      help="do not start the plugin (a dist whose platform cannot run here, e.g. cgo builds)")
    gate.add_argument("--gatewayd-version", metavar="TAG",
                      help="also install the host archive with the real `gatewayd plugin install` of this "
                           "gatewayd-io/gatewayd release (a tag, or latest; downloaded, checksum-verified, cached) "
                           "and load it in that GatewayD against PostgreSQL (default: none)")
    gate.add_argument("--gatewayd-binary", "--gatewayd", dest="gatewayd_binary", type=path_arg, metavar="PATH",
                      help="the same with a GatewayD binary already on this machine")
    gate.add_argument("--postgres-url", metavar="URL",
                      help="PostgreSQL for the load in GatewayD (default: a throwaway server on 127.0.0.1)")


def gate_options(args: argparse.Namespace) -> GateOptions:
    """The gate's settings; a GatewayD to load the plugin in is found (downloaded if need be) now, before
    anything is built, so a wrong version fails in seconds."""
    if not 0 < args.gate_timeout <= 600:
        raise UserError(f"--gate-timeout {args.gate_timeout}: expected seconds between 0 and 600")
    # The plugin runs in the repository (--project; verify and publish: the current directory), as GatewayD run
    # there would run it: relative paths in its env and args resolve against it.
    options = GateOptions(enabled=args.gate, plugin_env=dict(parse_plugin_env(args.plugin_env)),
                          timeout=args.gate_timeout, postgres_url=args.postgres_url,
                          workdir=Path(getattr(args, "project", None) or Path()).resolve())
    version = (args.gatewayd_version or "").strip()
    if version.lower() == "none":
        version = ""
    if args.gatewayd_binary is None and not version:
        return options
    if args.gatewayd_binary is not None and version:
        raise UserError("--gatewayd-binary and --gatewayd-version name two GatewayDs; pass one")
    if not args.gate:
        raise UserError("--no-gate skips starting the plugin, so it cannot also be loaded in GatewayD; drop "
                        "--no-gate or the GatewayD option")
    # Imported on use: only a load in GatewayD needs the release download (and its GitHub client).
    from gatewayd_plugin_actions.gatewayd import download, postgres  # noqa: PLC0415

    if args.postgres_url is None and postgres.find_bindir() is None:
        raise UserError("the load in GatewayD needs PostgreSQL, and none is installed here (initdb/postgres; "
                        "Debian/Ubuntu: postgresql): install it, pass --postgres-url, or skip the load with "
                        "--gatewayd-version none (the action's gatewayd-version: none)")
    got = (download.from_path(args.gatewayd_binary) if args.gatewayd_binary is not None
           else download.fetch(version))
    options.gatewayd = got.path
    return options


def targets_arg(text: str) -> list[Target]:
    """``--targets`` as given on the command line; a bad pair is a one-line error."""
    try:
        return parse_targets(text)
    except ValueError as exc:
        raise UserError(f"--targets: {exc}") from None


def options_from(args: argparse.Namespace, snapshot: bool) -> Options:
    project = args.project.resolve()
    if not project.is_dir():
        raise UserError(f"project directory {args.project} does not exist")
    targets = targets_arg(args.targets)
    return Options(
        project=project,
        dist=(args.dist or project / "dist").resolve(),
        version=args.version,
        targets=targets,
        version_variable=args.version_variable,
        cgo=args.cgo,
        exe_suffix=args.exe_suffix,
        extra_files=list(args.extra_files),
        main_package=args.main_package,
        build_tags=args.build_tags,
        extra_ldflags=args.extra_ldflags,
        repository=args.repository,
        snapshot=snapshot,
        jobs=args.jobs,
        gate=gate_options(args) if hasattr(args, "gate") else GateOptions(),
    )
