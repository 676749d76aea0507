"""Every pin has a bot that moves it, and the bot's pull request keeps the suite green.

The hygiene suite requires one SHA per action across the composites, our workflows, the templates and the act
workflows. So Dependabot must watch all of those files and bump them in one grouped PR; a bump that misses one
file must be caught, naming it. Here a grouped bump is replayed the way Dependabot's github-actions updater
does it (the SHA and the version in its comment, in every file its fetcher reads for the configured
directories) on a copy of the repository, and the same checks run on the copy.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatewayd_plugin_actions import gotools
from gatewayd_plugin_actions.checks import golangci
from gatewayd_plugin_actions.checks.govulncheck import GOVULNCHECK
from tests.conftest import REPO_ROOT
from tests.hygiene.test_hygiene import action_files, pin_problems, pinned_references, workflow_files

BIN = Path(sys.executable).parent
DEPENDABOT = REPO_ROOT / ".github" / "dependabot.yml"
# go.mod files no bot moves, and why (a new entry here needs a reason a reviewer accepts).
GO_MODS_NOT_BUMPED = {
    "tools/go/gatewayd-v0.10.3/go.mod": "the GatewayD release its name says (the oldest the templates support)",
    "tools/go/gatewayd-v0.11.1/go.mod": "the GatewayD release its name says (the demo's and the tests' current one)",
    "examples/gatewayd-plugin-example/go.mod": "a plugin as authors have them; the tests expect its Go and SDK",
    "scripts/gatewayd_plugin_actions/contract/archivecheck/go.mod": "stdlib only: nothing to bump",
}


def dependabot_entries(ecosystem: str) -> list[dict[str, Any]]:
    config = yaml.safe_load(DEPENDABOT.read_text(encoding="utf-8"))
    return [u for u in config["updates"] if u["package-ecosystem"] == ecosystem]


def directories(ecosystem: str) -> list[str]:
    found: list[str] = []
    for entry in dependabot_entries(ecosystem):
        found += entry.get("directories") or [entry["directory"]]
    return found


def watched_by_github_actions(root: Path) -> set[Path]:
    """The files Dependabot's github-actions fetcher reads for the configured directories: for `/`, action.yml
    (or .yaml) and `.github/workflows/*.y(a)ml`; for any other directory, every `*.y(a)ml` directly in it."""
    watched: set[Path] = set()
    for directory in directories("github-actions"):
        if directory == "/":
            watched |= {root / name for name in ("action.yml", "action.yaml") if (root / name).is_file()}
            folder = root / ".github" / "workflows"
        else:
            folder = root / directory.strip("/")
        watched |= {p for p in folder.glob("*") if p.is_file() and re.search(r"\.ya?ml$", p.name)}
    return watched


def copy_of_the_pinned_files(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for path in {*action_files(), *workflow_files()}:
        target = root / path.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return root


def bump(files: set[Path], repo: str) -> tuple[str, str, str, str]:
    """Move ``repo`` to a new release in ``files`` as Dependabot does: the 40-hex SHA after `@` and the version in
    the comment that follows it. Returns (old sha, old version, new sha, new version)."""
    pins = {(ref.partition("@")[2], version) for _, _, ref, version in pinned_references()
            if ref.startswith(repo + "@")}
    assert len(pins) == 1, f"{repo} is pinned to {pins} here already"
    ((old_sha, old_version),) = pins
    assert old_version is not None
    major, minor, patch = (int(x) for x in old_version.lstrip("v").split(".")[:3])
    new_version = f"v{major}.{minor}.{patch + 1}"
    new_sha = hashlib.sha1(f"{repo}@{new_version}".encode()).hexdigest()
    line = re.compile(rf"(uses:\s*{re.escape(repo)}(?:/[\w./-]+)?@){old_sha}(\s+#\s*){re.escape(old_version)}\b")
    for path in files:
        text = path.read_text(encoding="utf-8")
        path.write_text(line.sub(rf"\g<1>{new_sha}\g<2>{new_version}", text), encoding="utf-8")
    return old_sha, old_version, new_sha, new_version


def test_dependabot_watches_every_file_with_a_sha_pin() -> None:
    watched = watched_by_github_actions(REPO_ROOT)
    unwatched = sorted({str(path.relative_to(REPO_ROOT)) for path, *_ in pinned_references()} -
                       {str(p.relative_to(REPO_ROOT)) for p in watched})
    assert unwatched == [], f"add their folders to the github-actions directories of {DEPENDABOT.name}"
    (entry,) = dependabot_entries("github-actions")
    assert entry["groups"]["actions"]["patterns"] == ["*"], "one group, or a bump splits across PRs"


@pytest.mark.parametrize("repo", ["actions/checkout", "actions/setup-go"])
def test_a_grouped_bump_keeps_the_pin_checks_green(tmp_path: Path, repo: str) -> None:
    root = copy_of_the_pinned_files(tmp_path)
    old_sha, _, new_sha, new_version = bump(watched_by_github_actions(root), repo)
    texts = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*.y*ml"))
    assert old_sha not in texts, "the bump missed a pin"
    assert f"{repo}@{new_sha} # {new_version}" in texts
    problems, pinned = pin_problems(root)
    assert problems == []
    assert repo in pinned
    # The SHA-pin rules as zizmor applies them, on the bumped files.
    files = [*action_files(root), *workflow_files(root)]
    result = subprocess.run([str(BIN / "zizmor"), "--offline", "--config", str(REPO_ROOT / ".github" / "zizmor.yml"),
                             "--format", "plain", *map(str, files)], capture_output=True, text=True, timeout=300,
                            check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bump_of_one_file_only_is_caught_naming_it(tmp_path: Path) -> None:
    root = copy_of_the_pinned_files(tmp_path)
    template = root / "workflows" / "test.yaml"
    old_sha, old_version, new_sha, new_version = bump({template}, "actions/checkout")
    problems, _ = pin_problems(root)
    assert problems, "a partial bump passed"
    first = problems[0]
    # Whichever file is met first, the message names both pins, both versions, a file:line and the fix.
    assert re.match(r"^[\w./-]+\.ya?ml:\d+: actions/checkout@[0-9a-f]{40} \(v[\d.]+\) differs from "
                    r"[\w./-]+\.ya?ml:\d+: @[0-9a-f]{40} \(v[\d.]+\); pin one release everywhere$", first), first
    assert {old_sha, new_sha} <= set(re.findall(r"[0-9a-f]{40}", first))
    assert {old_version, new_version} <= set(re.findall(r"v\d+\.\d+\.\d+", first))
    assert any("workflows/test.yaml:" in p for p in problems)


def test_a_comment_left_behind_is_caught(tmp_path: Path) -> None:
    """Dependabot rewrites the comment with the SHA; a hand edit that moves only the SHA is a lie about the
    version. The same SHA with two different version comments is refused."""
    root = copy_of_the_pinned_files(tmp_path)
    template = root / "workflows" / "test.yaml"
    text = template.read_text(encoding="utf-8")
    old = re.search(r"actions/checkout@[0-9a-f]{40} # (v[\d.]+)", text)
    assert old is not None
    template.write_text(text.replace(f"# {old.group(1)}", "# v0.0.1"), encoding="utf-8")
    problems, _ = pin_problems(root)
    assert any("workflows/test.yaml:" in p and "v0.0.1" in p and "fix the comment" in p for p in problems), problems


def go_mods_with_requirements() -> set[str]:
    found = set()
    for path in REPO_ROOT.rglob("go.mod"):
        if {".venv", "dist"} & set(path.relative_to(REPO_ROOT).parts):
            continue
        found.add(str(path.relative_to(REPO_ROOT)))
    return found


def test_dependabot_watches_every_go_mod_that_pins_a_tool() -> None:
    watched = {d.strip("/") + "/go.mod" for d in directories("gomod")}
    every = go_mods_with_requirements()
    assert set(GO_MODS_NOT_BUMPED) <= every, "an exemption names a go.mod that is gone"
    assert watched <= every, "dependabot.yml names a folder without go.mod"
    assert every - watched - set(GO_MODS_NOT_BUMPED) == set(), "watch them (gomod) or exempt them with a reason"
    assert watched & set(GO_MODS_NOT_BUMPED) == set()


def test_the_go_tool_versions_come_from_the_watched_go_mods() -> None:
    """govulncheck's and golangci-lint v2's versions are read from toolpins/ at run time, so a gomod bump there is
    the whole change (a v2 that needs a newer Go also needs a row: tests/checks/test_go_checks.py)."""
    watched = {d.strip("/") for d in directories("gomod")}
    pins = gotools.TOOL_PINS.read_text(encoding="utf-8")
    assert f"\nrequire golang.org/x/vuln {GOVULNCHECK.version}\n" in pins
    assert str(gotools.TOOL_PINS.parent.relative_to(REPO_ROOT)) in watched
    assert re.fullmatch(r"v\d+\.\d+\.\d+", GOVULNCHECK.version)
    v2_pins = golangci.V2_PINS.read_text(encoding="utf-8")
    (_, newest), *_ = golangci.v2_by_go()
    assert f"\nrequire {golangci.V2_MODULE} {newest}\n" in v2_pins
    assert str(golangci.V2_PINS.parent.relative_to(REPO_ROOT)) in watched


def uv_compile_command() -> str:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^UV_COMPILE := \S+/uv (pip compile .*)$", makefile, re.MULTILINE)
    assert match is not None, "Makefile: no UV_COMPILE"
    return "uv " + match.group(1).replace(" --quiet", "")


@pytest.mark.parametrize("name", ["runtime", "dev"])
def test_locks_carry_the_header_dependabot_recompiles_with(name: str) -> None:
    """Dependabot's uv updater recompiles requirements/<name>.txt with the options it reads from the file:
    --python-version and --output-file from uv's header, --generate-hashes from the hashes."""
    assert directories("uv") == ["/requirements"]
    lines = (REPO_ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# This file was autogenerated by uv via the following command:"
    assert lines[1] == f"#    {uv_compile_command()} --output-file={name}.txt {name}.in"
    assert "--python-version 3.11" in lines[1] and "--generate-hashes" in lines[1]
    assert any(line.strip().startswith("--hash=sha256:") for line in lines)
