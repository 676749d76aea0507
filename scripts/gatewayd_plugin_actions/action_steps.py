"""What each step of the composite actions runs: its inputs, read from ``GPA_*`` env, become one CLI call.

Every ``run:`` in an ``action.yml`` is ``"$GPA_PYTHON" -m gatewayd_plugin_actions step NAME``: the action maps
its inputs to namespaced env vars (never ``${{ }}`` inside ``run:``) and every decision — which flags an
input turns into, which later steps run, what the attestation policy says, how an argument string splits —
is made here, where it is typed, tested and reported as a one-line error naming the input.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.redaction import redact_argv

ENV_PREFIX = "GPA_"


@dataclass(frozen=True)
class Inputs:
    """An action's inputs as its ``env:`` passed them: ``GPA_EXTRA_FILES`` is the input ``extra-files``."""

    action: str
    environ: dict[str, str]

    @classmethod
    def from_env(cls, action: str) -> Inputs:
        return cls(action, dict(os.environ))

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), default).strip()

    def raw(self, name: str) -> str:
        """The value untouched (multi-line inputs such as plugin-env keep their lines)."""
        return self.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), "")

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default) or default
        if value.lower() not in allowed:
            raise UserError(f"{self.action}: input {name} must be {_or(allowed)}, not {value!r}")
        return value.lower()

    def flag(self, name: str, default: bool = False) -> bool:
        return self.choice(name, ("true", "false"), "true" if default else "false") == "true"

    def words(self, name: str) -> list[str]:
        """A list input split like a POSIX shell would, never evaluated: quotes keep spaces, `$(…)` stays literal."""
        text = self.raw(name)
        try:
            return shlex.split(text, comments=False, posix=True)
        except ValueError as exc:
            raise UserError(f"{self.action}: input {name} {text!r} cannot be split: {exc} (quote with ' or \")") \
                from None


def _or(values: tuple[str, ...]) -> str:
    return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


def runner_temp() -> Path:
    return Path(os.environ.get("RUNNER_TEMP") or os.environ.get("TMPDIR") or "/tmp")


def slug(text: str) -> str:
    """A name safe for an artifact: runs of anything but letters and digits become one `-`."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def run_cli(argv: list[str]) -> int:
    from gatewayd_plugin_actions import cli  # noqa: PLC0415 - cli dispatches to this module

    actions_io.progress(f"$ gatewayd-plugin-actions {redact_argv(argv)}")
    return cli.main(argv)


def set_flags(**flags: bool) -> None:
    """Step outputs that later steps' ``if:`` read: the decision is made here, YAML only compares to 'true'."""
    for name, value in flags.items():
        actions_io.set_output(name.replace("_", "-"), "true" if value else "false")


# --- release ------------------------------------------------------------------------------------------

RELEASE_DIST = "gpa-dist"
RELEASE_PARTS = "gpa-parts"
ARTIFACT_PREFIX = "gpa-dist-"


@dataclass(frozen=True)
class AttestDecision:
    run: bool
    notice: str | None = None


def attest_decision(policy: str, *, server_url: str, id_token_url: str, visibility: str) -> AttestDecision:
    """Whether to attest provenance: ``true``/``false`` as said; ``auto`` only where GitHub can."""
    if policy != "auto":
        return AttestDecision(policy == "true")
    if server_url.rstrip("/") != "https://github.com":
        return AttestDecision(False, "skipped: artifact attestations are not available on GitHub Enterprise Server")
    if not id_token_url:
        return AttestDecision(False, "skipped: the job lacks 'permissions: id-token: write' (and 'attestations: "
                                     "write') to attest provenance")
    if visibility != "public":
        return AttestDecision(False, "skipped: attestations for non-public repositories need GitHub Enterprise "
                                     "Cloud (set attest: true to try anyway)")
    return AttestDecision(True)


def release_plan(inputs: Inputs) -> int:
    """Check the mode and every choice input before anything runs, and say which steps will."""
    mode = inputs.choice("mode", ("full", "build", "publish"), "full")
    snapshot = inputs.flag("snapshot")
    for name in ("cgo", "draft"):
        inputs.flag(name)
    inputs.choice("prerelease", ("auto", "true", "false"), "auto")
    inputs.choice("make-latest", ("auto", "true", "false"), "auto")
    policy = inputs.choice("attest", ("auto", "true", "false"), "auto")
    if snapshot and mode == "publish":
        raise UserError("release: snapshot: true builds only; it cannot be combined with mode: publish")
    publishes = mode != "build" and not snapshot
    attest = AttestDecision(False)
    if publishes:
        attest = attest_decision(policy, server_url=inputs.text("server-url", "https://github.com"),
                                 id_token_url=os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL", ""),
                                 visibility=inputs.text("visibility"))
        if attest.notice:
            actions_io.report([Problem(attest.notice, severity="notice", title="attest")])
    set_flags(build=mode != "publish", upload=mode == "build" and not snapshot, merge=mode == "publish",
              publish=publishes, attest=attest.run, attest_optional=policy == "auto")
    actions_io.set_output("dist", str(runner_temp() / RELEASE_DIST))
    actions_io.set_output("parts", str(runner_temp() / RELEASE_PARTS))
    actions_io.set_output("artifact", ARTIFACT_PREFIX + (slug(inputs.text("targets")) or "all"))
    return 0


def release_preflight(inputs: Inputs) -> int:
    return run_cli(["preflight", "--repository", inputs.text("repository")])


def build_flags(inputs: Inputs) -> list[str]:
    """The build inputs release and test-plugin share, with the same names and meaning."""
    argv = []
    if inputs.text("version-variable"):
        argv += ["--version-variable", inputs.text("version-variable")]
    if inputs.flag("cgo"):
        argv.append("--cgo")
    extra = inputs.words("extra-files")
    if extra:
        argv += ["--extra-files", *extra]
    return argv


def release_build(inputs: Inputs) -> int:
    argv = ["release", "--snapshot", "--version", inputs.text("version"), "--dist",
            str(runner_temp() / RELEASE_DIST), "--repository", inputs.text("repository"),
            f"--plugin-env={inputs.raw('plugin-env')}", "--gatewayd-version", inputs.text("gatewayd-version")]
    if inputs.text("targets"):
        argv += ["--targets", inputs.text("targets")]
    return run_cli(argv + build_flags(inputs))


def release_merge(inputs: Inputs) -> int:
    parts = sorted(p for p in (runner_temp() / RELEASE_PARTS).glob(ARTIFACT_PREFIX + "*") if p.is_dir())
    if not parts:
        raise UserError(f"release: no build job's dist was downloaded (artifacts named {ARTIFACT_PREFIX}*); run "
                        "the build jobs with mode: build and make this job `needs:` them")
    argv = ["merge", "--out", str(runner_temp() / RELEASE_DIST), "--repository", inputs.text("repository"),
            f"--plugin-env={inputs.raw('plugin-env')}"]
    for part in parts:
        argv += ["--dist", str(part)]
    return run_cli(argv)


def release_attest_failed(inputs: Inputs) -> int:
    actions_io.report([Problem("provenance attestation failed; the release goes on without it (attest is auto)",
                               severity="warning", title="attest")])
    return 0


def release_publish(inputs: Inputs) -> int:
    argv = ["publish", "--dist", str(runner_temp() / RELEASE_DIST), "--version", inputs.text("version"),
            "--repository", inputs.text("repository"),
            "--prerelease", inputs.choice("prerelease", ("auto", "true", "false"), "auto"),
            "--make-latest", inputs.choice("make-latest", ("auto", "true", "false"), "auto"),
            f"--plugin-env={inputs.raw('plugin-env')}"]
    if inputs.flag("draft"):
        argv.append("--draft")
    return run_cli(argv)


# --- test ---------------------------------------------------------------------------------------------

def checks_validate(inputs: Inputs) -> int:
    return run_cli(["validate", f"--repository={inputs.text('repository')}"])


def checks_plan(inputs: Inputs) -> int:
    lint = inputs.flag("golangci-lint", default=True)
    vuln = inputs.flag("govulncheck", default=True)
    inputs.flag("coverage", default=True)
    version = inputs.text("golangci-lint-version", "auto") if lint else "auto"
    code = run_cli(["lint-plan", f"--golangci-lint-version={version or 'auto'}"])
    if code == 0:  # a failed plan runs none of the tools
        set_flags(lint=lint, govulncheck=vuln, tools_cache=lint or vuln)
    return code


def checks_lint(inputs: Inputs) -> int:
    return run_cli(["lint", "--report-dir", inputs.text("report-dir"),
                    f"--golangci-lint-version={inputs.text('golangci-lint-version')}",
                    f"--args={inputs.raw('golangci-lint-args')}"])


def checks_govulncheck(inputs: Inputs) -> int:
    return run_cli(["govulncheck", "--report-dir", inputs.text("report-dir")])


def checks_go_test(inputs: Inputs) -> int:
    argv = ["go-test", "--report-dir", inputs.text("report-dir"), f"--test-args={inputs.raw('test-args')}"]
    if not inputs.flag("coverage", default=True):
        argv.append("--no-coverage")
    if inputs.flag("allow-no-tests", default=False):
        argv.append("--allow-no-tests")
    return run_cli(argv)


def checks_summary(inputs: Inputs) -> int:
    return run_cli(["test-summary", "--report-dir", inputs.text("report-dir")])


# --- test-plugin --------------------------------------------------------------------------------------

def integration_run(inputs: Inputs) -> int:
    logs = runner_temp() / "gatewayd-plugin-actions-test-plugin-logs"
    parts = [os.environ.get("GITHUB_JOB", "job"), inputs.text("gatewayd-version"), os.environ.get("RUNNER_OS", ""),
             os.environ.get("RUNNER_ARCH", ""), os.environ.get("GITHUB_RUN_ATTEMPT", "1")]
    actions_io.set_output("logs", str(logs))
    actions_io.set_output("logs-name", "test-plugin-logs-" + "-".join(slug(p) for p in parts if p))
    argv = ["test-plugin", "--project", ".", "--gatewayd-version", inputs.text("gatewayd-version"),
            "--keep-logs", str(logs), "--repository", inputs.text("repository"),
            f"--plugin-env={inputs.raw('plugin-env')}",
            "--plugin-errors", inputs.choice("plugin-errors", ("warn", "fail", "ignore"), "warn"),
            "--start-timeout", inputs.text("start-timeout", "10s")]
    for name in ("postgres-url", "sql-file", "expect-file"):
        if inputs.text(name):
            argv += [f"--{name}", inputs.text(name)]
    return run_cli(argv + build_flags(inputs))


# --- the root action ----------------------------------------------------------------------------------

def toolbox(inputs: Inputs) -> int:
    return run_cli(["toolbox", "--", inputs.text("command"), inputs.raw("args")])


Step = Callable[[Inputs], int]

# Step name → (the action whose inputs it reads, what it runs).
STEPS: dict[str, tuple[str, Step]] = {
    "release-plan": ("release", release_plan),
    "release-preflight": ("release", release_preflight),
    "release-build": ("release", release_build),
    "release-merge": ("release", release_merge),
    "release-attest-failed": ("release", release_attest_failed),
    "release-publish": ("release", release_publish),
    "test-validate": ("test", checks_validate),
    "test-plan": ("test", checks_plan),
    "test-lint": ("test", checks_lint),
    "test-govulncheck": ("test", checks_govulncheck),
    "test-go-test": ("test", checks_go_test),
    "test-summary": ("test", checks_summary),
    "test-plugin": ("test-plugin", integration_run),
    "toolbox": ("gatewayd-plugin-actions", toolbox),
}


def run_step(name: str) -> int:
    action, step = STEPS[name]
    return step(Inputs.from_env(action))
