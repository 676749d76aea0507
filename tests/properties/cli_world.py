"""What the CLI-as-a-subprocess properties feed the real ``gatewayd-plugin-actions``: argument vectors drawn from
its own argparse parsers (every option of every subcommand, so a new flag is fuzzed the day it lands), values of
the kind each flag takes or of any other kind, and the files they name, laid out per example in a fresh
directory: projects, manifests, dists, report dirs, special files (a FIFO, a device, a symlink loop, names too
long for the file system). A planted secret sits in the environment and in every URL's credentials."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import strategies as st

from gatewayd_plugin_actions import cli
from tests.conftest import REPO_ROOT, clean_env
from tests.properties.strategies import VALUES, apply, damage, mutated_manifest

# Not token-shaped (no ghp_/ghs_ prefix): only real redaction keeps it out, not the token pattern.
SECRET = "pl4ntedS3cret-7f3a9c0e21"
CLI_BINARY = REPO_ROOT / ".venv" / "bin" / "gatewayd-plugin-actions"
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, so any request fails at once, on loopback
ACTIONS = ("action.yml", "test/action.yml", "test-plugin/action.yml", "release/action.yml")

# Text that can be an argv word: no NUL, no lone surrogates (they cannot be encoded into argv).
WORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
PATHS = ["missing", "file", "dir", "/dev/null", "/dev/zero", "fifo", "dangling", "loop", "long-name", "deep",
         "binary", "utf16", "with space", "-dash", "", "."]
PROJECTS = ["example", "empty", "missing", "file", "manifest-only", "generated", "raw-manifest", "fifo-manifest"]
DISTS = ["good", "damaged", "metadata", "empty", "missing", "file", "strays"]
TAGS = ["v1.2.3", "v0.1.0", "v1.2.3-rc.1", "1.2.3", "v1.2", "v01.2.3", "v1.2.3+build.1", "latest", "none", "",
        "v1.0.0-" + "a" * 300, "v1.2.3\n", "v1.0.1\u0663", "V1.2.3"]
TARGETS = ["linux/amd64", "linux/amd64,darwin/arm64", "", "linux", "plan9/mips", "linux/amd64,linux/amd64",
           " , ", "linux/amd64 windows/arm64", "Linux/AMD64"]
URLS = [f"postgres://alice:{SECRET}@127.0.0.1:9/db", f"postgresql://u:p@{SECRET}@127.0.0.1:1/db?sslmode=x",
        f"https://x-access-token:{SECRET}@127.0.0.1:9/vuln", f"https://{SECRET}@127.0.0.1:9", "file:///nonexistent",
        "postgres://127.0.0.1:notaport/db", "not a url", f"http://u:{SECRET}@[::1]:9/"]
NUMBERS = ["0", "1", "-1", "4", "1e9", "nan", "inf", "0.5", "abc", "", "99999999999999999999"]
ENV_LINES = ["A=b", "=b", "A", "A B=c", f"TOKEN={SECRET}", "A=b\nC=d", "PATH=/x", ""]


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    takes_value: bool
    choices: tuple[str, ...]
    repeatable: bool


def subcommand_options() -> dict[str, list[Option]]:
    """Every subcommand's options, read from the CLI's own parsers."""
    parser = cli.make_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: dict[str, list[Option]] = {}
    for name, sub in subparsers.choices.items():
        found[name] = [Option(tuple(a.option_strings), a.nargs != 0, tuple(map(str, a.choices or ())),
                              isinstance(a, argparse._AppendAction) or a.nargs in ("*", "+"))
                       for a in sub._actions if a.option_strings and "-h" not in a.option_strings]
    return found


def action_inputs() -> dict[str, list[str]]:
    """Each composite's inputs (its ``GPA_*`` env, as ``step`` reads it)."""
    return {path: list(yaml.safe_load((REPO_ROOT / path).read_text(encoding="utf-8")).get("inputs") or {})
            for path in ACTIONS}


def family(flag: str) -> st.SearchStrategy[str]:
    """Values of the kind a flag (or an input) named ``flag`` takes, as symbols :func:`materialise` resolves."""
    name = flag.lstrip("-")
    if "project" in name or name == "working-directory":
        return st.sampled_from(PROJECTS).map(lambda p: f"@project:{p}")
    if name in ("dist", "merge-dir") or name.endswith("dist"):
        return st.sampled_from(DISTS).map(lambda d: f"@dist:{d}")
    if name in ("out", "report-dir", "keep-logs"):
        return st.sampled_from(["report", *PATHS]).map(lambda p: f"@path:{p}")
    if name.endswith(("version-variable",)):
        return st.sampled_from(["github.com/gatewayd-plugin-actions/gatewayd-plugin-example/plugin.Version",
                                "main.Version", "none", "x", "https://github.com/o/r/plugin.Version", "a.B.c"])
    if name.endswith(("version", "tag")):
        return st.sampled_from(TAGS)
    if "target" in name:
        return st.sampled_from(TARGETS)
    if "url" in name or name == "db":
        return st.sampled_from(URLS)
    if "env" in name:
        return st.lists(st.sampled_from(ENV_LINES), max_size=3).map("\n".join)
    if name.endswith(("file", "files", "binary", "coverprofile")) or name in ("sql-file", "expect-file"):
        return st.sampled_from(PATHS).map(lambda p: f"@path:{p}")
    if name in ("jobs", "concurrency") or "timeout" in name:
        return st.sampled_from(NUMBERS)
    if name in ("repository",):
        return st.sampled_from(["gatewayd-plugin-actions/gatewayd-plugin-example", "o/r", "noslash", "a/b/c", ""])
    return WORD


def value_for(flag: str) -> st.SearchStrategy[str]:
    """The flag's own kind of value, or any other kind."""
    return st.one_of(family(flag), family("--project"), family("--dist"), family("--coverprofile"), WORD,
                     st.sampled_from(TAGS + URLS + NUMBERS))


@st.composite
def argv_for(draw: st.DrawFn, options: list[Option]) -> list[str]:
    """A few of a subcommand's options with values, sometimes a stray word, in drawn order."""
    argv: list[str] = []
    for option in draw(st.lists(st.sampled_from(options), max_size=5)) if options else []:
        flag = draw(st.sampled_from(option.flags))
        if option.choices and draw(st.booleans()):
            argv += [flag, draw(st.sampled_from(option.choices))]
        elif option.takes_value:
            argv += [flag, draw(value_for(flag))]
        else:
            argv.append(flag)
    if draw(st.integers(0, 5)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(WORD))
    return argv


@dataclass(frozen=True)
class Templates:
    example: Path  # the example plugin, git-initialised and tagged
    good_dist: Path  # a valid dist of one target


class World:
    """One example's directory: symbols such as ``@project:example`` become real files under it."""

    def __init__(self, root: Path, templates: Templates, draw: st.DrawFn) -> None:
        self.root = root
        self.example = templates.example
        self.good_dist = templates.good_dist
        self.draw = draw
        self.made: dict[str, str] = {}

    def resolve(self, word: str) -> str:
        for kind in ("project", "dist", "path"):
            prefix = f"@{kind}:"
            if word.startswith(prefix):
                key = word
                if key not in self.made:
                    self.made[key] = getattr(self, kind)(word[len(prefix):])
                return self.made[key]
        return word

    def path(self, kind: str) -> str:
        base = self.root / "things"
        base.mkdir(exist_ok=True)
        target = base / f"{kind or 'blank'}-{len(self.made)}"
        if kind == "file":
            target.write_text("plugins: []\n", encoding="utf-8")
        elif kind in ("dir", "report"):
            target.mkdir()
            if kind == "report":
                self._report(target)
        elif kind == "fifo":
            os.mkfifo(target)
        elif kind == "dangling":
            target.symlink_to(base / "nowhere")
        elif kind == "loop":
            target.symlink_to(target)
        elif kind == "binary":
            target.write_bytes(bytes(range(256)) * 4)
        elif kind == "utf16":
            target.write_bytes("\ufeffplugins: []\n".encode("utf-16"))
        elif kind == "long-name":
            return str(base / ("n" * 300))
        elif kind == "deep":
            return str(base / "/".join(["d" * 200] * 25))
        elif kind == "with space":
            target = base / "a b"
            target.write_text("x\n", encoding="utf-8")
        elif kind in ("/dev/null", "/dev/zero", "", ".", "-dash"):
            return kind
        return str(target)

    def project(self, kind: str) -> str:
        target = self.root / "projects" / kind
        target.parent.mkdir(exist_ok=True)
        if kind == "example":
            return str(self.example)
        if kind == "missing":
            return str(target)
        if kind == "file":
            target.write_text("not a project\n", encoding="utf-8")
            return str(target)
        target.mkdir()
        if kind == "generated":  # the example's Go code with a manifest mutated any way
            shutil.copytree(self.example, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
        manifest = target / "gatewayd_plugin.yaml"
        if kind in ("manifest-only", "generated"):
            manifest.write_text(self.draw(mutated_manifest()), encoding="utf-8")
        elif kind == "raw-manifest":
            manifest.write_bytes(self.draw(st.binary(max_size=64)))
        elif kind == "fifo-manifest":
            os.mkfifo(manifest)
        return str(target)

    def dist(self, kind: str) -> str:
        target = self.root / "dists" / f"{kind}-{len(self.made)}"
        target.parent.mkdir(exist_ok=True)
        if kind in ("good", "damaged"):
            shutil.copytree(self.good_dist, target)
            if kind == "damaged":
                apply(target, *self.draw(damage()))
        elif kind == "metadata":
            target.mkdir()
            (target / "metadata.json").write_text(json.dumps(self.draw(VALUES)), encoding="utf-8")
        elif kind == "strays":
            target.mkdir()
            for name in self.draw(st.lists(st.sampled_from(["checksums.txt", "metadata.json", "x.tar.gz",
                                                            "gatewayd-plugin-example-linux-amd64-v1.2.3.tar.gz",
                                                            ".build"]), max_size=3, unique=True)):
                (target / name).write_bytes(self.draw(st.binary(max_size=32)))
        elif kind == "empty":
            target.mkdir()
        elif kind == "file":
            target.write_text("x\n", encoding="utf-8")
        return str(target)

    def _report(self, target: Path) -> None:
        """A report dir as the checks leave it, with files of any content."""
        for name in self.draw(st.lists(st.sampled_from(["go-test.json", "golangci-lint.json", "govulncheck.json",
                                                        "lint-plan.json", "coverage.out", "junk"]), max_size=3)):
            (target / name).write_text(json.dumps(self.draw(VALUES)) if self.draw(st.booleans())
                                       else self.draw(WORD), encoding="utf-8")


def cli_env(root: Path, actions: bool) -> dict[str, str]:
    """No network beyond loopback (and nothing listening there), a planted token, on Actions or not."""
    env = clean_env(GITHUB_TOKEN=SECRET, GH_TOKEN=SECRET, GITHUB_API_URL=CLOSED, GATEWAYD_RELEASES_API_URL=CLOSED,
                    HTTPS_PROXY=CLOSED, HTTP_PROXY=CLOSED, GOPROXY="off",
                    GITHUB_REPOSITORY="gatewayd-plugin-actions/gatewayd-plugin-example", TMPDIR=str(root))
    env.pop("NO_PROXY", None)
    if actions:
        env.update(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(root / "github-output"),
                   GITHUB_STEP_SUMMARY=str(root / "step-summary"), RUNNER_TEMP=str(root))
    return env
