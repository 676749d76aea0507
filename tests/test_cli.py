"""The CLI's entry point: lazy subcommand loading stays in step with what the modules register."""

from __future__ import annotations

import argparse
from pathlib import Path

from gatewayd_plugin_actions import commands
from gatewayd_plugin_actions.commands import COMMANDS, MODULES
from tests.conftest import RunCli


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
