"""The CLI's entry point: lazy subcommand loading stays in step with what the modules register."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from gatewayd_plugin_actions import actions_io, commands
from gatewayd_plugin_actions.commands import COMMANDS, MODULES
from gatewayd_plugin_actions.errors import Problem, with_output
from tests.conftest import EXAMPLE_PLUGIN, RunCli, copy_plugin


def registered_by(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    __import__(f"gatewayd_plugin_actions.commands.{module}", fromlist=["register"]).register(subparsers)
    return set(subparsers.choices)


def test_every_subcommand_maps_to_the_module_that_registers_it() -> None:
    expected = {command: module for module in MODULES for command in registered_by(module)}
    assert expected == COMMANDS


def test_every_module_in_the_folder_is_listed() -> None:
    folder = Path(commands.__file__).parent
    assert {p.stem for p in folder.glob("*.py")} - {"__init__", "common"} == set(MODULES)


def test_help_lists_every_subcommand(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_unknown_subcommand_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("relaese")
    assert result.returncode == 2
    assert "invalid choice: 'relaese'" in result.stderr


def test_a_subcommand_imports_only_its_own_module(run_cli: RunCli) -> None:
    result = run_cli("validate", "--help")
    assert result.returncode == 0 and "--file" in result.stdout


def test_every_subcommand_has_working_help(run_cli: RunCli) -> None:
    for command in COMMANDS:
        result = run_cli(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.startswith("usage: gatewayd-plugin-actions " + command), command


# --- found by tests/properties/test_cli_subprocess.py: each was a traceback, a leak or a broken line -------------

SECRET = "pl4ntedS3cret-regression"


def last_line(stderr: str) -> str:
    return stderr.rstrip("\n").splitlines()[-1]


def test_a_symlink_loop_is_named_not_a_traceback(run_cli: RunCli, tmp_path: Path) -> None:
    """``Path.resolve`` raised RuntimeError on a loop: as an option's value, and as the project's manifest."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    given = run_cli("validate", "--file", loop)
    assert given.returncode == 2
    assert last_line(given.stderr).endswith(f"argument --file: '{loop}': Too many levels of symbolic links")
    (tmp_path / "gatewayd_plugin.yaml").symlink_to(tmp_path / "gatewayd_plugin.yaml")
    inside = run_cli("validate", "--project", tmp_path)
    assert inside.returncode == 1
    assert "cannot read the plugin manifest: Too many levels of symbolic links" in inside.stderr


def test_a_name_too_long_for_the_file_system_is_named(run_cli: RunCli, tmp_path: Path) -> None:
    """``Path.exists`` raised OSError (File name too long) for a --project of a 300-character name."""
    result = run_cli("validate", "--project", tmp_path / ("n" * 300))
    assert result.returncode == 2
    line = last_line(result.stderr)
    assert line.startswith("gatewayd-plugin-actions validate: error: argument --project: '")
    assert line.endswith("more characters)': File name too long"), "the value is cut, the reason kept"


def test_a_url_given_where_a_path_goes_keeps_its_password(run_cli: RunCli, tmp_path: Path) -> None:
    """pathlib normalised ``http://u:p@h/`` to ``http:/u:p@h``, which the URL redaction did not match; and
    argparse printed a bad value (``invalid float value: 'postgres://u:p@…'``) without any redaction."""
    as_path = run_cli("validate", "--project", f"http://u:{SECRET}@[::1]:9/", cwd=tmp_path)
    as_number = run_cli("verify", "--gate-timeout", f"postgres://alice:{SECRET}@127.0.0.1/db", cwd=tmp_path)
    assert as_path.returncode == 1 and as_number.returncode == 2
    assert "http:/***@[::1]:9/gatewayd_plugin.yaml: file not found" in as_path.stderr
    assert last_line(as_number.stderr).endswith("invalid float value: 'postgres://***@127.0.0.1/db'")
    assert SECRET not in as_path.stderr + as_number.stderr


def test_a_line_break_in_a_value_keeps_the_error_on_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    """A value holding a newline (a stray argument, a project path) split the error over two lines."""
    stray = run_cli("validate", "x\ny", cwd=tmp_path)
    assert stray.returncode == 2
    assert last_line(stray.stderr) == "gatewayd-plugin-actions: error: unrecognized arguments: x\\ny"
    project = run_cli("validate", "--project", "a\nb", cwd=tmp_path)
    assert project.returncode == 1
    assert project.stderr.splitlines() == ["a\\nb/gatewayd_plugin.yaml: file not found",
                                           "a\\nb/gatewayd_plugin.yaml: 1 error(s), 0 warning(s)"]


def test_a_compile_error_is_shown_above_the_line_naming_the_failed_build(run_cli: RunCli, example_project: Path,
                                                                         tmp_path: Path) -> None:
    """The go build output came after the headline (``error: go build failed for linux/amd64:`` then the
    compiler's lines), so the last stderr line was a compiler line, not the error."""
    (example_project / "broken.go").write_text("package main\n\nfunc broken() {\n", encoding="utf-8")
    result = run_cli("release", "--snapshot", "--project", example_project, "--dist", tmp_path / "d",
                     "--version", "v1.0.0", "--targets", "linux/amd64")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.rstrip("\n").splitlines()
    assert lines[-1] == "error: go build failed for linux/amd64 (output above)", result.stderr
    compiler = [i for i, line in enumerate(lines) if re.fullmatch(r"  \| \./broken\.go:4:1: syntax error.*", line)]
    assert compiler and compiler[-1] < len(lines) - 1, result.stderr


def test_a_tool_failure_ends_with_the_line_naming_the_tool(run_cli: RunCli, tmp_path: Path) -> None:
    """govulncheck's own words (here: its database is missing) are the detail above the one-line error."""
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / "plugin")
    result = run_cli("govulncheck", "--project", project, "--db", "file:///nonexistent-vulndb", timeout=900)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.rstrip("\n").splitlines()
    assert re.fullmatch(r"govulncheck v\S+ failed \(exit 1\) \(output above\)", lines[-1]), result.stderr
    assert re.fullmatch(r"  \| .*/nonexistent-vulndb: no such file or directory", lines[-2]), result.stderr


def test_tool_output_is_detail_above_the_headline_and_in_its_annotation(capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    actions_io.report([Problem("initdb failed (exit 1):\ninitdb: error: no space\n\ninitdb: removing data", "pg", 3)])
    out = capsys.readouterr()
    assert out.err.splitlines() == ["  | initdb: error: no space", "  |", "  | initdb: removing data",
                                    "pg:3: initdb failed (exit 1) (output above)"]
    # One workflow command: the headline first, the tool's lines after it (escaped, so still one stdout line).
    assert out.out.splitlines() == [
        "::error file=pg,line=3::initdb failed (exit 1):%0Ainitdb: error: no space%0A%0Ainitdb: removing data"]
    actions_io.error_line("release failed:\n./main.go:1:1: expected 'package'")
    assert capsys.readouterr().err.splitlines() == ["  | ./main.go:1:1: expected 'package'",
                                                    "error: release failed (output above)"]


def test_a_headline_with_a_tools_output_names_what_failed_last(capsys: pytest.CaptureFixture[str]) -> None:
    """The archive reader, its build and GatewayD's lint put their headline first and the output after it (they
    used to end the headline with the tool's first lines); no output, no dangling colon."""
    assert with_output("`gatewayd plugin lint` rejects the installed config", "") == (
        "`gatewayd plugin lint` rejects the installed config")
    message = with_output("the archive reader failed (exit 2)", "panic: boom\n\ngoroutine 1 [running]:\n")
    actions_io.report([Problem(message, "dist/p-linux-amd64-v1.0.0.tar.gz")])
    assert capsys.readouterr().err.splitlines()[-1] == (
        "dist/p-linux-amd64-v1.0.0.tar.gz: the archive reader failed (exit 2) (output above)")


def test_an_annotation_on_a_url_shaped_file_name_keeps_its_password(capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by tests/properties/test_cli_subprocess.py: ``--dist postgres://alice:…@…`` was named in
    ``::error file=postgres%3A/alice%3A…@…``, escaped before the redaction, which then saw no URL."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    actions_io.report([Problem("file not found", f"postgres:/alice:{SECRET}@127.0.0.1:9/db/gatewayd_plugin.yaml")])
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert out.out.splitlines() == [
        "::error file=postgres%3A/***@127.0.0.1%3A9/db/gatewayd_plugin.yaml::file not found"]
