"""Our composite actions under a real Actions engine: nektos/act (built from Go modules), host mode.

Each test makes a scratch git repository holding this checkout's actions, scripts and the example plugin
(origin: gatewayd-plugin-actions/gatewayd-plugin-example, so ``github.repository`` is what a plugin sees),
puts a workflow from ``tests/act/workflows/`` under ``.github/workflows/`` and runs ``act push`` with
``-P ubuntu-latest=-self-hosted``. Third-party actions are the only thing replaced: each pinned
``owner/repo@sha`` our actions use is mapped to a clearly labelled stub (``tests/act/stubs``) with
``--local-repository``, because act would clone them from GitHub. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.checks.test_go_checks import write_vuln_db
from tests.conftest import EXAMPLE_PLUGIN, REPO_ROOT, clean_env, copy_plugin
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.go import patch_plugin_variant
from tests.gatewayd.test_download import gatewayd_release_assets
from tests.hygiene.test_hygiene import SHA_PIN, action_files, gobin, third_party

ACT_DIR = REPO_ROOT / "tests" / "act"
STUBS = ACT_DIR / "stubs"
REPOSITORY = "gatewayd-plugin-actions/gatewayd-plugin-example"
COPIED = ("action.yml", "test", "test-plugin", "release", "scripts", "requirements")


def pinned_actions() -> set[str]:
    """Every ``owner/repo@sha`` a composite of ours uses (and so act must resolve)."""
    found: set[str] = set()
    for path in action_files():
        if STUBS in path.parents:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for step in (data.get("runs") or {}).get("steps") or []:
            uses = str(step.get("uses", ""))
            if uses and third_party(uses) and (match := SHA_PIN.match(uses)):
                found.add(f"{match.group('repo')}@{match.group('sha')}")
    return found


def stub_for(pinned: str) -> Path:
    return STUBS / pinned.split("@", 1)[0]


def test_every_pinned_action_has_a_labelled_stub() -> None:
    for pinned in sorted(pinned_actions()):
        stub = stub_for(pinned) / "action.yml"
        assert stub.is_file(), f"{pinned}: add a TEST STUB at {stub.relative_to(REPO_ROOT)}"
        assert "TEST STUB" in stub.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def act() -> Path:
    return gobin("act")


@dataclass
class ActRun:
    returncode: int
    log: str

    def step_lines(self, marker: str) -> list[str]:
        return [line for line in self.log.splitlines() if marker in line]


def git(workspace: Path, *args: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid", GIT_AUTHOR_DATE="2026-01-02T03:04:05Z",
               GIT_COMMITTER_DATE="2026-01-02T03:04:05Z")
    subprocess.run(["git", *args], cwd=workspace, env=env, check=True, capture_output=True)


def copy_actions(target: Path) -> None:
    """The files the composites need (their action.yml files, scripts, requirements), as a checkout has them."""
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, target / name)


def make_workspace(root: Path, workflow: str) -> Path:
    workspace = root / "repo"
    workspace.mkdir()
    copy_actions(workspace)
    copy_plugin(EXAMPLE_PLUGIN, workspace / "examples" / "gatewayd-plugin-example")
    (workspace / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(ACT_DIR / "workflows" / workflow, workspace / ".github" / "workflows" / workflow)
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    return workspace


def commit(workspace: Path) -> None:
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "act run")


def run_act(act: Path, workspace: Path, workflow: str, scratch: Path, env: dict[str, str] | None = None,
            secrets: dict[str, str] | None = None, extra: list[str] | None = None, timeout: float = 1500) -> ActRun:
    command = [str(act), "push", "-W", f".github/workflows/{workflow}", "-P", "ubuntu-latest=-self-hosted",
               "--no-cache-server", "--action-offline-mode", "--action-cache-path", str(scratch / "act-cache")]
    for pinned in sorted(pinned_actions()):
        command += ["--local-repository", f"{pinned}={stub_for(pinned)}"]
    for key, value in (env or {}).items():
        command += ["--env", f"{key}={value}"]
    command += extra or []
    process_env = clean_env()
    for key, value in (secrets or {}).items():
        command += ["--secret", key]  # the value comes from act's own environment, never the command line
        process_env[key] = value
    process_env.pop("PYTHONPATH", None)  # the actions must find their own package (bootstrap.sh's .pth)
    process_env["DOCKER_HOST"] = "unix:///nonexistent/act-host-mode.sock"  # host mode: never a container
    result = subprocess.run(command, cwd=workspace, env=process_env, capture_output=True, text=True,
                            timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return ActRun(result.returncode, result.stdout + result.stderr)


def shared_env(tmp_path: Path) -> dict[str, str]:
    """What every run gets: a local vulnerability DB (vuln.go.dev is unreachable) that knows no vulnerability
    in the example's dependencies, and the tools cache the other tests fill (golangci-lint, govulncheck)."""
    db = write_vuln_db(tmp_path / "vulndb")
    modules = tmp_path / "vulndb" / "index" / "modules.json"
    modules.write_text('[{"path":"golang.org/x/net","vulns":[{"id":"GO-2099-0002",'
                       '"modified":"2026-01-01T00:00:00Z"}]}]', encoding="utf-8")
    tools = os.environ.get("GPA_TOOLS_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gatewayd-plugin-actions" / "tools")
    return {"GOVULNDB": db, "GPA_TOOLS_DIR": tools}


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    shutil.rmtree(tmp_path / "act-cache", ignore_errors=True)


def test_test_and_toolbox_actions_pass_on_the_example(act: Path, scratch: Path) -> None:
    workspace = make_workspace(scratch, "actions.yaml")
    commit(workspace)
    run = run_act(act, workspace, "actions.yaml", scratch, shared_env(scratch))
    assert run.returncode == 0, run.log[-6000:]
    assert "🏁  Job succeeded" in run.log
    outputs = run.step_lines("OUTPUTS go=")[-1]
    assert "lint=v1.64.8 findings=0 vulns=0" in outputs and "failed=0" in outputs
    # every step of the composite really ran, in order, under the engine
    for step in ("Set up gatewayd-plugin-actions (Python)", "Set up Go", "Validate gatewayd_plugin.yaml",
                 "Choose golangci-lint", "golangci-lint", "govulncheck", "go test", "Summary"):
        assert f"✅  Success - Main {step}" in run.log, step
    assert "TEST STUB actions/setup-go" in run.log and "TEST STUB actions/cache key=gatewayd-plugin-actions-test-" \
        in run.log
    assert "| golangci-lint v1.64.8 | ✅ no findings |" in run.log
    assert re.search(r"\| go test \| ✅ \d+ passed, 0 failed", run.log)
    assert 'TOOLBOX {"plugin-name": "gatewayd-plugin-example"} exit=0' in run.log


BROKEN_TEST = '''\
package plugin

import "testing"

func TestDeliberatelyBroken(t *testing.T) {
	t.Errorf("broken on purpose")
}
'''

LINT_FINDING = '''\
package plugin

import "strconv"

// Validate drops the error of strconv.Atoi: golangci-lint's errcheck must report it.
func Validate(text string) {
	strconv.Atoi(text)
}
'''


def test_test_action_reports_every_failure_and_still_summarises(act: Path, scratch: Path) -> None:
    workspace = make_workspace(scratch, "failing.yaml")
    broken = copy_plugin(EXAMPLE_PLUGIN, workspace / "examples" / "broken")
    (broken / "plugin" / "broken_test.go").write_text(BROKEN_TEST, encoding="utf-8")
    (broken / "plugin" / "cleanup.go").write_text(LINT_FINDING, encoding="utf-8")
    commit(workspace)
    env = shared_env(scratch)
    env["GOVULNDB"] = write_vuln_db(scratch / "vulndb-with-hclog")  # the plugin calls hclog.New
    run = run_act(act, workspace, "failing.yaml", scratch, env)
    assert run.returncode != 0, run.log[-6000:]
    assert "🏁  Job failed" in run.log
    for step in ("golangci-lint", "govulncheck", "go test"):  # each check ran although the one before failed
        assert f"❌  Failure - Main {step}" in run.log, step
    assert "✅  Success - Main Summary" in run.log
    assert "::error file=examples/broken/plugin/cleanup.go,line=7,title=golangci-lint%3A errcheck::" in run.log
    assert "GO-2099-0001" in run.log
    assert "TestDeliberatelyBroken failed: broken on purpose" in run.log
    assert "❌ 1 finding(s)" in run.log and "❌ 1 called: GO-2099-0001" in run.log
    assert re.search(r"\| go test \| ❌ \d+ passed, 1 failed", run.log)


@pytest.fixture
def fake_github_with_gatewayd(gatewayd_binaries: dict[str, Path], tmp_path: Path) -> Iterator[FakeGitHub]:
    """One fake GitHub for the whole run: gatewayd-io/gatewayd's release (the real v0.11.1 binary, as latest)
    for test-plugin to download, and the plugin's repository for release to publish into."""
    with FakeGitHub() as fake:
        fake.add_repo("gatewayd-io", "gatewayd")
        tag = "v0.11.1"
        assets = gatewayd_release_assets(gatewayd_binaries[tag].read_bytes(), tag, tmp_path / "gatewayd-release")
        fake.add_release("gatewayd-io", "gatewayd", tag, assets=assets)
        owner, repo = REPOSITORY.split("/")
        fake.add_repo(owner, repo)
        fake.add_token(ACT_TOKEN, "write")
        yield fake


ACT_TOKEN = "ghs_ActRunCanary0123456789abcdefXYZ"


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_test_plugin_and_release_actions(act: Path, scratch: Path, fake_github_with_gatewayd: FakeGitHub) -> None:
    fake = fake_github_with_gatewayd
    workspace = make_workspace(scratch, "plugin.yaml")
    commit(workspace)
    env = {"GITHUB_API_URL": fake.api_url, "GITHUB_SERVER_URL": fake.server_url,
           "GATEWAYD_RELEASES_API_URL": fake.api_url}
    run = run_act(act, workspace, "plugin.yaml", scratch, env, secrets={"GITHUB_TOKEN": ACT_TOKEN})
    assert run.returncode == 0, run.log[-8000:]
    assert ACT_TOKEN not in run.log
    assert run.log.count("🏁  Job succeeded") == 2
    seen = run.step_lines("TEST-PLUGIN gatewayd=")[-1]
    assert "plugin=gatewayd-plugin-example" in seen and "0.11.1" in seen
    # the snapshot published nothing; the second call did, through the API the job was pointed at
    release = requests.get(f"{fake.api_url}/repos/{REPOSITORY}/releases/tags/v0.1.0", timeout=10,
                           headers={"Authorization": f"Bearer {ACT_TOKEN}"}).json()
    names = sorted(asset["name"] for asset in release["assets"])
    assert names == ["checksums.txt", "gatewayd-plugin-example-darwin-arm64-v0.1.0.tar.gz",
                     "gatewayd-plugin-example-linux-amd64-v0.1.0.tar.gz",
                     "gatewayd-plugin-example-windows-amd64-v0.1.0.zip"]
    assert not release["draft"] and not release["prerelease"]
    assert "ASSETS " + " ".join(names) in run.log
    assert f"RELEASE url={release['html_url']}" in run.log


@pytest.fixture
def fake_github_plugin_repo() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        owner, repo = REPOSITORY.split("/")
        fake.add_repo(owner, repo)
        fake.add_token(ACT_TOKEN, "write")
        yield fake


def test_release_action_gate_refuses_a_plugin_that_does_not_start(act: Path, scratch: Path,
                                                                   fake_github_plugin_repo: FakeGitHub) -> None:
    fake = fake_github_plugin_repo
    workspace = make_workspace(scratch, "gate.yaml")
    for kind, folder in (("panic", "panics"), ("needs-env", "needs-env")):
        patch_plugin_variant(copy_plugin(EXAMPLE_PLUGIN, workspace / "examples" / folder), kind)
    commit(workspace)
    env = {"GITHUB_API_URL": fake.api_url, "GITHUB_SERVER_URL": fake.server_url,
           "GATEWAYD_RELEASES_API_URL": fake.api_url}
    run = run_act(act, workspace, "gate.yaml", scratch, env, secrets={"GITHUB_TOKEN": ACT_TOKEN},
                  extra=["--concurrent-jobs", "1"])
    assert run.returncode != 0, run.log[-8000:]
    assert run.log.count("🏁  Job failed") == 1 and run.log.count("🏁  Job succeeded") == 1, run.log[-8000:]
    assert "preflight: the token can write releases" in run.log  # checked before building
    gate = [line for line in run.log.splitlines() if "::error" in line and "does not start as a plugin" in line]
    assert len(gate) == 1, run.log[-8000:]
    assert "panic" in gate[0] and "example: failed to load settings" in run.log
    assert "❌  Failure - Main ./release on a plugin that panics at start-up" in run.log
    assert not [e for e in fake.requests_log if e.method in {"POST", "PATCH", "DELETE", "PUT"}]
    assert fake.releases(*REPOSITORY.split("/")) == []
    # plugin-env reached the gate: the plugin that refuses to start without EXAMPLE_SETTING=on was released
    assert "✅  Success - Main ./release (snapshot) on a plugin that needs a setting to start" in run.log
    assert "plus 2 --plugin-env setting(s)" in run.log
    assert ACT_TOKEN not in run.log


# --- the templates, copied verbatim into a plugin repository, as a plugin author would ----------------

ACTIONS_REF = "gatewayd-plugin-actions/gatewayd-plugin-actions@v1"


def make_plugin_repository(root: Path, tag: str | None = None) -> tuple[Path, Path]:
    """A plugin repository (the example plugin at its root, plus the two template workflows, unchanged) and
    a copy of this repository that act serves for ``gatewayd-plugin-actions/gatewayd-plugin-actions@v1``."""
    actions = root / "gatewayd-plugin-actions"
    actions.mkdir()
    copy_actions(actions)
    plugin = copy_plugin(EXAMPLE_PLUGIN, root / "gatewayd-plugin-example")
    (plugin / ".github" / "workflows").mkdir(parents=True)
    for template in ("test.yaml", "release.yaml"):
        shutil.copy2(REPO_ROOT / "workflows" / template, plugin / ".github" / "workflows" / template)
    git(plugin, "init", "-q", "-b", "main")
    git(plugin, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    commit(plugin)
    if tag:
        git(plugin, "tag", tag)
    return plugin, actions


@pytest.fixture
def fake_github_two_gatewayds(gatewayd_binaries: dict[str, Path], tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_repo("gatewayd-io", "gatewayd")
        for index, tag in enumerate(("v0.10.3", "v0.11.1")):  # v0.11.1 last: it is "latest"
            assets = gatewayd_release_assets(gatewayd_binaries[tag].read_bytes(), tag, tmp_path / f"gatewayd-{tag}")
            fake.add_release("gatewayd-io", "gatewayd", tag, assets=assets,
                             created_at=f"2026-0{index + 1}-01T00:00:00Z")
        owner, repo = REPOSITORY.split("/")
        fake.add_repo(owner, repo)
        fake.add_token(ACT_TOKEN, "write")
        yield fake


def template_env(fake: FakeGitHub, scratch: Path) -> dict[str, str]:
    """The env of a template's run: the fake GitHub answers the API and serves GatewayD's releases."""
    return {"GITHUB_API_URL": fake.api_url, "GITHUB_SERVER_URL": fake.server_url,
            "GATEWAYD_RELEASES_API_URL": fake.api_url, **shared_env(scratch)}


def run_template(act: Path, plugin: Path, workflow: str, scratch: Path, env: dict[str, str], actions: Path,
                 extra: list[str] | None = None) -> ActRun:
    """A template workflow of a plugin repository under act, ``actions`` served as gatewayd-plugin-actions@v1,
    one job at a time."""
    return run_act(act, plugin, workflow, scratch, env, secrets={"GITHUB_TOKEN": ACT_TOKEN},
                   extra=["--local-repository", f"{ACTIONS_REF}={actions}", "--concurrent-jobs", "1", *(extra or [])])


def assert_template_test_run(run: ActRun) -> None:
    """What the test.yaml template's run must show: every job green, lint run, both GatewayDs loaded the plugin."""
    assert run.returncode == 0, run.log[-8000:]
    assert run.log.count("🏁  Job succeeded") == 3  # test, test-plugin × (v0.10.3, latest)
    assert "| golangci-lint v1.64.8 | ✅ no findings |" in run.log or "golangci-lint v1.64.8: 0 finding(s)" in run.log
    assert "gatewayd-linux-amd64-v0.10.3.tar.gz" in run.log and "gatewayd-linux-amd64-v0.11.1.tar.gz" in run.log
    assert ACT_TOKEN not in run.log


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_copied_templates_give_a_plugin_test_test_plugin_and_release(act: Path, scratch: Path,
                                                                     fake_github_two_gatewayds: FakeGitHub) -> None:
    fake = fake_github_two_gatewayds
    plugin, actions = make_plugin_repository(scratch, tag="v0.1.0")
    env = template_env(fake, scratch)
    run = run_template(act, plugin, "test.yaml", scratch, env, actions)
    assert_template_test_run(run)

    event = scratch / "tag-push.json"
    event.write_text('{"ref": "refs/tags/v0.1.0", "ref_name": "v0.1.0"}', encoding="utf-8")
    run = run_template(act, plugin, "release.yaml", scratch, env, actions, ["--eventpath", str(event)])
    assert run.returncode == 0, run.log[-8000:]
    # The release job needs test-plugin: the plugin loads in both GatewayDs before anything is published.
    assert run.log.count("🏁  Job succeeded") == 3, run.log[-8000:]
    assert run.log.index("gatewayd-linux-amd64-v0.10.3.tar.gz") < run.log.index("preflight: the token can write")
    assert ACT_TOKEN not in run.log
    assert "attest::skipped" in run.log  # act has no OIDC: the template's attestation degrades to a notice
    release = requests.get(f"{fake.api_url}/repos/{REPOSITORY}/releases/tags/v0.1.0", timeout=10,
                           headers={"Authorization": f"Bearer {ACT_TOKEN}"}).json()
    names = {asset["name"] for asset in release["assets"]}
    assert len(names) == 7 and "checksums.txt" in names  # six targets and the checksums
    assert f"Released {release['html_url']}" in run.log
