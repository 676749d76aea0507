"""The real ``.venv/bin/gatewayd-plugin-actions``, run as a process on argument vectors drawn from its own parsers
(every subcommand, every option, values of every kind and the files they name), on toolbox argument strings and
on the composite steps' ``GPA_*`` inputs. The property: exit 0 (with the result the command promises), or exit > 0
whose last stderr line is the error's headline, on one line and not cut from a longer text (a tool's own output that
a failure carries, such as a compile error, is detail above it, never the last line); never a traceback, never a hang,
never the planted secret (in the environment and in every URL) on stdout, stderr, the step outputs or the step
summary. Nothing can reach GitHub: its API, GatewayD's releases API and the proxies point at a closed loopback port.

Each example costs a process start (about 0.2 s, a Go build when a drawn project and its flags are valid), so
``make test`` runs 20 examples per subcommand (8 for those that compile Go), ``make fuzz`` 100 (25)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewayd_plugin_actions.action_steps import STEPS
from gatewayd_plugin_actions.errors import MESSAGE_LIMIT
from gatewayd_plugin_actions.targets import Target
from tests.conftest import EXAMPLE_PLUGIN, copy_plugin, git_init
from tests.fixtures.github import make_dist
from tests.properties.cli_world import (
    CLI_BINARY,
    SECRET,
    WORD,
    Templates,
    World,
    action_inputs,
    argv_for,
    cli_env,
    family,
    subcommand_options,
)
from tests.properties.conftest import PROFILE_ENV
from tests.properties.strategies import DAMAGED_TAG

OPTIONS = subcommand_options()
# These compile or run Go when their inputs are valid: fewer examples (each may take seconds).
GO_HEAVY = {"build", "release", "go-test", "test-plugin", "lint", "govulncheck"}
COMMANDS = sorted(set(OPTIONS) - {"step", "toolbox"})
# Examples per subcommand (and for those that compile Go) in each profile of tests/properties/conftest.py.
EXAMPLES, HEAVY_EXAMPLES = {"test": (20, 8), "fuzz": (100, 25)}.get(os.environ.get(PROFILE_ENV, "test"), (20, 8))
# The longest error line we accept: a message is cut at MESSAGE_LIMIT, plus a file name and the reporter's prefix.
LAST_LINE_LIMIT = MESSAGE_LIMIT + 800
TIMEOUT = 180  # a run this long is a hang (a FIFO read, a device read to the end)
# test-govulncheck runs govulncheck on its default database, vuln.go.dev (the tests stay on loopback).
NO_STEP = {"test-govulncheck"}
# Lines of a tool's own output as they ended stderr before the reporter put them above the headline: a Go
# compiler/vet position (``./main.go:4:1: syntax error``) and go build's package header (``# example.com/m``).
TOOL_LINE = re.compile(r"\S+\.go:\d+:\d+: |# \S+$")
LOG_ENV = "GPA_PROPERTY_LOG"  # a file to append each run's exit code, argv and last stderr line to
CLI_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """The example plugin, tagged v0.1.0 (read-only for the examples: commands write only to their own dirs),
    and a valid dist that examples copy (and damage)."""
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path_factory.mktemp("example") / "gatewayd-plugin-example")
    git_init(project, tag="v0.1.0")
    good = tmp_path_factory.mktemp("good") / "dist"
    make_dist(good, DAMAGED_TAG, [Target("linux", "amd64")], padding=16)
    return Templates(project, good)


def run(argv: list[str], root: Path, actions: bool, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run([str(CLI_BINARY), *argv], cwd=cwd or root, env={**cli_env(root, actions), **(env or {})},
                              capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit within {TIMEOUT}s: {shlex.join(argv)}")
    result = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                         done.stderr.decode(errors="replace"))
    if log := os.environ.get(LOG_ENV):  # what the drawn inputs reach: one line per run
        last = (result.stderr.rstrip("\n").splitlines() or [""])[-1]
        with Path(log).open("a", encoding="utf-8") as out:
            out.write(f"{result.returncode}\t{shlex.join(argv)[:200]!r}\t{last[:300]!r}\n")
    return result


def assert_verdict(result: subprocess.CompletedProcess[str], root: Path) -> None:
    written = "".join(p.read_text(encoding="utf-8", errors="replace")
                      for p in (root / "github-output", root / "step-summary") if p.is_file())
    shown = result.stdout + result.stderr + written
    assert "Traceback (most recent call last)" not in shown, result.stderr[-3000:]
    assert SECRET not in shown, "the planted secret was shown:\n" + "\n".join(
        line for line in shown.splitlines() if SECRET in line)
    if result.returncode == 0:
        return
    assert result.returncode > 0, f"killed by signal {-result.returncode}:\n{result.stderr[-3000:]}"
    lines = result.stderr.rstrip("\n").splitlines()
    assert lines, f"exit {result.returncode} without a word on stderr"
    last = lines[-1]
    # A tool's output is detail (indented) above the headline: the last line is the headline, naming what failed.
    assert last.strip() and not last[0].isspace(), f"the last line is not an error line:\n{result.stderr[-3000:]}"
    assert not TOOL_LINE.match(last), f"the last line is a tool's output, not the error:\n{result.stderr[-3000:]}"
    assert not last.endswith(":"), f"the last line announces output that is not below it:\n{result.stderr[-3000:]}"
    assert len(last) <= LAST_LINE_LIMIT, f"a {len(last)}-character error line: {last[:300]}…"


def postcondition(command: str, argv: list[str], result: subprocess.CompletedProcess[str], cwd: Path) -> None:
    """What exit 0 promises, checked on the files (not on the words) where that is cheap."""
    if result.returncode != 0:
        return

    def given(flag: str) -> Path | None:  # argparse keeps an option's last value
        at = max((i for i, word in enumerate(argv[:-1]) if word == flag), default=None)
        return None if at is None else cwd / argv[at + 1]

    project = given("--project") or cwd
    if command == "verify":
        assert "installable (" in result.stderr, result.stderr[-2000:]
    elif command == "validate":
        manifest = given("--file") or project / "gatewayd_plugin.yaml"
        assert manifest.is_file(), f"validated {manifest}, which is not a regular file"
    elif command in ("build", "release", "package", "merge"):
        where = given("--out") if command == "merge" else given("--dist") or project / "dist"
        assert where is not None and (where / "metadata.json").is_file(), f"{command} exited 0 without a dist"


def materialise(world: World, argv: list[str]) -> list[str]:
    return [world.resolve(word) for word in argv]


def fresh_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    root.chmod(0o755)  # a throwaway PostgreSQL (run as another user) may need to enter it
    return root


def run_example(tmp_path_factory: pytest.TempPathFactory, templates: Templates, data: st.DataObject,
                make_argv: Callable[[World], list[str]], command: str) -> None:
    root = fresh_root(tmp_path_factory)
    try:
        world = World(root, templates, data.draw)
        argv = make_argv(world)
        result = run(argv, root, data.draw(st.booleans(), label="on Actions"))
        assert_verdict(result, root)
        postcondition(command, argv, result, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def answers_any_arguments(command: str, templates: Templates, tmp_path_factory: pytest.TempPathFactory,
                          data: st.DataObject) -> None:
    def make(world: World) -> list[str]:
        # govulncheck's default database is vuln.go.dev: a local one first (a drawn --db comes later and wins).
        local = ["--db", "file:///nonexistent-vulndb"] if command == "govulncheck" else []
        return [command, *local, *materialise(world, data.draw(argv_for(OPTIONS[command]), label="argv"))]

    run_example(tmp_path_factory, templates, data, make, command)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in GO_HEAVY])
@settings(max_examples=EXAMPLES, **CLI_SETTINGS)
@given(data=st.data())
def test_every_subcommand_answers_any_arguments(command: str, templates: Templates,
                                                tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    answers_any_arguments(command, templates, tmp_path_factory, data)


@pytest.mark.parametrize("command", sorted(GO_HEAVY))
@settings(max_examples=HEAVY_EXAMPLES, **CLI_SETTINGS)
@given(data=st.data())
def test_go_subcommands_answer_any_arguments(command: str, templates: Templates,
                                             tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    answers_any_arguments(command, templates, tmp_path_factory, data)


@st.composite
def argument_string(draw: st.DrawFn, world: World, command: str) -> str:
    """A subcommand's arguments joined as the root action's ``args`` input, sometimes spoilt (a quote or a
    backslash dropped in, a shell construct, any text)."""
    words = materialise(world, draw(argv_for(OPTIONS.get(command, []))))
    if command == "govulncheck":  # never its default database, vuln.go.dev (a drawn --db comes later and wins)
        words = ["--db", "file:///nonexistent-vulndb", *words]
    text = shlex.join(words)
    spoil = draw(st.sampled_from(["none", "insert", "append", "any"]))
    if spoil == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["'", '"', "\\", "$(", "`", "\n", " -- "])) + text[at:]
    elif spoil == "append":
        text += " " + draw(st.sampled_from(["$(rm -rf ~)", "'unterminated", "--", "-h", "--version", "#c"]))
    elif spoil == "any":
        text = draw(WORD)
    return text


@settings(max_examples=EXAMPLES, **CLI_SETTINGS)
@given(st.data())
def test_toolbox_argument_strings_end_to_end(templates: Templates, tmp_path_factory: pytest.TempPathFactory,
                                             data: st.DataObject) -> None:
    command = data.draw(st.sampled_from([*COMMANDS, "toolbox", "step"]) | WORD, label="command")

    def make(world: World) -> list[str]:
        return ["toolbox", "--", command, data.draw(argument_string(world, command.strip()), label="args")]

    run_example(tmp_path_factory, templates, data, make, "toolbox")


@settings(max_examples=EXAMPLES, **CLI_SETTINGS)
@given(st.data())
def test_composite_steps_take_any_inputs(templates: Templates, tmp_path_factory: pytest.TempPathFactory,
                                         data: st.DataObject) -> None:
    """``step NAME`` as a composite runs it: its project is the working directory, its inputs ``GPA_*`` env."""
    step = data.draw(st.sampled_from(sorted(set(STEPS) - NO_STEP)), label="step")
    inputs = sorted({name for names in action_inputs().values() for name in names})
    root = fresh_root(tmp_path_factory)
    try:
        world = World(root, templates, data.draw)
        cwd = Path(world.resolve(data.draw(family("--project"), label="working directory")))
        if not cwd.is_dir():
            cwd = root
        env = {f"GPA_{name.upper().replace('-', '_')}": world.resolve(data.draw(family(name), label=name))
               for name in data.draw(st.lists(st.sampled_from(inputs), max_size=6, unique=True), label="inputs")}
        env = {"GPA_TARGETS": "linux/amd64", **env, "GPA_GITHUB_TOKEN": SECRET}  # one target unless drawn
        result = run(["step", step], root, actions=True, cwd=cwd, env=env)
        assert_verdict(result, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
