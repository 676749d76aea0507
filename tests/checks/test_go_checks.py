"""The ``test`` action's checks as real processes: go test, golangci-lint (v1 and v2), govulncheck, the summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gatewayd_plugin_actions import gotools
from gatewayd_plugin_actions.checks import golangci, gotest, govulncheck
from gatewayd_plugin_actions.errors import UserError
from tests.conftest import EXAMPLE_PLUGIN, RunCli, clean_env, copy_plugin

GO_MOD = "module example.com/checks\n\ngo 1.24\n"

FAILING_TESTS = '''\
package checks

import "testing"

func Add(a, b int) int { return a + b }

func TestAddPasses(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Fatal("1+2")
	}
}

func TestAddFails(t *testing.T) {
	if got := Add(2, 2); got != 5 {
		t.Errorf("Add(2, 2) = %d, want 5", got)
	}
}

func TestTable(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("broken", func(t *testing.T) { t.Fatal("subtest broke") })
}

func TestSkipped(t *testing.T) { t.Skip("not today") }
'''

PASSING_TESTS = '''\
package checks

import "testing"

func TestPasses(t *testing.T) {}
'''

LINT_SOURCE = '''\
package main

import "strconv"

func main() {
	strconv.Atoi("42")
}
'''

V1_CONFIG = "linters:\n  disable-all: true\n  enable:\n    - errcheck\n"
V2_CONFIG = 'version: "2"\nlinters:\n  default: none\n  enable:\n    - errcheck\n'


def write_module(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text(GO_MOD, encoding="utf-8")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def actions_env(tmp_path: Path, workspace: Path) -> dict[str, str]:
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    output.touch()
    summary.touch()
    return clean_env(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary),
                     GITHUB_WORKSPACE=str(workspace))


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "github_output").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and "<<" not in line)


# --- parsing, without processes ---------------------------------------------------------------------

def test_parse_events_counts_subtests_and_finds_leaves() -> None:
    events = [
        {"Action": "run", "Package": "p", "Test": "TestA"},
        {"Action": "run", "Package": "p", "Test": "TestA/sub"},
        {"Action": "output", "Package": "p", "Test": "TestA/sub", "Output": "    a_test.go:9: boom\n"},
        {"Action": "fail", "Package": "p", "Test": "TestA/sub", "Elapsed": 0.1},
        {"Action": "fail", "Package": "p", "Test": "TestA", "Elapsed": 0.1},
        {"Action": "run", "Package": "p", "Test": "TestB"},
        {"Action": "pass", "Package": "p", "Test": "TestB"},
        {"Action": "output", "Package": "p", "Output": "coverage: 42.5% of statements\n"},
        {"Action": "fail", "Package": "p"},
    ]
    report = gotest.parse_events(json.dumps(e) for e in events)
    assert (report.passed, report.failed, report.skipped) == (1, 2, 0)
    assert [t.name for t in report.failing_leaves()] == ["TestA/sub"]
    assert report.packages["p"].coverage == 42.5
    assert not report.ok


def test_parse_events_keeps_build_errors_and_unfinished_tests() -> None:
    lines = ["# example.com/x", "./x.go:3:1: syntax error", json.dumps(
        {"Action": "run", "Package": "q", "Test": "TestPanics"})]
    report = gotest.parse_events(lines)
    assert report.build_errors == ["# example.com/x", "./x.go:3:1: syntax error"]
    assert report.failed == 1  # started, never finished: a panic or a timeout
    assert not report.ok


def test_profile_coverage_merges_duplicate_blocks(tmp_path: Path) -> None:
    profile = tmp_path / "p.cov"
    profile.write_text("mode: atomic\nm/a.go:1.1,2.2 3 0\nm/a.go:1.1,2.2 3 2\nm/a.go:3.1,4.2 1 0\n", encoding="utf-8")
    assert gotest.profile_coverage(profile) == 75.0
    assert gotest.profile_coverage(tmp_path / "missing.cov") is None


@pytest.mark.parametrize(("name", "text", "major"), [
    (".golangci.yml", V1_CONFIG, 1),
    (".golangci.yaml", V2_CONFIG, 2),
    (".golangci.toml", 'version = "2"\n', 2),
    (".golangci.json", '{"linters": {"enable": ["errcheck"]}}', 1),
    (".golangci.yml", "", 1),
])
def test_config_version(tmp_path: Path, name: str, text: str, major: int) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert golangci.config_version(tmp_path / name) == major


@pytest.mark.parametrize(("text", "major"), [("version: 2\n", 2), ("version: '2'\n", 2), ("version: ~\n", 1),
                                             ("{version: \"2\"}\n", 2)])
def test_config_version_reads_yaml_scalars_as_golangci_lint_does(tmp_path: Path, text: str, major: int) -> None:
    (tmp_path / ".golangci.yml").write_text(text, encoding="utf-8")
    assert golangci.config_version(tmp_path / ".golangci.yml") == major


@pytest.mark.parametrize(("text", "reason"), [
    ("linters: [errcheck\n", "expected ',' or ']'"),
    ('version: "2"\nversion: "2"\n', 'found duplicate key "version"'),  # go-yaml v3 refuses these too
])
def test_config_that_is_not_yaml_is_one_line_naming_the_file(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / ".golangci.yml").write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        golangci.config_version(tmp_path / ".golangci.yml")
    message = str(caught.value)
    assert ".golangci.yml: not valid yml: " in message, message
    assert reason in message and "\n" not in message


def test_config_version_rejects_unknown_versions(tmp_path: Path) -> None:
    (tmp_path / ".golangci.yml").write_text('version: "3"\n', encoding="utf-8")
    with pytest.raises(UserError, match="unsupported golangci-lint config version"):
        golangci.config_version(tmp_path / ".golangci.yml")


def test_plan_picks_major_from_config_and_v2_from_go(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert golangci.plan(tmp_path, "go1.24.6").version == "v2.8.0"  # no config: v2 defaults
    (major, minor), newest = golangci.v2_by_go()[0]
    assert golangci.plan(tmp_path, f"go{major}.{minor}.1").version == newest
    (tmp_path / ".golangci.yml").write_text(V1_CONFIG, encoding="utf-8")
    plan = golangci.plan(tmp_path, "go1.26.1")
    assert (plan.version, plan.tool.package) == ("v1.64.8", golangci.V1_PACKAGE)
    with pytest.raises(UserError, match="cannot read a v1 config"):
        golangci.plan(tmp_path, "go1.26.1", "v2.8.0")
    with pytest.raises(UserError, match="too old"):
        golangci.v2_for_go("go1.21.0")


def v2_row_gaps() -> list[str]:
    """Go minors from the oldest v2 row up to the pinned one that have no row (each needs the last v2 for it)."""
    rows = dict(golangci.v2_by_go())
    newest, oldest = max(rows), min(rows)
    return [f"Go {newest[0]}.{m}: add (({newest[0]}, {m}), <the last golangci-lint v2 whose go.mod says go "
            f"{newest[0]}.{m}>) to V2_FOR_OLDER_GO in checks/golangci.py"
            for m in range(oldest[1], newest[1]) if (newest[0], m) not in rows]


def test_v2_rows_cover_every_go_minor_from_the_pin_down() -> None:
    rows = golangci.v2_by_go()
    assert v2_row_gaps() == []
    assert rows[0] == (gotools.go_directive(golangci.V2_PINS),
                       gotools.pinned_version(golangci.V2_MODULE, golangci.V2_PINS))
    assert [minimum for minimum, _ in rows] == sorted((m for m, _ in rows), reverse=True)


def bumped_v2_pins(tmp_path: Path, go: str, release: str) -> Path:
    """toolpins/golangci-lint-v2/go.mod as Dependabot leaves it after `go get <v2>@<release>`."""
    text = golangci.V2_PINS.read_text(encoding="utf-8")
    text = re.sub(r"^go \S+$", f"go {go}", text, count=1, flags=re.MULTILINE)
    text = re.sub(rf"^require {re.escape(golangci.V2_MODULE)} \S+$", f"require {golangci.V2_MODULE} {release}", text,
                  count=1, flags=re.MULTILINE)
    path = tmp_path / "go.mod"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_v2_bump_on_the_same_go_is_the_whole_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (major, minor), _ = golangci.v2_by_go()[0]
    monkeypatch.setattr(golangci, "V2_PINS", bumped_v2_pins(tmp_path, f"{major}.{minor}.0", "v2.99.1"))
    assert golangci.v2_for_go(f"go{major}.{minor}.3") == "v2.99.1"
    assert v2_row_gaps() == []


def test_a_v2_bump_that_needs_a_newer_go_asks_for_the_row_it_replaced(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (major, minor), _ = golangci.v2_by_go()[0]
    monkeypatch.setattr(golangci, "V2_PINS", bumped_v2_pins(tmp_path, f"{major}.{minor + 1}.0", "v2.99.0"))
    assert golangci.v2_for_go(f"go{major}.{minor + 1}.0") == "v2.99.0"
    assert v2_row_gaps() == [f"Go {major}.{minor}: add (({major}, {minor}), <the last golangci-lint v2 whose go.mod "
                             f"says go {major}.{minor}>) to V2_FOR_OLDER_GO in checks/golangci.py"]


def test_govulncheck_stream_levels() -> None:
    stream = "\n".join(json.dumps(m) for m in [
        {"config": {"scanner_version": "v1.1.4"}},
        {"osv": {"id": "GO-1", "summary": "bad thing"}},
        {"finding": {"osv": "GO-1", "fixed_version": "v1.2.0", "trace": [{"module": "m", "version": "v1.0.0"}]}},
        {"finding": {"osv": "GO-1", "fixed_version": "v1.2.0", "trace": [
            {"module": "m", "version": "v1.0.0", "package": "m/p", "function": "Do"},
            {"module": "example.com/x", "package": "example.com/x", "function": "main",
             "position": {"filename": "main.go", "line": 7}}]}},
        {"finding": {"osv": "GO-2", "trace": [{"module": "n", "version": "v0.1.0", "package": "n/q"}]}},
    ])
    vulns = govulncheck.collect(govulncheck.parse_stream(stream), Path("/nowhere"))
    assert [(v.osv, v.level) for v in vulns] == [("GO-1", "symbol"), ("GO-2", "package")]
    assert vulns[0].trace == ["x.main", "p.Do"]
    problems = govulncheck.problems(vulns)
    assert problems[0].is_error and problems[0].line == 7 and "fixed in v1.2.0" in problems[0].message
    assert problems[1].severity == "notice"


# --- real go test ------------------------------------------------------------------------------------

def test_go_test_passes_on_the_example_plugin(tmp_path: Path, run_cli: RunCli) -> None:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / "plugin")
    env = actions_env(tmp_path, project)
    result = run_cli("go-test", "--project", project, "--report-dir", tmp_path / "reports", env=env)
    assert result.returncode == 0, result.stderr
    got = outputs(tmp_path)
    assert int(got["tests-passed"]) >= 1 and got["tests-failed"] == "0"
    assert 0 < float(got["coverage"]) <= 100
    assert Path(got["coverage-profile"]).is_file()
    assert "--- PASS" in result.stdout or "=== RUN" in result.stdout  # the human log is still go test's


def test_go_test_failures_become_annotations(tmp_path: Path, run_cli: RunCli) -> None:
    project = write_module(tmp_path / "ws" / "checks", {"checks_test.go": FAILING_TESTS})
    env = actions_env(tmp_path, tmp_path / "ws")
    result = run_cli("go-test", "--project", project, "--report-dir", tmp_path / "reports", "--test-args=-count=1",
                     env=env)
    assert result.returncode == 1
    got = outputs(tmp_path)
    assert (got["tests-passed"], got["tests-failed"]) == ("2", "3")  # TestAddPasses + TestTable/ok
    assert "::error file=checks/checks_test.go,line=15,title=go test%3A example.com/checks::TestAddFails failed: " \
           "Add(2, 2) = 4, want 5" in result.stdout
    assert "TestTable/broken failed: subtest broke" in result.stdout
    assert "::error file=checks/checks_test.go,line=" in result.stdout
    report = json.loads((tmp_path / "reports" / "go-test.json").read_text(encoding="utf-8"))
    assert report["skipped"] == 1


def test_go_test_reports_a_build_failure(tmp_path: Path, run_cli: RunCli) -> None:
    project = write_module(tmp_path / "broken", {"x_test.go": "package checks\n\nfunc TestX(t *testing.T) {}\n"})
    result = run_cli("go-test", "--project", project, "--no-coverage", env=actions_env(tmp_path, project))
    assert result.returncode == 1
    assert "undefined: testing" in result.stdout + result.stderr


def test_go_test_rejects_unbalanced_quotes(tmp_path: Path, run_cli: RunCli) -> None:
    project = write_module(tmp_path / "m", {})
    result = run_cli("go-test", "--project", project, "--test-args=-run 'unclosed", env=clean_env())
    assert result.returncode == 1 and "test-args" in result.stderr


# --- real golangci-lint and govulncheck (built once per Go version into the tools cache) ---------------

@pytest.mark.parametrize(("config", "version"), [(V1_CONFIG, "v1.64.8"), (V2_CONFIG, None)])
def test_lint_runs_the_major_the_config_needs(tmp_path: Path, run_cli: RunCli, config: str,
                                              version: str | None) -> None:
    project = write_module(tmp_path / "ws" / "lintme", {"main.go": LINT_SOURCE, ".golangci.yml": config})
    (tmp_path / "ws" / ".git").mkdir()
    env = actions_env(tmp_path, tmp_path / "ws")
    result = run_cli("lint", "--project", project, "--report-dir", tmp_path / "r", env=env, timeout=900)
    assert result.returncode == 1, result.stderr
    assert outputs(tmp_path)["lint-findings"] == "1"
    assert "::error file=lintme/main.go,line=6,title=golangci-lint%3A errcheck::" in result.stdout
    report = json.loads((tmp_path / "r" / "lint.json").read_text(encoding="utf-8"))
    assert report["version"] == (version or golangci.plan(project, report_go(project)).version)
    assert report["version"].startswith("v1." if version else "v2.")
    # clean code: exit 0, zero findings
    (project / "main.go").write_text("package main\n\nfunc main() {}\n", encoding="utf-8")
    result = run_cli("lint", "--project", project, env=actions_env(tmp_path, tmp_path / "ws"), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_findings_are_listed_once_in_a_terminal(tmp_path: Path, run_cli: RunCli) -> None:
    """Before: golangci-lint's own text output was echoed and then each finding was reported again."""
    project = write_module(tmp_path / "lintme", {"main.go": LINT_SOURCE, ".golangci.yml": V1_CONFIG})
    result = run_cli("lint", "--project", project, env=clean_env(GITHUB_WORKSPACE=str(project)), timeout=900)
    assert result.returncode == 1, result.stderr
    both = result.stdout + result.stderr
    assert both.count("is not checked") == 1, both
    assert "main.go:6: Error return value of `strconv.Atoi` is not checked (errcheck)" in result.stderr


def report_go(project: Path) -> str:
    from gatewayd_plugin_actions import gotools  # noqa: PLC0415

    return gotools.go_version(project)


VULN_DB = {
    "GO-2099-0001": ("github.com/hashicorp/go-hclog", "github.com/hashicorp/go-hclog", "New", "1.6.4"),
    "GO-2099-0002": ("golang.org/x/net", "golang.org/x/net/html", "Parse", None),
}


def write_vuln_db(root: Path) -> str:
    """A local vulnerability database in vuln.go.dev's v1 layout with two made-up entries: one the example
    plugin calls (hclog.New in main.go) and one in a module it requires but never imports."""
    (root / "index").mkdir(parents=True)
    (root / "ID").mkdir()
    stamp = "2026-01-01T00:00:00Z"
    modules: list[dict[str, object]] = []
    for osv_id, (module, package, symbol, fixed) in VULN_DB.items():
        events: list[dict[str, str]] = [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])
        entry = {"schema_version": "1.3.1", "id": osv_id, "modified": stamp, "published": stamp,
                 "summary": f"test fixture: {package}.{symbol}", "details": "made up for tests",
                 "affected": [{"package": {"name": module, "ecosystem": "Go"},
                               "ranges": [{"type": "SEMVER", "events": events}],
                               "ecosystem_specific": {"imports": [{"path": package, "symbols": [symbol]}]}}]}
        (root / "ID" / f"{osv_id}.json").write_text(json.dumps(entry), encoding="utf-8")
        vuln = {"id": osv_id, "modified": stamp, **({"fixed": fixed} if fixed else {})}
        modules.append({"path": module, "vulns": [vuln]})
    (root / "index" / "db.json").write_text(json.dumps({"modified": stamp}), encoding="utf-8")
    (root / "index" / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (root / "index" / "vulns.json").write_text(json.dumps(
        [{"id": i, "modified": stamp, "aliases": []} for i in VULN_DB]), encoding="utf-8")
    return root.as_uri()


def test_govulncheck_fails_only_on_called_code(tmp_path: Path, run_cli: RunCli) -> None:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / "plugin")
    db = write_vuln_db(tmp_path / "vulndb")
    env = actions_env(tmp_path, project)
    env["GOVULNDB"] = db
    result = run_cli("govulncheck", "--project", project, "--report-dir", tmp_path / "r", env=env, timeout=900)
    assert result.returncode == 1, result.stderr
    assert outputs(tmp_path)["vulnerabilities"] == "1"
    assert "::error file=main.go,line=" in result.stdout and "GO-2099-0001" in result.stdout
    assert "::notice title=govulncheck%3A GO-2099-0002::" in result.stdout
    # only the not-called one left: passes, still reported as a notice
    (tmp_path / "vulndb2").mkdir()
    clean_db = write_vuln_db(tmp_path / "vulndb2" / "db")
    index = tmp_path / "vulndb2" / "db" / "index" / "modules.json"
    index.write_text(json.dumps([m for m in json.loads(index.read_text()) if m["path"] == "golang.org/x/net"]))
    result = run_cli("govulncheck", "--project", project, "--db", clean_db, env=clean_env(), timeout=900)
    assert result.returncode == 0, result.stderr
    assert "0 vulnerability(ies) in called code, 1 more" in result.stderr


def test_summary_table(tmp_path: Path, run_cli: RunCli) -> None:
    reports = tmp_path / "r"
    reports.mkdir()
    (reports / "plan.json").write_text(json.dumps({"go-version": "go1.24.6", "golangci-lint-version": "v1.64.8"}))
    (reports / "lint.json").write_text(json.dumps({"version": "v1.64.8", "findings": 3, "errors": 3}))
    (reports / "go-test.json").write_text(json.dumps({"passed": 7, "failed": 1, "skipped": 0, "coverage": 81.25,
                                                      "failed_packages": 1, "build_errors": 0,
                                                      "failures": ["a_test.go:3: TestX failed: boom"]}))
    env = actions_env(tmp_path, tmp_path)
    assert run_cli("test-summary", "--report-dir", reports, env=env).returncode == 0
    summary = (tmp_path / "step_summary").read_text(encoding="utf-8")
    assert "### Test (go1.24.6)" in summary
    assert "| golangci-lint v1.64.8 | ❌ 3 finding(s) |" in summary
    assert f"| govulncheck {govulncheck.GOVULNCHECK.version} | not run |" in summary
    assert "| go test | ❌ 7 passed, 1 failed, 0 skipped |" in summary
    assert "| coverage | 81.2% |" in summary or "| coverage | 81.3% |" in summary
    assert "TestX failed: boom" in summary


def test_lint_plan_outputs_a_go_keyed_cache(tmp_path: Path, run_cli: RunCli) -> None:
    project = write_module(tmp_path / "m", {".golangci.yml": V1_CONFIG})
    (tmp_path / "m" / ".git").mkdir()
    result = run_cli("lint-plan", "--project", project, env=actions_env(tmp_path, project))
    assert result.returncode == 0, result.stderr
    got = outputs(tmp_path)
    go = got["go-version"]
    assert go.startswith("go1.")
    assert got["golangci-lint-version"] == "v1.64.8"
    assert go in got["cache-key"] and "golangci-lint-v1.64.8" in got["cache-key"]
    assert got["cache-key"].startswith(got["cache-restore-key"])
    assert got["cache-path"].endswith(go) and Path(got["report-dir"]).is_dir()


@pytest.mark.parametrize("test_args", ["-notaflag", "-count=1 -rase"])
def test_go_test_with_an_unknown_flag_fails_instead_of_running_nothing(tmp_path: Path, run_cli: RunCli,
                                                                        test_args: str) -> None:
    """Before: the packages came after the flags, `go test` took `./...` for a test-binary argument after the
    unknown flag, ran zero tests and the step was green. The test sits in a sub-package, as in most plugins
    (`plugin/`): only `./...` reaches it."""
    project = write_module(tmp_path / "ws" / "checks", {"main.go": "package main\n\nfunc main() {}\n"})
    (project / "plugin").mkdir()
    (project / "plugin" / "plugin_test.go").write_text(PASSING_TESTS, encoding="utf-8")
    result = run_cli("go-test", "--project", project, "--report-dir", tmp_path / "reports",
                     f"--test-args={test_args}", env=actions_env(tmp_path, tmp_path / "ws"))
    assert result.returncode == 1
    assert "flag provided but not defined" in result.stdout + result.stderr


def test_go_test_that_runs_no_test_fails_unless_allowed(tmp_path: Path, run_cli: RunCli) -> None:
    project = write_module(tmp_path / "ws" / "checks", {"checks_test.go": PASSING_TESTS})
    args = ("go-test", "--project", project, "--report-dir", tmp_path / "reports", "--test-args=-run=^NoSuchTest$")
    result = run_cli(*args, env=actions_env(tmp_path, tmp_path / "ws"))
    assert result.returncode == 1
    assert "go test ran no test, although the module has 1 *_test.go file(s): check test-args ('-run=^NoSuchTest$')" \
        in result.stderr
    allowed = run_cli(*args, "--allow-no-tests", env=actions_env(tmp_path, tmp_path / "ws"))
    assert allowed.returncode == 0, allowed.stderr


def test_go_test_of_an_empty_package_pattern_ends_with_why_it_failed(tmp_path: Path, run_cli: RunCli) -> None:
    """Found by tests/properties/test_cli_subprocess.py: `go-test ''` printed its reason as "build failed: …",
    showed the packages as "()", and ended with the green-looking counts line instead of the reason."""
    project = write_module(tmp_path / "ws" / "checks", {"main.go": "package main\n\nfunc main() {}\n"})
    (project / "plugin").mkdir()
    (project / "plugin" / "plugin_test.go").write_text(PASSING_TESTS, encoding="utf-8")
    result = run_cli("go-test", "", "--project", project, "--report-dir", tmp_path / "reports",
                     env=actions_env(tmp_path, tmp_path / "ws"))
    assert result.returncode == 1
    last = result.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith("go test failed: go test ran no test, although the module has 1 *_test.go file(s)"), last
    assert "and the packages ('')" in last, last


def test_go_test_in_a_module_without_tests_passes(tmp_path: Path, run_cli: RunCli) -> None:
    project = write_module(tmp_path / "ws" / "checks",
                           {"checks.go": "package checks\n\nfunc Add(a, b int) int { return a + b }\n"})
    result = run_cli("go-test", "--project", project, "--report-dir", tmp_path / "reports",
                     env=actions_env(tmp_path, tmp_path / "ws"))
    assert result.returncode == 0, result.stderr
