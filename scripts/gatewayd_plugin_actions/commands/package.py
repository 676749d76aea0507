"""``package``: archive the binaries ``build`` left in <dist>/.build and write checksums.txt."""

from __future__ import annotations

import argparse
from pathlib import Path

from gatewayd_plugin_actions import build, package, pipeline
from gatewayd_plugin_actions.commands.common import add_project
from gatewayd_plugin_actions.context import Binary, Options, ReleaseContext
from gatewayd_plugin_actions.contract import Target, sha256_file
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.verify import read_metadata
from gatewayd_plugin_actions.version import Version


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("package", help="archive built binaries and write checksums.txt",
                                   description=__doc__)
    add_project(parser)
    parser.add_argument("--dist", type=Path, metavar="DIR", help="dist directory (default: <project>/dist)")
    parser.add_argument("--extra-files", metavar="PATH", nargs="*", default=[], type=Path,
                        help="more files or directories for every archive")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = args.project.resolve()
    dist = (args.dist or project / "dist").resolve()
    meta = read_metadata(dist)
    binaries = meta.get("binaries")
    if not isinstance(binaries, list) or not binaries:
        raise UserError(f"{dist} has no built binaries; run `gatewayd-plugin-actions build` first")
    options = Options(project=project, dist=dist, targets=[Target.parse(str(b["target"])) for b in binaries],
                      extra_files=list(args.extra_files), repository=args.repository)
    ctx = ReleaseContext(options)
    pipeline.stage_validate(ctx)
    ctx.version = Version.parse(str(meta["version"]))
    ctx.commit = str(meta.get("commit") or "") or None
    ctx.version_variable = meta.get("version_variable")  # type: ignore[assignment]
    ctx.source_date_epoch = int(str(meta.get("source_date_epoch") or 0))
    archives, built = [], []
    for entry in binaries:
        path = dist / str(entry["path"])
        if not path.is_file():
            raise UserError(f"{path} is missing; was the build artifact downloaded into {dist / build.BUILD_DIR}?")
        binary = Binary(Target.parse(str(entry["target"])), path, sha256_file(path), path.stat().st_size, 0.0)
        archives.append(package.package_target(ctx, binary))
        built.append(binary)
    ctx.archives = archives
    ctx.binaries = built
    package.write_checksums(ctx)
    pipeline.write_metadata(ctx)
    return 0
