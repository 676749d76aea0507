"""``init`` on the three repositories authors start from (a real fresh scaffold, a plugin-template-go-shaped
and a gatewayd-plugin-cache-shaped one): the CLI as a process, real git and Go, the trees hashed around
every dry run and every second run."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, RunCli, git_init
from tests.fixtures.plugin_repos import (
    EXAMPLE_REPOSITORY,
    OLD_TEST_WORKFLOW,
    SCAFFOLD_NAME,
    SCAFFOLD_OWNER,
    SIGNED_COMMITS_WORKFLOW,
    make_cache_shaped,
    make_template_go_shaped,
    write_workflow,
)
from tests.hygiene.test_hygiene import actionlint, workflow_rule_problems

__all__ = ["actionlint"]  # a fixture

TEMPLATES = {name: (REPO_ROOT / "workflows" / name).read_text(encoding="utf-8") for name in ("test.yaml",
                                                                                               "release.yaml")}


def tree_hash(project: Path) -> str:
    """Every file's path, mode and bytes (the work tree, without .git, which `git status` may refresh)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in project.rglob("*") if ".git" not in p.relative_to(project).parts):
        digest.update(path.relative_to(project).as_posix().encode() + b"\0")
        if path.is_file():
            digest.update(oct(path.stat().st_mode).encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def with_origin(project: Path, repository: str | None) -> Path:
    git_init(project)
    if repository:
        subprocess.run(["git", "remote", "add", "origin", f"git@github.com:{repository}.git"], cwd=project,
                       check=True)
    return project


def workflows_of(project: Path) -> dict[str, str]:
    folder = project / ".github" / "workflows"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def init(run_cli: RunCli, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("init", "--project", project, *args, timeout=900)


def assert_second_run_is_a_no_op(run_cli: RunCli, project: Path) -> None:
    before = tree_hash(project)
    again = init(run_cli, project)
    assert again.returncode == 0, again.stderr
    assert "nothing to change: this repository already uses the templates of this release" in again.stderr
    assert again.stdout == ""  # no diff
    assert tree_hash(project) == before


@pytest.mark.gatewayd  # `gatewayd plugin scaffold` of a real GatewayD
def test_init_adopts_a_fresh_scaffold(run_cli: RunCli, fresh_scaffold: Path, tmp_path: Path) -> None:
    project = shutil.copytree(fresh_scaffold, tmp_path / SCAFFOLD_NAME)
    with_origin(project, f"{SCAFFOLD_OWNER}/{SCAFFOLD_NAME}")
    old_release = (project / ".github" / "workflows" / "release.yaml").read_text(encoding="utf-8")

    pristine = tree_hash(project)
    dry = init(run_cli, project, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert tree_hash(project) == pristine, "--dry-run wrote something"
    for header in ("+++ b/.github/workflows/test.yaml", "--- a/.github/workflows/release.yaml", "+++ b/go.sum",
                   "+++ b/plugin/module.go"):
        assert header in dry.stdout, header
    assert "-      - name: Create release and add artifacts" in dry.stdout  # the scaffold's release, as removed
    assert "would replace .github/workflows/release.yaml: old release workflow (a tag-triggered release: " \
           "softprops/action-gh-release@v1 + `make build-release`)" in dry.stderr
    assert "dry run: 4 change(s) shown above, nothing written" in dry.stderr

    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    assert "+var Version = \"0.1.0\"" in result.stdout and "+\t\tVersion:   Version," in result.stdout
    assert workflows_of(project) == {**TEMPLATES, "commits-signed.yaml": workflows_of(fresh_scaffold)[
        "commits-signed.yaml"]}
    assert old_release != TEMPLATES["release.yaml"]
    assert "replace go.sum: `go mod tidy`: go.sum lacks entries the release build needs (for " \
           "github.com/gatewayd-io/gatewayd-plugin-sdk/" in result.stderr
    # what it prints last is what to run next, with the exact install line
    tail = result.stderr[result.stderr.index("next:"):]
    assert "git add -A .github/workflows/release.yaml .github/workflows/test.yaml go.sum plugin/module.go" in tail
    assert "git tag v0.1.0 && git push origin v0.1.0" in tail
    assert f"gatewayd plugin install github.com/{SCAFFOLD_OWNER}/{SCAFFOLD_NAME}@v0.1.0" in tail

    # The fixes are real: the module builds read-only, and the release now injects the tag into the version.
    built = subprocess.run(["go", "build", "-mod=readonly", "-o", "/dev/null", "."], cwd=project,
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    snapshot = run_cli("release", "--snapshot", "--project", project, "--dist", tmp_path / "dist",
                       "--targets", "linux/amd64", "--version", "v0.3.0", "--no-gate")
    assert snapshot.returncode == 0, snapshot.stderr
    assert "no plugin.Version variable found" not in snapshot.stderr
    assert f"-X github.com/{SCAFFOLD_OWNER}/{SCAFFOLD_NAME}/plugin.Version=0.3.0" in snapshot.stderr

    assert_second_run_is_a_no_op(run_cli, project)


def test_init_adopts_a_template_go_shaped_repository(run_cli: RunCli, tmp_path: Path) -> None:
    project = with_origin(make_template_go_shaped(tmp_path / "gatewayd-plugin-example"), EXAMPLE_REPOSITORY)
    module_before = (project / "plugin" / "module.go").read_text(encoding="utf-8")
    pristine = tree_hash(project)
    dry = init(run_cli, project, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert tree_hash(project) == pristine

    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    assert "checked: go.mod/go.sum have every entry the build needs" in result.stderr
    assert "go.sum" not in result.stdout  # complete already: not touched
    assert workflows_of(project) == {**TEMPLATES, "commits-signed.yaml": SIGNED_COMMITS_WORKFLOW}
    module = (project / "plugin" / "module.go").read_text(encoding="utf-8")
    assert module != module_before and 'var Version = "0.0.1"' in module and "Version:   Version," in module
    assert "gatewayd plugin install github.com/gatewayd-plugin-actions/gatewayd-plugin-example@v0.1.0" in result.stderr
    assert_second_run_is_a_no_op(run_cli, project)


def test_init_replaces_a_cache_plugins_own_workflows(run_cli: RunCli, tmp_path: Path) -> None:
    project = with_origin(make_cache_shaped(tmp_path / "gatewayd-plugin-example"), EXAMPLE_REPOSITORY)
    subprocess.run(["git", "tag", "v0.4.1"], cwd=project, check=True)
    makefile = (project / "Makefile").read_bytes()
    pristine = tree_hash(project)
    dry = init(run_cli, project, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert tree_hash(project) == pristine
    assert "-      - uses: golangci/golangci-lint-action@v6" in dry.stdout

    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    assert ("replace .github/workflows/release.yaml: old release workflow (a tag-triggered release: "
            "softprops/action-gh-release@v2 + `make build-release`)") in result.stderr
    assert ("replace .github/workflows/test.yaml: old test workflow (Go test job(s): `go test` with actions/checkout, "
            "actions/setup-go, golang/govulncheck-action, golangci/golangci-lint-action, "
            "shogo82148/actions-goveralls)") in result.stderr
    assert "checked: plugin.Version is wired into PluginID: the release injects the tag" in result.stderr
    assert result.stdout == ""  # no source patch to show; the workflows are the templates
    assert workflows_of(project) == {**TEMPLATES, "commits-signed.yaml": SIGNED_COMMITS_WORKFLOW}
    assert (project / "Makefile").read_bytes() == makefile
    assert "git tag v0.4.2 && git push origin v0.4.2" in result.stderr  # the patch after the last tag
    assert_second_run_is_a_no_op(run_cli, project)


CUSTOM_TEST_WORKFLOW = OLD_TEST_WORKFLOW.replace(
    "      - uses: shogo82148/actions-goveralls@v1\n        with:\n          path-to-profile: profile.cov\n",
    "      - uses: docker/build-push-action@v6\n")


def test_an_unknown_workflow_of_the_same_name_is_kept_unless_force(run_cli: RunCli, tmp_path: Path) -> None:
    project = make_cache_shaped(tmp_path / "gatewayd-plugin-example")
    write_workflow(project, "test.yaml", CUSTOM_TEST_WORKFLOW)
    with_origin(project, EXAMPLE_REPOSITORY)

    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    assert (".github/workflows/test.yaml: warning: kept: not recognised as an old release/test workflow (it "
            "uses docker/build-push-action, which our templates do not replace)") in result.stderr
    assert workflows_of(project)["test.yaml"] == CUSTOM_TEST_WORKFLOW
    assert workflows_of(project)["release.yaml"] == TEMPLATES["release.yaml"]
    again = init(run_cli, project)
    assert "nothing to change" in again.stderr and "kept: not recognised" in again.stderr

    forced = init(run_cli, project, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "replace .github/workflows/test.yaml: not recognised (it uses docker/build-push-action, which our " \
           "templates do not replace), replaced because of --force" in forced.stderr
    assert workflows_of(project)["test.yaml"] == TEMPLATES["test.yaml"]


def test_an_old_release_under_another_name_is_retired_too(run_cli: RunCli, tmp_path: Path) -> None:
    project = make_cache_shaped(tmp_path / "gatewayd-plugin-example")
    (project / ".github" / "workflows" / "release.yaml").rename(project / ".github" / "workflows" / "publish.yml")
    with_origin(project, EXAMPLE_REPOSITORY)
    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    assert "remove .github/workflows/publish.yml: a tag-triggered release" in result.stderr
    assert set(workflows_of(project)) == {"commits-signed.yaml", "release.yaml", "test.yaml"}


def test_without_an_origin_the_install_line_has_a_placeholder(run_cli: RunCli, tmp_path: Path) -> None:
    project = with_origin(make_cache_shaped(tmp_path / "gatewayd-plugin-example"), None)
    result = init(run_cli, project, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "gatewayd plugin install github.com/<owner>/gatewayd-plugin-example@v0.1.0" in result.stderr
    assert "note: no github.com `origin` remote: replace <owner>" in result.stderr


def test_manifest_problems_are_reported_as_validate_reports_them(run_cli: RunCli, tmp_path: Path) -> None:
    project = with_origin(make_cache_shaped(tmp_path / "gatewayd-plugin-example"), "someone-else/other-name")
    result = init(run_cli, project)
    validated = run_cli("validate", "--project", project, "--repository", "someone-else/other-name")
    assert result.returncode == 1 and validated.returncode == 1
    errors = [line for line in validated.stderr.splitlines() if re.search(r"gatewayd_plugin\.yaml:\d+: ", line)]
    assert errors and all(line in result.stderr for line in errors), result.stderr
    assert "# first fix the" in result.stderr
    # Found by tests/properties/test_cli_subprocess.py: the failed run ended with the next steps, not its error.
    last = result.stderr.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"error: \d+ error\(s\) above block the first release: fix them, then follow the next steps",
                        last), result.stderr
    # the safe changes were still made: the manifest needs the author's decision, the workflows do not
    assert workflows_of(project)["release.yaml"] == TEMPLATES["release.yaml"]


def test_a_plugin_in_a_subfolder_is_refused_with_a_hint(run_cli: RunCli, tmp_path: Path) -> None:
    outer = tmp_path / "monorepo"
    make_cache_shaped(outer / "plugins" / "gatewayd-plugin-example")
    git_init(outer)
    result = init(run_cli, outer / "plugins" / "gatewayd-plugin-example")
    assert result.returncode == 1
    assert "init writes workflows for a plugin at the repository root" in result.stderr
    assert workflows_of(outer / "plugins" / "gatewayd-plugin-example")["test.yaml"] == OLD_TEST_WORKFLOW


def test_a_folder_that_is_no_plugin_is_refused_and_left_as_it_was(run_cli: RunCli, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "README.md").write_text("not a plugin\n", encoding="utf-8")
    pristine = tree_hash(folder)
    result = init(run_cli, folder)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "has no go.mod and no gatewayd_plugin.yaml: it is not a GatewayD plugin repository" in last, last
    assert tree_hash(folder) == pristine, "init wrote into a folder that is no plugin"


def test_the_templates_ship_in_the_wheel(tmp_path: Path) -> None:
    """A non-editable install has the templates too: the wheel holds adopt/workflows, byte for byte."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "workflows", source / "workflows")
    shutil.copytree(REPO_ROOT / "scripts", source / "scripts", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    import zipfile  # noqa: PLC0415

    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name, text in TEMPLATES.items():
            assert archive.read(f"gatewayd_plugin_actions/adopt/workflows/{name}").decode() == text


@pytest.mark.parametrize("shape", ["template-go", "cache"])
def test_written_workflows_pass_actionlint_zizmor_and_the_schema(shape: str, run_cli: RunCli, tmp_path: Path,
                                                                 actionlint: Path) -> None:
    make = make_template_go_shaped if shape == "template-go" else make_cache_shaped
    project = with_origin(make(tmp_path / "gatewayd-plugin-example"), EXAMPLE_REPOSITORY)
    assert init(run_cli, project).returncode == 0
    written = [project / ".github" / "workflows" / name for name in TEMPLATES]
    for path in written:
        assert workflow_rule_problems(path) == [], path.name
    bin_dir = Path(sys.executable).parent
    linted = subprocess.run([str(actionlint), "-no-color", f"-shellcheck={bin_dir / 'shellcheck'}",
                             *(str(p.relative_to(project)) for p in written)], cwd=project, capture_output=True,
                            text=True, check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    zizmor = subprocess.run([str(bin_dir / "zizmor"), "--offline", "--config", str(REPO_ROOT / ".github" /
                                                                                    "zizmor.yml"),
                             *map(str, written)], capture_output=True, text=True, check=False)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    schema = subprocess.run([str(bin_dir / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, written)], capture_output=True, text=True, check=False)
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_our_template_at_another_ref_is_repinned_and_a_customised_one_kept(run_cli: RunCli, tmp_path: Path) -> None:
    project = make_cache_shaped(tmp_path / "gatewayd-plugin-example")
    older = TEMPLATES["release.yaml"].replace("/release@v1", "/release@v0")
    customised = TEMPLATES["test.yaml"].replace(
        "          gatewayd-version: ${{ matrix.gatewayd-version }}\n",
        "          gatewayd-version: ${{ matrix.gatewayd-version }}\n          plugin-env: REDIS_URL=redis://127.0.0.1\n")
    assert older != TEMPLATES["release.yaml"] and customised != TEMPLATES["test.yaml"]
    write_workflow(project, "release.yaml", older)
    write_workflow(project, "test.yaml", customised)
    with_origin(project, EXAMPLE_REPOSITORY)
    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    assert "replace .github/workflows/release.yaml: our template at another ref: pinned to this release" \
        in result.stderr
    assert (".github/workflows/test.yaml: warning: kept: your workflow (uses gatewayd-plugin-actions, changed "
            "from our template); our template was not written there; --force replaces it") in result.stderr
    assert workflows_of(project)["release.yaml"] == TEMPLATES["release.yaml"]
    assert workflows_of(project)["test.yaml"] == customised
    assert "note: Makefile: `build-release` is no longer what CI runs" in result.stderr


def test_a_version_patch_that_would_not_build_is_not_applied(run_cli: RunCli, tmp_path: Path) -> None:
    project = make_template_go_shaped(tmp_path / "gatewayd-plugin-example")
    # A function named Version in package plugin: adding `var Version` would not compile.
    (project / "plugin" / "version.go").write_text('package plugin\n\nfunc Version() string { return "x" }\n',
                                                   encoding="utf-8")
    with_origin(project, EXAMPLE_REPOSITORY)
    module_before = (project / "plugin" / "module.go").read_bytes()
    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    assert re.search(r"plugin/module\.go: warning: PluginID reports the literal \"0\.0\.1\"; adding `var Version = "
                     r"\"0\.0\.1\"` to package plugin and using it in PluginID does not build here \(.*Version "
                     r"redeclared", result.stderr), result.stderr
    assert (project / "plugin" / "module.go").read_bytes() == module_before
    assert workflows_of(project)["test.yaml"] == TEMPLATES["test.yaml"]  # the rest still happened


def test_a_module_go_cannot_list_is_named(run_cli: RunCli, tmp_path: Path) -> None:
    project = make_cache_shaped(tmp_path / "gatewayd-plugin-example")
    (project / "broken.go").write_text("this is not Go\n", encoding="utf-8")
    with_origin(project, EXAMPLE_REPOSITORY)
    result = init(run_cli, project, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "go.mod: warning: `go list ./...` failed: broken.go:1:1: expected 'package'" in result.stderr
    assert "go.mod/go.sum have every entry" not in result.stderr


def test_a_crlf_source_keeps_its_line_endings(run_cli: RunCli, tmp_path: Path) -> None:
    project = make_template_go_shaped(tmp_path / "gatewayd-plugin-example")
    module = project / "plugin" / "module.go"
    module.write_bytes(module.read_bytes().replace(b"\n", b"\r\n"))
    with_origin(project, EXAMPLE_REPOSITORY)
    result = init(run_cli, project)
    assert result.returncode == 0, result.stderr
    patched = module.read_bytes()
    assert b'var Version = "0.0.1"\r\n' in patched and b"Version:   Version,\r\n" in patched
    assert patched.count(b"\n") == patched.count(b"\r\n")
