"""Each release stage on its own, in-process: a context built from ``Options`` as the CLI builds it, one
stage run, then what it added to the context (GoReleaser's pipe tests). The pipelines end to end are in
``tests/e2e/test_release_snapshot.py``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from gatewayd_plugin_actions import dist
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.release import stages
from gatewayd_plugin_actions.release.context import Options, ReleaseContext
from gatewayd_plugin_actions.targets import Target

VERSION_VARIABLE = "github.com/gatewayd-plugin-actions/gatewayd-plugin-example/plugin.Version"


@pytest.fixture(autouse=True)
def outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_REF_TYPE", "GITHUB_REF_NAME", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS",
                 "GITHUB_REPOSITORY", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)


def context(project: Path, **options: object) -> ReleaseContext:
    return ReleaseContext(Options(project=project, dist=project / "dist", **options))  # type: ignore[arg-type]


def resolve_version(ctx: ReleaseContext) -> None:
    """The version stage, after the validate stage it follows in every pipeline."""
    stages.Validate().run(ctx)
    stages.ResolveVersion().run(ctx)


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_validate_loads_the_manifest(example_project: Path) -> None:
    ctx = context(example_project)
    stages.Validate().run(ctx)
    assert ctx.manifest is not None and ctx.plugin_name == "gatewayd-plugin-example"


def test_validate_refuses_a_broken_manifest_naming_the_line(example_project: Path) -> None:
    manifest = example_project / "gatewayd_plugin.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("MAGIC_COOKIE_VALUE", "MAGIC_COOKIE_VALUX"),
                        encoding="utf-8")
    with pytest.raises(UserError) as caught:
        stages.Validate().run(context(example_project))
    [problem] = caught.value.problems
    assert (Path(str(problem.file)).name, problem.line) == ("gatewayd_plugin.yaml", 33)
    assert problem.message.startswith("plugins[0].env is missing MAGIC_COOKIE_VALUE")


def test_version_from_options_wins_and_is_injected(example_project: Path) -> None:
    git(example_project, "tag", "v0.9.0")
    ctx = context(example_project, version="v1.2.3-rc.1")
    resolve_version(ctx)
    assert ctx.tag == "v1.2.3-rc.1" and ctx.version is not None and ctx.version.is_prerelease
    assert ctx.commit == git(example_project, "rev-parse", "HEAD")
    assert ctx.version_variable == VERSION_VARIABLE
    assert ctx.source_date_epoch == int(git(example_project, "log", "-1", "--format=%ct"))


def test_version_of_a_tag_push(example_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REF_TYPE", "tag")
    monkeypatch.setenv("GITHUB_REF_NAME", "v2.0.0")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    ctx = context(example_project)
    resolve_version(ctx)
    assert (ctx.tag, ctx.source_date_epoch) == ("v2.0.0", 1700000000)


def test_version_is_the_highest_semver_tag_on_head(example_project: Path) -> None:
    for tag in ("v1.10.0", "v1.9.0", "v1.10.0-rc.1", "not-a-version"):
        git(example_project, "tag", tag)
    ctx = context(example_project)
    resolve_version(ctx)
    assert ctx.tag == "v1.10.0"  # semver order, not string order; v1.10.0 > its own rc


def test_untagged_snapshot_is_named_after_the_last_tag_and_the_commit(example_project: Path) -> None:
    git(example_project, "tag", "v0.3.1")
    (example_project / "NOTES").write_text("later\n", encoding="utf-8")
    git(example_project, "add", "NOTES")
    git(example_project, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "later")
    ctx = context(example_project, snapshot=True)
    resolve_version(ctx)
    assert ctx.tag == f"v0.3.1-snapshot.g{git(example_project, 'rev-parse', '--short=7', 'HEAD')}"


def test_untagged_release_is_refused_with_the_fix(example_project: Path) -> None:
    with pytest.raises(UserError, match=re.escape("pass --version vX.Y.Z, push a tag")):
        resolve_version(context(example_project))


def test_a_bad_version_is_refused(example_project: Path) -> None:
    with pytest.raises(UserError):
        resolve_version(context(example_project, version="1.2"))


def test_no_version_variable_is_a_notice_not_a_failure(example_project: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    module = example_project / "plugin" / "module.go"
    module.write_text(module.read_text(encoding="utf-8").replace('var Version = "0.0.0-dev"',
                                                                 'const Version = "0.0.0-dev"'), encoding="utf-8")
    ctx = context(example_project, version="v1.0.0")
    resolve_version(ctx)
    assert ctx.version_variable is None
    assert "no plugin.Version variable found" in capsys.readouterr().err


def test_restore_without_a_build_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="run `gatewayd-plugin-actions build` first"):
        stages.RestoreBuild().run(context(tmp_path))


def test_restore_reads_what_the_build_recorded_and_misses_nothing(tmp_path: Path) -> None:
    project = tmp_path / "plugin"
    project.mkdir()
    dist.prepare(project / "dist")
    staged = project / "dist" / dist.BUILD_DIR / "linux-amd64" / "plugin"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"\x7fELF binary")
    target = Target("linux", "amd64")
    meta = dist.DistMetadata(plugin="gatewayd-plugin-example", version="v1.2.3", targets=[target], commit="abc",
                             source_date_epoch=1234, version_variable=VERSION_VARIABLE,
                             binaries=[dist.StagedBinary(target, staged.relative_to(project / "dist").as_posix(),
                                                         "0" * 64, len(b"\x7fELF binary"))])
    dist.save(project / "dist", meta)
    ctx = context(project, targets=[Target("windows", "arm64")])
    stages.RestoreBuild().run(ctx)
    assert ctx.options.targets == [target]  # the build's targets, not the options'
    assert (ctx.tag, ctx.commit, ctx.source_date_epoch, ctx.version_variable) == (
        "v1.2.3", "abc", 1234, VERSION_VARIABLE)
    assert [(b.target, b.path, b.size) for b in ctx.binaries] == [(target, staged, len(b"\x7fELF binary"))]
    staged.unlink()
    with pytest.raises(UserError, match="was the build artifact downloaded"):
        stages.RestoreBuild().run(context(project))


def test_a_snapshot_skips_preflight_and_publish_saying_why(tmp_path: Path) -> None:
    ctx = context(tmp_path, snapshot=True)
    assert stages.Preflight().skip(ctx) == "nothing is published"
    assert stages.Publish().skip(ctx) == "a snapshot publishes nothing"


def test_host_build_packs_one_archive_and_keeps_the_binary(example_project: Path) -> None:
    ctx = context(example_project, version="v1.0.0")
    stages.run_pipeline([*stages.PLAN, *stages.HOST_BUILD], ctx)
    assert len(ctx.binaries) == 1 and ctx.binaries[0].path.is_file()
    assert [a.path.is_file() for a in ctx.archives] == [True]
    assert not (ctx.options.dist / dist.METADATA_FILE).exists()  # not a dist: nothing to publish from it


# --- hardening: what used to pass silently or end in a traceback ----------------------------------------

def test_ldflags_that_set_the_version_variable_are_refused(example_project: Path) -> None:
    ctx = context(example_project, version="v1.2.3", extra_ldflags=f"-s -X {VERSION_VARIABLE}=9.9.9")
    with pytest.raises(UserError, match=re.escape(f"--ldflags sets {VERSION_VARIABLE}")):
        resolve_version(ctx)


def test_a_tag_too_long_for_an_archive_name_is_refused_before_building(example_project: Path) -> None:
    ctx = context(example_project, version="v1.0.0-" + "a" * 300)
    with pytest.raises(UserError, match="over the 247 a release asset file may have; shorten the tag") as caught:
        resolve_version(ctx)
    assert len(caught.value.message) < 300  # the tag is not echoed in full


def test_a_tag_on_head_that_is_not_semver_is_named(example_project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    git(example_project, "tag", "9.9.9")
    ctx = context(example_project, snapshot=True)
    resolve_version(ctx)
    assert ctx.tag.startswith("v0.0.0-snapshot.g")
    assert "tag '9.9.9' on HEAD is not 'v' + semver" in capsys.readouterr().err


def test_a_snapshot_of_a_dirty_tree_warns_and_is_marked(example_project: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (example_project / "main.go").write_text("// edited\n" + (example_project / "main.go").read_text("utf-8"),
                                             encoding="utf-8")
    (example_project / "plugin" / "extra.go").write_text("package plugin\n", encoding="utf-8")
    (example_project / "profile.cov").write_text("mode: atomic\n", encoding="utf-8")  # not a build input
    (example_project / "dist").mkdir()
    (example_project / "dist" / "leftover").write_text("x", encoding="utf-8")  # the dist itself never counts
    ctx = context(example_project, snapshot=True)
    resolve_version(ctx)
    assert ctx.uncommitted == ["main.go", "plugin/extra.go"]
    assert "uncommitted changes (main.go, plugin/extra.go)" in capsys.readouterr().err
    assert stages.dist_metadata(ctx).uncommitted == ["main.go", "plugin/extra.go"]


def test_a_release_of_a_dirty_tree_is_refused(example_project: Path) -> None:
    (example_project / "main.go").write_text("// edited\n", encoding="utf-8")
    ctx = context(example_project, version="v1.0.0")
    ctx.publishing = object()  # type: ignore[assignment]  # only "does this release publish" is asked
    with pytest.raises(UserError, match=r"uncommitted changes \(main.go\): a release is built from the tagged"):
        resolve_version(ctx)


def test_a_clean_tree_has_nothing_uncommitted(example_project: Path) -> None:
    ctx = context(example_project, version="v1.0.0")
    resolve_version(ctx)
    assert ctx.uncommitted == []


def test_publish_refuses_a_dist_marked_dirty(tmp_path: Path) -> None:
    from gatewayd_plugin_actions.publish.context import PublishOptions  # noqa: PLC0415
    from gatewayd_plugin_actions.publish.prepare import load_dist  # noqa: PLC0415

    dist.prepare(tmp_path / "dist")
    dist.save(tmp_path / "dist", dist.DistMetadata(plugin="gatewayd-plugin-example", version="v1.0.0",
                                                   targets=[Target("linux", "amd64")], uncommitted=["main.go"]))
    with pytest.raises(UserError, match=r"built from a work tree with uncommitted changes \(main.go\)"):
        load_dist(PublishOptions(dists=[tmp_path / "dist"]))


def test_extra_files_must_be_regular_files_or_directories(example_project: Path) -> None:
    ctx = context(example_project, extra_files=[Path("/dev/null")])
    with pytest.raises(UserError, match="extra file /dev/null is a character device; only regular files"):
        stages.Validate().run(ctx)  # before anything is built


def test_a_dist_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dist").write_text("not a directory", encoding="utf-8")
    with pytest.raises(UserError, match="is a file, not a directory"):
        dist.prepare(tmp_path / "dist")
