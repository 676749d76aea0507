"""``package``: archive the binaries ``build`` left in <dist>/.build and write checksums.txt."""

from __future__ import annotations

import argparse
from pathlib import Path

from gatewayd_plugin_actions import dist
from gatewayd_plugin_actions.commands.common import add_project
from gatewayd_plugin_actions.contract import sha256_file
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.release import package, stages
from gatewayd_plugin_actions.release.context import Binary, Options, ReleaseContext
from gatewayd_plugin_actions.semver import Version


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
    path = (args.dist or project / "dist").resolve()
    meta = dist.load(path) if path.is_dir() else None
    if meta is None or not meta.binaries:
        raise UserError(f"{path} has no built binaries; run `gatewayd-plugin-actions build` first")
    options = Options(project=project, dist=path, targets=[b.target for b in meta.binaries],
                      extra_files=list(args.extra_files), repository=args.repository)
    ctx = ReleaseContext(options)
    stages.stage_validate(ctx)
    ctx.version = Version.parse(meta.version)
    ctx.commit = meta.commit
    ctx.version_variable = meta.version_variable
    ctx.source_date_epoch = meta.source_date_epoch
    archives, built = [], []
    for staged in meta.binaries:
        binary_path = path / staged.path
        if not binary_path.is_file():
            raise UserError(f"{binary_path} is missing; was the build artifact downloaded into "
                            f"{path / dist.BUILD_DIR}?")
        binary = Binary(staged.target, binary_path, sha256_file(binary_path), binary_path.stat().st_size, 0.0)
        archives.append(package.package_target(ctx, binary))
        built.append(binary)
    ctx.archives = archives
    ctx.binaries = built
    stages.write_checksums(ctx)
    stages.write_metadata(ctx)
    return 0
