"""``toolbox``: the root action's entry point splits its argument string safely and forwards outputs."""

from __future__ import annotations

import json
from pathlib import Path

from gatewayd_plugin_actions.commands.toolbox import split_args
from tests.conftest import EXAMPLE_PLUGIN, RunCli, clean_env, parse_output_file


def test_split_args_never_expands() -> None:
    assert split_args("--project 'my dir' --repository $(whoami)/x `id` *") == [
        "--project", "my dir", "--repository", "$(whoami)/x", "`id`", "*"]
    assert split_args("") == []


def test_output_file_parsing() -> None:
    text = "a=1\nmulti<<ghadelim_x\nline 1\nline=2\nghadelim_x\nb=x=y\n"
    assert parse_output_file(text) == {"a": "1", "multi": "line 1\nline=2", "b": "x=y"}


def test_toolbox_runs_a_command_and_collects_its_outputs(tmp_path: Path, run_cli: RunCli) -> None:
    output = tmp_path / "out"
    output.touch()
    env = clean_env(GITHUB_OUTPUT=str(output), GITHUB_REPOSITORY="gatewayd-plugin-actions/gatewayd-plugin-example")
    result = run_cli("toolbox", "--", "validate", f"--project '{EXAMPLE_PLUGIN}'", env=env)
    assert result.returncode == 0, result.stderr
    lines = output.read_text(encoding="utf-8").splitlines()
    assert "plugin-name=gatewayd-plugin-example" in lines and "exit-code=0" in lines
    collected = next(line for line in lines if line.startswith("outputs="))
    assert json.loads(collected.removeprefix("outputs=")) == {"plugin-name": "gatewayd-plugin-example"}


def test_toolbox_keeps_shell_syntax_literal(tmp_path: Path, run_cli: RunCli) -> None:
    marker = tmp_path / "pwned"
    result = run_cli("toolbox", "--", "validate", f"--project $(touch {marker})", env=clean_env())
    assert result.returncode != 0
    assert not marker.exists()
    assert "$(touch" in result.stderr


def test_toolbox_rejects_unknown_commands_and_bad_quotes(run_cli: RunCli) -> None:
    result = run_cli("toolbox", "--", "rm", "-rf /", env=clean_env())
    assert result.returncode == 1 and "unknown command 'rm'" in result.stderr
    result = run_cli("toolbox", "--", "validate", "--project 'unclosed", env=clean_env())
    assert result.returncode == 1 and "cannot be split" in result.stderr
