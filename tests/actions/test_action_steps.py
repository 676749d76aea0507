"""The composite actions' steps: every ``run:`` is one ``step NAME`` call, and what a step does with its inputs
(flags, splitting, the attestation policy, which later steps run) is decided and tested here, in Python.

The wiring tests read the real ``action.yml`` files: each step is run in-process with exactly the env its YAML
passes (the CLI call it would make is recorded, not run), so an input the YAML forgets to pass, or passes and
the step ignores, fails here and not on a plugin author's runner.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatewayd_plugin_actions import action_steps, actions_io
from gatewayd_plugin_actions.action_steps import Inputs, attest_decision
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.gatewayd.session import DEFAULT_START_TIMEOUT
from tests.conftest import REPO_ROOT, RunCli, clean_env, parse_output_file

ACTIONS = {".": "gatewayd-plugin-actions", "test": "test", "test-plugin": "test-plugin", "release": "release"}
STEP_RUN = re.compile(r'^"\$GPA_PYTHON" -m gatewayd_plugin_actions step (?P<name>[a-z-]+)$')
BOOTSTRAP_RUN = re.compile(r'^bash "\$GITHUB_ACTION_PATH/(\.\./)?scripts/bootstrap\.sh"( --probe)?$')
# Read outside the step functions: by the interpreter lookup and by the GatewayD download (gatewayd/download.py).
READ_ELSEWHERE = {"GPA_PYTHON", "GPA_GATEWAYD_TOKEN", "GPA_GATEWAYD_API_URL", "GPA_WORKFLOW_TOKEN",
                  "GPA_BOOTSTRAP_PYTHON"}


def load_action(folder: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO_ROOT / folder / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def run_steps(folder: str) -> list[dict[str, Any]]:
    return [s for s in load_action(folder)["runs"]["steps"] if "run" in s]


# --- what every run: may be --------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", ACTIONS)
def test_every_run_is_one_cli_call_of_this_actions_step(folder: str) -> None:
    problems = []
    for step in run_steps(folder):
        script = str(step["run"]).strip()
        match = STEP_RUN.match(script)
        if BOOTSTRAP_RUN.match(script):
            continue
        if not match:
            problems.append(f"{step.get('name')}: run: must be one `step NAME` call, not {script!r}")
        elif action_steps.STEPS.get(match["name"], ("?",))[0] != ACTIONS[folder]:
            problems.append(f"{step.get('name')}: step {match['name']} is not one of {ACTIONS[folder]}'s steps")
    assert not problems, "\n".join(problems)


def test_every_step_is_used_by_its_action() -> None:
    used = {STEP_RUN.match(str(s["run"]).strip())["name"]  # type: ignore[index]
            for folder in ACTIONS for s in run_steps(folder) if STEP_RUN.match(str(s["run"]).strip())}
    assert used == set(action_steps.STEPS)


def test_the_shell_holds_no_control_flow() -> None:
    """The rule above, said as the issue says it, so a later relaxation of STEP_RUN cannot hide a decision."""
    words = re.compile(r"(^|[;&|\s])(if|then|case|for|while|until|select|read)(\s|$)|&&|\|\||\[\[")
    for folder in ACTIONS:
        for step in run_steps(folder):
            assert not words.search(str(step["run"])), f"{folder}/action.yml {step.get('name')}: {step['run']!r}"


def test_the_set_up_block_has_not_drifted() -> None:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "action_setup.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_set_up_drift_is_detected(tmp_path: Path) -> None:
    for folder in ACTIONS:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / folder / "action.yml", tmp_path / folder / "action.yml")
    path = tmp_path / "release" / "action.yml"
    path.write_text(path.read_text(encoding="utf-8").replace('python-version: "3.12"', 'python-version: "3.9"'),
                    encoding="utf-8")
    tool = [sys.executable, str(REPO_ROOT / "tools" / "action_setup.py"), "--root", str(tmp_path)]
    result = subprocess.run([*tool, "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and '-        python-version: "3.9"' in result.stdout, result.stdout
    assert subprocess.run(tool, capture_output=True, check=False).returncode == 0
    assert subprocess.run([*tool, "--check"], capture_output=True, check=False).returncode == 0


# --- the env each step's YAML passes is exactly what the step reads ------------------------------------------

def plausible(value: str, spec: dict[str, Any] | None) -> str:
    """An input value a workflow could pass: the input's default, with expressions replaced."""
    default = str((spec or {}).get("default", "x"))
    return "owner/repo" if "${{" in default or not default else default


def step_env(folder: str, step: dict[str, Any]) -> dict[str, str]:
    inputs = load_action(folder).get("inputs") or {}
    env = {}
    for key, expression in (step.get("env") or {}).items():
        found = re.search(r"inputs\.([\w-]+)", str(expression))
        env[key] = plausible("", inputs.get(found[1])) if found else "value"
    return env


class Recorder(dict[str, str]):
    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)


def wiring() -> list[tuple[str, str, dict[str, Any]]]:
    return [(folder, STEP_RUN.match(str(s["run"]).strip())["name"], s)  # type: ignore[index]
            for folder in ACTIONS for s in run_steps(folder) if STEP_RUN.match(str(s["run"]).strip())]


@pytest.mark.parametrize(("folder", "name", "step"), wiring(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_step_reads_exactly_the_env_its_yaml_passes(folder: str, name: str, step: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(action_steps, "run_cli", lambda argv: calls.append(argv) or 0)
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    (tmp_path / action_steps.RELEASE_PARTS / "gpa-dist-linux-amd64").mkdir(parents=True)
    passed = step_env(folder, step)
    environ = Recorder(passed)
    action, function = action_steps.STEPS[name]
    assert function(Inputs(action, environ)) == 0
    read = {k for k in environ.read if k.startswith(action_steps.ENV_PREFIX)}
    passed_gpa = {k for k in passed if k.startswith(action_steps.ENV_PREFIX)} - READ_ELSEWHERE
    assert read <= set(passed), f"{name} reads {sorted(read - set(passed))}, which {folder}/action.yml never sets"
    assert passed_gpa <= read, f"{folder}/action.yml passes {sorted(passed_gpa - read)} that {name} never reads"


# --- every output a step writes is read or declared ----------------------------------------------------------

def written_outputs() -> set[str]:
    """Every output name the package writes: set_output("name", …), set_flags(name=…) and the lint plan's keys."""
    names: set[str] = set()
    for path in (REPO_ROOT / "scripts" / "gatewayd_plugin_actions").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func == "set_output" and node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
            elif func == "set_flags":
                names.update(k.arg.replace("_", "-") for k in node.keywords if k.arg)
    plan = ast.parse((REPO_ROOT / "scripts" / "gatewayd_plugin_actions" / "checks" / "plan.py").read_text("utf-8"))
    for node in ast.walk(plan):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            names.update(str(k.value) for k in node.value.keys if isinstance(k, ast.Constant))
    return names


def test_every_output_written_is_read_by_a_step_or_declared() -> None:
    referenced = set()
    for folder in ACTIONS:
        referenced |= set(re.findall(r"steps\.[\w-]+\.outputs\.([\w-]+)",
                                     (REPO_ROOT / folder / "action.yml").read_text(encoding="utf-8")))
    # Written by commands no composite runs directly: they reach users through the toolbox's `outputs` JSON.
    toolbox_only = {"plugin-name"} - referenced
    written = written_outputs()
    assert {"release-id", "artifacts", "lint", "report-dir", "cache-key"} <= written  # the scan sees them
    assert written - referenced - toolbox_only == set()


# --- decisions -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "server", "token", "visibility", "run", "says"), [
    ("true", "https://ghes.example", "", "private", True, None),
    ("false", "https://github.com", "https://t", "public", False, None),
    ("auto", "https://github.com", "https://t", "public", True, None),
    ("auto", "https://github.com/", "https://t", "public", True, None),
    ("auto", "https://ghes.example", "https://t", "public", False, "Enterprise Server"),
    ("auto", "https://github.com", "", "public", False, "id-token: write"),
    ("auto", "https://github.com", "https://t", "private", False, "Enterprise Cloud"),
    ("auto", "https://github.com", "https://t", "", False, "non-public"),
])
def test_attestation_policy(policy: str, server: str, token: str, visibility: str, run: bool,
                            says: str | None) -> None:
    decision = attest_decision(policy, server_url=server, id_token_url=token, visibility=visibility)
    assert decision.run is run
    assert (decision.notice is None) if says is None else (says in str(decision.notice))


def plan_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **inputs: str) -> dict[str, str]:
    for name in ("GITHUB_OUTPUT", "ACTIONS_ID_TOKEN_REQUEST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    environ = {"GPA_" + k.upper(): v for k, v in inputs.items()}
    with actions_io.recorded_outputs() as outputs:
        action_steps.release_plan(Inputs("release", environ))
    return outputs


@pytest.mark.parametrize(("mode", "snapshot", "runs"), [
    ("full", "false", {"build", "publish"}),
    ("full", "true", {"build"}),
    ("build", "false", {"build", "upload"}),
    ("build", "true", {"build"}),
    ("publish", "false", {"merge", "publish"}),
    ("FULL", "false", {"build", "publish"}),
])
def test_release_plan_says_which_steps_run(mode: str, snapshot: str, runs: set[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = plan_outputs(tmp_path, monkeypatch, mode=mode, snapshot=snapshot, targets="linux/amd64, darwin/arm64")
    assert {k for k in ("build", "upload", "merge", "publish") if outputs[k] == "true"} == runs
    assert outputs["artifact"] == "gpa-dist-linux-amd64-darwin-arm64"
    assert outputs["dist"] == str(tmp_path / "gpa-dist")
    assert outputs["attest"] == "false"  # no id-token here


@pytest.mark.parametrize(("inputs", "message"), [
    ({"mode": "ful"}, "release: input mode must be full, build or publish, not 'ful'"),
    ({"mode": "publish", "snapshot": "true"}, "cannot be combined with mode: publish"),
    ({"snapshot": "yes"}, "input snapshot must be true or false, not 'yes'"),
    ({"cgo": "1"}, "input cgo must be true or false, not '1'"),
    ({"attest": "always"}, "input attest must be auto, true or false, not 'always'"),
    ({"make-latest": "legacy"}, "input make-latest must be auto, true or false"),
])
def test_release_plan_refuses_bad_inputs_before_anything_runs(inputs: dict[str, str], message: str,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match=re.escape(message)):
        plan_outputs(tmp_path, monkeypatch, **{k.replace("-", "_"): v for k, v in inputs.items()})


def test_extra_files_split_like_a_shell_never_evaluated() -> None:
    environ = {"GPA_EXTRA_FILES": "scripts/ 'my rules'\n  LICENSE $(id)\n", "GPA_CGO": "true"}
    assert action_steps.build_flags(Inputs("release", environ)) == [
        "--cgo", "--extra-files", "scripts/", "my rules", "LICENSE", "$(id)"]
    with pytest.raises(UserError, match=r"release: input extra-files .* cannot be split"):
        action_steps.build_flags(Inputs("release", {"GPA_EXTRA_FILES": "'open"}))


def test_plugin_errors_reach_test_plugin_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(action_steps, "run_cli", lambda argv: calls.append(argv) or 0)
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    assert action_steps.integration_run(Inputs("test-plugin", {"GPA_PLUGIN_ERRORS": " Fail "})) == 0
    argv = calls[0]
    assert argv[argv.index("--plugin-errors") + 1] == "fail"
    assert action_steps.integration_run(Inputs("test-plugin", {})) == 0
    assert calls[1][calls[1].index("--plugin-errors") + 1] == "warn", "the default"
    assert calls[1][calls[1].index("--start-timeout") + 1] == DEFAULT_START_TIMEOUT, "the CLI's default"
    assert action_steps.integration_run(Inputs("test-plugin", {"GPA_START_TIMEOUT": "45s"})) == 0
    assert calls[2][calls[2].index("--start-timeout") + 1] == "45s"
    with pytest.raises(UserError, match="test-plugin: input plugin-errors must be warn, fail or ignore, not 'error'"):
        action_steps.integration_run(Inputs("test-plugin", {"GPA_PLUGIN_ERRORS": "error"}))


def test_merge_without_parts_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    with pytest.raises(UserError, match="no build job's dist was downloaded"):
        action_steps.release_merge(Inputs("release", {}))


def test_a_failed_lint_plan_runs_no_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(action_steps, "run_cli", lambda argv: 1)
    with actions_io.recorded_outputs() as outputs:
        assert action_steps.checks_plan(Inputs("test", {})) == 1
    assert outputs == {}


def test_a_step_with_a_bad_input_is_one_line_through_the_cli(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("step", "release-plan", env=clean_env(GPA_MODE="bild", RUNNER_TEMP=str(tmp_path)))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "release: input mode must be full, build or publish, not 'bild'"], result.stderr


def test_the_toolbox_step_forwards_outputs(run_cli: RunCli, tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.touch()
    example = REPO_ROOT / "examples" / "gatewayd-plugin-example"
    env = clean_env(GITHUB_OUTPUT=str(output), GPA_COMMAND="validate", GPA_ARGS=f"--project '{example}'",
                    GITHUB_REPOSITORY="gatewayd-plugin-actions/gatewayd-plugin-example")
    result = run_cli("step", "toolbox", env=env)
    assert result.returncode == 0, result.stderr
    outputs = parse_output_file(output.read_text(encoding="utf-8"))
    assert outputs["plugin-name"] == "gatewayd-plugin-example" and outputs["exit-code"] == "0"


def test_the_echoed_command_line_shows_plugin_env_keys_only(run_cli: RunCli, tmp_path: Path) -> None:
    """Found by tests/properties/test_cli_subprocess.py: each step echoes its CLI call, and that line showed the
    plugin-env input in full (`--plugin-env=TOKEN=<the plugin's password>`), over several lines when it had
    several. The echo now keeps the keys, on one line; the plugin still gets the values."""
    secret = "pl4ntedS3cret-in-plugin-env"
    env = clean_env(GPA_PLUGIN_ENV=f"TOKEN={secret}\nMODE=fast", GPA_VERSION="not-a-tag", RUNNER_TEMP=str(tmp_path))
    result = run_cli("step", "release-build", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert secret not in result.stdout + result.stderr
    echo = next(line for line in result.stderr.splitlines() if line.startswith("$ gatewayd-plugin-actions "))
    assert "'--plugin-env=TOKEN=***\\nMODE=***'" in echo, echo
