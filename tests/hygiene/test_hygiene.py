"""The repository holds itself to the standard it sells: every action and workflow (ours, the templates, the
act test workflows) passes zizmor with zero findings, validates against SchemaStore's schemas, passes
yamllint and actionlint, and obeys the composite rules (no ``${{`` inside ``run:``, every third-party action
pinned to a full commit SHA with a version comment, every input documented, every step with a shell)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)(?P<path>/[\w./-]+)?@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"uses:\s*(?P<ref>\S+)\s+#\s*(?P<version>v\d+(\.\d+){0,2}\S*)\s*$")
OWN_REPOSITORY = "gatewayd-plugin-actions/gatewayd-plugin-actions"


def action_files(root: Path = REPO_ROOT) -> list[Path]:
    found = [root / "action.yml", *sorted(root.glob("*/action.yml"))]
    found += sorted((root / "tests" / "act").rglob("action.yml"))
    return [p for p in found if p.is_file() and ".venv" not in p.parts]


def workflow_files(root: Path = REPO_ROOT) -> list[Path]:
    found = sorted((root / "workflows").glob("*.yaml"))
    found += sorted((root / ".github" / "workflows").glob("*.y*ml"))
    found += sorted((root / "tests" / "act" / "workflows").glob("*.y*ml"))
    return found


def template_files() -> list[Path]:
    return sorted((REPO_ROOT / "workflows").glob("*.yaml"))


def rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{rel(path)}: not a mapping"
    return data


def run_tool(*command: str | Path, cwd: Path = REPO_ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, stdin=subprocess.DEVNULL)


def gobin(tool: str) -> Path:
    """A pinned Go tool built from the module proxy by tools/gobin.py (cached between runs)."""
    result = run_tool(sys.executable, REPO_ROOT / "tools" / "gobin.py", tool, timeout=900)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def test_there_is_something_to_check() -> None:
    names = {rel(p) for p in action_files()}
    assert {"action.yml", "test/action.yml"} <= names
    assert {"workflows/test.yaml", ".github/workflows/ci.yaml"} <= {rel(p) for p in workflow_files()}


# --- external linters, as real processes --------------------------------------------------------------

def test_zizmor_reports_zero_findings() -> None:
    files = [*action_files(), *workflow_files(), REPO_ROOT / ".github" / "dependabot.yml"]
    result = run_tool(BIN / "zizmor", "--offline", "--config", REPO_ROOT / ".github" / "zizmor.yml",
                      "--format", "json", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], json.dumps(findings, indent=1)[:5000]
    for path in files:
        assert f"completed {path}" in result.stderr or rel(path) in result.stderr, f"zizmor skipped {rel(path)}"


def test_zizmor_policy_exempts_only_our_own_floating_major() -> None:
    """Without .github/zizmor.yml the only findings are the templates' `<org>/gatewayd-plugin-actions/…@v1`
    references and the self-tests' `./` paths: the config hides nothing else."""
    result = run_tool(BIN / "zizmor", "--offline", "--no-config", "--format", "json",
                      *action_files(), *workflow_files())
    findings = json.loads(result.stdout)
    for finding in findings:
        ident = finding["ident"]
        assert ident in ("unpinned-uses", "self-repository"), finding
        for location in finding["locations"]:
            if location["symbolic"]["kind"] != "Primary":
                continue
            feature = location["concrete"]["feature"]
            if ident == "unpinned-uses":
                assert feature.startswith(OWN_REPOSITORY + "/") and feature.endswith("@v1"), feature
            else:
                assert feature.startswith("./"), feature


def test_actions_validate_against_schemastore() -> None:
    result = run_tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-actions", *action_files())
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_validate_against_schemastore() -> None:
    result = run_tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot",
                      REPO_ROOT / ".github" / "dependabot.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint() -> None:
    result = run_tool(BIN / "yamllint", "--strict", "--format", "parsable", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def actionlint() -> Path:
    return gobin("actionlint")


def test_actionlint_on_every_workflow(actionlint: Path) -> None:
    files = [rel(p) for p in workflow_files()]
    # shellcheck (from the dev requirements) makes actionlint check every `run:` script too.
    result = run_tool(actionlint, "-no-color", f"-shellcheck={BIN / 'shellcheck'}", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_checks_local_action_inputs(actionlint: Path, tmp_path: Path) -> None:
    """The self-test workflows' `with:` keys are checked against our action.yml files: prove it catches a typo."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(REPO_ROOT / "test", tmp_path / "test")
    workflow = tmp_path / ".github" / "workflows" / "typo.yaml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: ./test\n        with:\n          golangci-lint-verison: v1.64.8\n", encoding="utf-8")
    result = run_tool(actionlint, "-no-color", ".github/workflows/typo.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert 'input "golangci-lint-verison" is not defined in action "GatewayD plugin test"' in result.stdout


# --- composite rules, checked in Python -----------------------------------------------------------------

def steps_of_action(data: dict[str, Any]) -> list[dict[str, Any]]:
    runs = data.get("runs") or {}
    return list(runs.get("steps") or []) if runs.get("using") == "composite" else []


def steps_of_workflow(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in (data.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            yield job_id, step


def third_party(uses: str) -> bool:
    return not uses.startswith(("./", "docker://")) and not uses.startswith(OWN_REPOSITORY + "/")


@pytest.mark.parametrize("path", action_files(), ids=rel)
def test_composite_action_rules(path: Path) -> None:
    data = load(path)
    problems: list[str] = []
    for name, spec in (data.get("inputs") or {}).items():
        if not (spec or {}).get("description"):
            problems.append(f"input {name} has no description")
    for name, spec in (data.get("outputs") or {}).items():
        if not (spec or {}).get("description"):
            problems.append(f"output {name} has no description")
    for index, step in enumerate(steps_of_action(data)):
        label = step.get("name") or step.get("id") or f"step {index + 1}"
        if "run" in step:
            if "${{" in str(step["run"]):
                problems.append(f"{label}: `${{{{` inside run: (pass it through env:)")
            if not step.get("shell"):
                problems.append(f"{label}: no shell:")
        if "uses" in step and third_party(step["uses"]) and not SHA_PIN.match(step["uses"]):
            problems.append(f"{label}: {step['uses']} is not pinned to a full commit SHA")
    assert not problems, f"{rel(path)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", workflow_files(), ids=rel)
def test_workflow_rules(path: Path) -> None:
    problems = workflow_rule_problems(path)
    assert not problems, f"{rel(path)}:\n" + "\n".join(problems)


def workflow_rule_problems(path: Path) -> list[str]:
    """Our rules for a workflow file, ours or one `init` wrote into a plugin repository."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    problems: list[str] = []
    if "permissions" not in data:
        problems.append("no top-level permissions (use `permissions: {}` and grant per job)")
    for job_id, job in (data.get("jobs") or {}).items():
        if "timeout-minutes" not in job:
            problems.append(f"job {job_id}: no timeout-minutes")
        if "permissions" not in job and data.get("permissions") not in ({}, None):
            problems.append(f"job {job_id}: inherits broad permissions")
    for job_id, step in steps_of_workflow(data):
        uses = str(step.get("uses", ""))
        if "run" in step and "${{" in str(step["run"]):
            problems.append(f"job {job_id}: `${{{{` inside run:")
        if uses and third_party(uses) and not SHA_PIN.match(uses):
            problems.append(f"job {job_id}: {uses} is not pinned to a full commit SHA")
        if uses.startswith("actions/checkout@") and (step.get("with") or {}).get("persist-credentials") is not False:
            problems.append(f"job {job_id}: actions/checkout without persist-credentials: false")
    act_workflow = REPO_ROOT in path.parents and "act" in path.relative_to(REPO_ROOT).parts
    if "concurrency" not in data and not act_workflow:
        problems.append("no concurrency group")
    return problems


def pinned_references(root: Path = REPO_ROOT) -> Iterator[tuple[Path, int, str, str | None]]:
    """Every `uses: owner/repo@<sha>` line with its trailing version comment, in every action and workflow."""
    for path in [*action_files(root), *workflow_files(root)]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip().removeprefix("- ")
            if not stripped.startswith("uses:"):
                continue
            ref = stripped.split()[1]
            match = VERSION_COMMENT.search(stripped)
            if SHA_PIN.match(ref):
                yield path, number, ref, match.group("version") if match else None


def pin_problems(root: Path = REPO_ROOT) -> tuple[list[str], set[str]]:
    """What is wrong with the SHA pins under ``root`` (one line each), and the actions pinned there. Also run on
    bumped copies of the repository (tests/hygiene/test_pin_bumps.py)."""
    problems: list[str] = []
    seen: dict[str, tuple[str, str | None, str]] = {}
    for path, line, ref, version in pinned_references(root):
        where = f"{path.relative_to(root)}:{line}"
        pin = SHA_PIN.match(ref)
        assert pin is not None
        if version is None:
            problems.append(f"{where}: {ref} has no `# vX.Y.Z` comment")
        repo = pin.group("repo")
        if repo in seen and seen[repo][0] != pin.group("sha"):
            problems.append(f"{where}: {repo}@{pin.group('sha')} ({version}) differs from "
                            f"{seen[repo][2]}: @{seen[repo][0]} ({seen[repo][1]}); pin one release everywhere")
        elif repo in seen and seen[repo][1] != version:
            problems.append(f"{where}: {repo}@{pin.group('sha')} says {version} where {seen[repo][2]} says "
                            f"{seen[repo][1]} for the same SHA; fix the comment")
        seen.setdefault(repo, (pin.group("sha"), version, where))
    return problems, set(seen)


def test_every_sha_pin_has_a_version_comment_and_all_pins_agree() -> None:
    problems, pinned = pin_problems()
    assert not problems, "\n".join(problems)
    assert "actions/setup-go" in pinned and "actions/checkout" in pinned


def test_templates_reference_this_repository_at_v1() -> None:
    """The templates a plugin copies use `<org>/gatewayd-plugin-actions/<action>@v1` (never `./`), and only the
    actions that exist here."""
    for path in template_files():
        for job_id, step in steps_of_workflow(load(path)):
            uses = str(step.get("uses", ""))
            assert not uses.startswith("./"), f"{rel(path)} job {job_id}: a template cannot use local actions"
            if uses.startswith(OWN_REPOSITORY + "/"):
                action, _, ref = uses.removeprefix(OWN_REPOSITORY + "/").partition("@")
                assert ref == "v1", f"{rel(path)}: {uses}"
                assert (REPO_ROOT / action / "action.yml").is_file(), f"{rel(path)}: {uses}: no such action here"
                inputs = load(REPO_ROOT / action / "action.yml").get("inputs") or {}
                unknown = set(step.get("with") or {}) - set(inputs)
                assert not unknown, f"{rel(path)} job {job_id}: {uses} has no input(s) {sorted(unknown)}"


@pytest.mark.parametrize("path", action_files(), ids=rel)
def test_shellcheck_on_composite_run_scripts(path: Path, tmp_path: Path) -> None:
    """actionlint cannot lint action.yml (rhysd/actionlint#46), so shellcheck every composite `run:` here,
    with the `bash -e {0}` semantics GitHub uses for `shell: bash`."""
    scripts = []
    for index, step in enumerate(steps_of_action(load(path))):
        if "run" in step and step.get("shell") == "bash":
            script = tmp_path / f"step{index}.sh"
            script.write_text("#!/usr/bin/env bash\n" + step["run"], encoding="utf-8")
            scripts.append(script)
    if not scripts:
        pytest.skip("no bash steps")
    result = run_tool(BIN / "shellcheck", "--severity=info", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_on_repository_scripts() -> None:
    scripts = [p for p in REPO_ROOT.glob("scripts/*.sh")] + [REPO_ROOT / ".ci" / "run"]
    result = run_tool(BIN / "shellcheck", "--severity=info", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr
