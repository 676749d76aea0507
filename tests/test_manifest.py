"""``validate``: the corpus of malformed ``gatewayd_plugin.yaml`` files in ``tests/manifests``.

Every file in ``tests/manifests/bad`` must fail with one clear ``file:line: message`` (and a ``::error``
annotation on GitHub Actions), never a traceback; ``good`` files pass silently and ``warn`` files pass with a
warning. The table below is the single source of the expected line and message of each file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.actions_io import display_path
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.manifest import check_manifest, load_manifest
from tests.conftest import REPO_ROOT, RunCli, clean_env

CORPUS = Path(__file__).resolve().parent / "manifests"
PLUGIN = "gatewayd-plugin-example"


@dataclass(frozen=True)
class Case:
    file: str  # relative to tests/manifests
    line: int
    message: str  # how the message starts, right after "<file>:<line>: "
    args: tuple[str, ...] = ()
    errors: int = 1  # how many errors the file gives in all

    @property
    def path(self) -> Path:
        return CORPUS / self.file

    @property
    def display(self) -> str:
        return self.path.relative_to(REPO_ROOT).as_posix()


_MISSING = "plugins[0] is missing required key"
_BAD_URL = "is not what `gatewayd plugin install` accepts: github.com/<owner>/<repo>@latest or @vX.Y.Z"
BAD: tuple[Case, ...] = (
    Case("bad/01-yaml-syntax.yaml", 3, "invalid YAML: while parsing a block collection expected <block end>"),
    Case("bad/02-duplicate-key.yaml", 4, 'invalid YAML: while constructing a mapping found duplicate key "enabled"'),
    Case("bad/03-top-level-list.yaml", 1, "the file must be a YAML mapping with a 'plugins' list, not a list"),
    Case("bad/04-top-level-scalar.yaml", 1, "the file must be a YAML mapping with a 'plugins' list, not a string"),
    Case("bad/05-empty.yaml", 1, "the file is empty (no YAML document)"),
    Case("bad/06-not-utf8.yaml", 6, "not UTF-8: byte 0xe9 cannot be decoded"),
    Case("bad/07-plugins-missing.yaml", 1, "missing 'plugins': the installer reads plugins[0] from this file"),
    Case("bad/08-plugins-not-a-list.yaml", 1, "'plugins' must be a non-empty list of plugin entries, not a mapping"),
    Case("bad/09-plugins-empty.yaml", 2, "'plugins' is an empty list"),
    Case("bad/10-plugin-entry-not-a-mapping.yaml", 2, "plugins[0] must be a mapping, not a string"),
    Case("bad/11-missing-name.yaml", 2, f"{_MISSING} 'name'"),
    Case("bad/12-missing-enabled.yaml", 2, f"{_MISSING} 'enabled'"),
    Case("bad/13-missing-localpath.yaml", 2, f"{_MISSING} 'localPath'"),
    Case("bad/14-missing-url.yaml", 2, f"{_MISSING} 'url'"),
    Case("bad/15-missing-args.yaml", 2, f"{_MISSING} 'args'"),
    Case("bad/16-missing-env.yaml", 2, f"{_MISSING} 'env'"),
    Case("bad/17-missing-checksum.yaml", 2, f"{_MISSING} 'checksum'"),
    Case("bad/18-enabled-yes.yaml", 3, "plugins[0].enabled must be true or false, not a string"),
    Case("bad/19-args-null.yaml", 6, "plugins[0].args must be a list of strings, not null (use [] for none)"),
    Case("bad/20-args-number.yaml", 8, "plugins[0].args[1] must be a string, not a number"),
    Case("bad/21-env-string.yaml", 7, "plugins[0].env must be a list of strings, not a string"),
    Case("bad/22-checksum-number.yaml", 10, "plugins[0].checksum must be a string, not a number"),
    Case("bad/23-name-number.yaml", 2, "plugins[0].name must be a string, not a number"),
    Case("bad/24-localpath-list.yaml", 5, "plugins[0].localPath must be a string, not a list"),
    Case("bad/25-unknown-plugin-key.yaml", 11, "plugins[0] has unknown key 'config'; GatewayD's lint rejects"),
    Case("bad/26-compatibility-policy.yaml", 1,
         "unknown top-level key 'compatibilityPolicy' (documented by GatewayD but not accepted by its code)"),
    Case("bad/27-unknown-top-level-key.yaml", 1, "unknown top-level key 'pluginTimeout'; `gatewayd plugin lint`"),
    Case("bad/28-bad-duration.yaml", 1, "healthCheckPeriod is not a Go duration: '5 seconds'"),
    Case("bad/29-duration-bool.yaml", 1, "timeout must be a duration such as \"5s\" or an integer of nanoseconds, "
                                         "not a boolean"),
    Case("bad/30-default-policy-enum.yaml", 1, "defaultPolicy must be one of passthrough, terminate, not 'accept'"),
    Case("bad/31-action-redis-unknown-key.yaml", 3, "actionRedis has unknown key 'host'"),
    Case("bad/32-policy-missing-name.yaml", 2, "policies[0] is missing required key 'name'"),
    Case("bad/33-name-underscore.yaml", 2, "plugins[0].name 'gatewayd_plugin_example' must match [A-Za-z0-9-]+"),
    Case("bad/34-name-dot.yaml", 2, "plugins[0].name 'gatewayd.plugin.example' must match [A-Za-z0-9-]+"),
    Case("bad/35-name-not-repo.yaml", 2,
         "plugins[0].name 'gatewayd-plugin-cache' must equal the repository name 'gatewayd-plugin-example'"),
    Case("bad/36-url-dot-git.yaml", 4, f"plugins[0].url 'github.com/gatewayd-io/{PLUGIN}.git' {_BAD_URL}"),
    Case("bad/37-url-without-v.yaml", 4, f"plugins[0].url 'github.com/gatewayd-io/{PLUGIN}@1.2.3' {_BAD_URL}"),
    Case("bad/38-url-missing-patch.yaml", 4, f"plugins[0].url 'github.com/gatewayd-io/{PLUGIN}@v1.2' {_BAD_URL}"),
    Case("bad/39-url-not-github.yaml", 4, f"plugins[0].url 'gitlab.com/gatewayd-io/{PLUGIN}@latest' {_BAD_URL}"),
    Case("bad/40-env-missing-cookie-value.yaml", 7, "plugins[0].env is missing MAGIC_COOKIE_VALUE"),
    Case("bad/41-env-wrong-cookie-value.yaml", 7,
         "plugins[0].env has MAGIC_COOKIE_VALUE='changeme', but GatewayD's handshake expects"),
    Case("bad/42-env-item-without-equals.yaml", 10, "plugins[0].env[2] 'DEBUG' is not KEY=VALUE"),
    Case("bad/43-repository-mismatch.yaml", 4,
         f"plugins[0].url points at github.com/gatewayd-io/{PLUGIN}, but this repository is "
         "gatewayd-io/gatewayd-plugin-cache", args=("--repository", "gatewayd-io/gatewayd-plugin-cache"), errors=2),
    Case("bad/44-tab-indentation.yaml", 2, "invalid YAML: while scanning for the next token found character '\\t'"),
    Case("bad/45-unclosed-quote.yaml", 10, "invalid YAML: while scanning a quoted scalar found unexpected end"),
    Case("bad/46-second-entry-missing-url.yaml", 11, "plugins[1] is missing required key 'url'"),
    Case("bad/47-env-missing-cookie-key.yaml", 7, "plugins[0].env is missing MAGIC_COOKIE_KEY"),
    Case("bad/48-policies-not-a-list.yaml", 1, "policies must be a list, not a mapping"),
    Case("bad/49-url-trailing-slash.yaml", 4, f"plugins[0].url 'github.com/gatewayd-io/{PLUGIN}/' {_BAD_URL}"),
    Case("bad/50-duration-list.yaml", 1, "startTimeout must be a duration such as \"5s\""),
)

# Legal but surprising: exit 0, one warning each.
WARN: tuple[Case, ...] = (
    Case("warn/01-placeholder-checksum.yaml", 10, "plugins[0].checksum is a placeholder", errors=0),
    Case("warn/02-bare-localpath.yaml", 5, f"plugins[0].localPath '{PLUGIN}' has no '/', so GatewayD looks it up",
         errors=0),
    Case("warn/03-disabled.yaml", 3, "plugins[0].enabled is false", errors=0),
    Case("warn/04-two-plugin-entries.yaml", 11, "2 plugin entries: `gatewayd plugin install` uses only plugins[0]",
         errors=0),
)

GOOD = sorted(p.relative_to(CORPUS).as_posix() for p in (CORPUS / "good").glob("*.yaml"))


def _ids(cases: tuple[Case, ...]) -> list[str]:
    return [Path(c.file).stem for c in cases]


def actions_env() -> dict[str, str]:
    return clean_env(GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(REPO_ROOT))


# --- the corpus itself ------------------------------------------------------------------------------------------

def test_corpus_has_at_least_30_malformed_files_and_each_is_in_the_table() -> None:
    on_disk = sorted(p.relative_to(CORPUS).as_posix() for p in (CORPUS / "bad").iterdir())
    assert len(on_disk) >= 30
    assert on_disk == sorted(c.file for c in BAD)
    assert sorted(p.relative_to(CORPUS).as_posix() for p in (CORPUS / "warn").iterdir()) == sorted(
        c.file for c in WARN)
    assert len(GOOD) >= 3


def test_byte_level_corpus_files_are_intact() -> None:
    """Two files are only malformed at the byte level; make sure nothing (an editor, git) 'fixed' them."""
    assert (CORPUS / "bad/05-empty.yaml").read_bytes() == b""
    raw = (CORPUS / "bad/06-not-utf8.yaml").read_bytes()
    assert b"caf\xe9" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


# --- through the real CLI ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", BAD, ids=_ids(BAD))
def test_malformed_manifest_fails_with_file_line_and_annotation(case: Case, run_cli: RunCli) -> None:
    result = run_cli("validate", "--file", case.display, *case.args, cwd=REPO_ROOT, env=actions_env())
    assert result.returncode == 1, result.stderr
    assert f"{case.display}:{case.line}: {case.message}" in result.stderr, result.stderr
    assert f"::error file={case.display},line={case.line}::{case.message}" in result.stdout, result.stdout
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == case.errors, result.stdout
    assert f"{case.display}: {case.errors} error(s)" in result.stderr


@pytest.mark.parametrize("case", [BAD[4], BAD[5], BAD[39]], ids=_ids((BAD[4], BAD[5], BAD[39])))
def test_outside_actions_there_are_no_workflow_commands(case: Case, run_cli: RunCli) -> None:
    result = run_cli("validate", "--file", case.display, cwd=REPO_ROOT)
    assert result.returncode == 1
    assert f"{case.display}:{case.line}: {case.message}" in result.stderr
    assert "::" not in result.stdout


def test_missing_cookie_value_message_is_exact(run_cli: RunCli) -> None:
    case = next(c for c in BAD if "40-" in c.file)
    result = run_cli("validate", "--file", case.display, cwd=REPO_ROOT)
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith(case.display))
    assert line.startswith(f"{case.display}:7: plugins[0].env is missing MAGIC_COOKIE_VALUE (")
    assert contract.MAGIC_COOKIE_VALUE in line


@pytest.mark.parametrize("case", WARN, ids=_ids(WARN))
def test_warning_only_manifest_passes_with_a_warning(case: Case, run_cli: RunCli) -> None:
    result = run_cli("validate", "--file", case.display, cwd=REPO_ROOT, env=actions_env())
    assert result.returncode == 0, result.stderr
    assert f"{case.display}:{case.line}: warning: {case.message}" in result.stderr, result.stderr
    assert f"::warning file={case.display},line={case.line}::{case.message}" in result.stdout, result.stdout
    assert "::error" not in result.stdout
    assert f"valid GatewayD plugin manifest for {PLUGIN}" in result.stderr


@pytest.mark.parametrize("rel", GOOD)
def test_valid_manifest_passes_without_warnings(rel: str, run_cli: RunCli) -> None:
    display = f"tests/manifests/{rel}"
    result = run_cli("validate", "--file", display, cwd=REPO_ROOT, env=actions_env())
    assert result.returncode == 0, result.stderr
    assert "warning:" not in result.stderr
    assert "::error" not in result.stdout and "::warning" not in result.stdout
    assert f"{display}: valid GatewayD plugin manifest for {PLUGIN} (0 warning(s))" in result.stderr


def test_validate_reads_the_project_root_by_default(tmp_path: Path, run_cli: RunCli) -> None:
    project = tmp_path / PLUGIN
    project.mkdir()
    (project / contract.MANIFEST_FILE).write_bytes((CORPUS / "bad/40-env-missing-cookie-value.yaml").read_bytes())
    result = run_cli("validate", "--project", project, cwd=tmp_path)
    assert result.returncode == 1
    assert f"{PLUGIN}/{contract.MANIFEST_FILE}:7: plugins[0].env is missing MAGIC_COOKIE_VALUE" in result.stderr


def test_validate_without_a_manifest_says_so(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("validate", "--project", tmp_path, cwd=tmp_path)
    assert result.returncode == 1
    assert f"{contract.MANIFEST_FILE}: file not found" in result.stderr


def test_repository_from_github_env_is_enforced(run_cli: RunCli) -> None:
    good = "tests/manifests/good/01-minimal.yaml"
    env = actions_env()
    env["GITHUB_REPOSITORY"] = "gatewayd-io/gatewayd-plugin-cache"
    result = run_cli("validate", "--file", good, cwd=REPO_ROOT, env=env)
    assert result.returncode == 1
    assert f"{good}:4: plugins[0].url points at github.com/gatewayd-io/{PLUGIN}" in result.stderr
    env["GITHUB_REPOSITORY"] = f"gatewayd-io/{PLUGIN}"
    assert run_cli("validate", "--file", good, cwd=REPO_ROOT, env=env).returncode == 0


# --- check_manifest directly (fast; the CLI adds nothing here) --------------------------------------------------

@pytest.fixture
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


@pytest.mark.usefixtures("at_repo_root")
@pytest.mark.parametrize("case", BAD + WARN, ids=_ids(BAD + WARN))
def test_check_manifest_lines_and_counts(case: Case) -> None:
    repository = case.args[1] if case.args else None
    manifest, problems = check_manifest(case.path, repository)
    errors = [p for p in problems if p.is_error]
    assert len(errors) == case.errors, [str(p) for p in problems]
    assert all(p.file == case.display for p in problems)
    assert all(p.line is not None for p in problems), [str(p) for p in problems]
    assert any(p.line == case.line and p.message.startswith(case.message) for p in problems), \
        [str(p) for p in problems]
    assert (manifest is None) == bool(errors)
    if not errors:
        assert [p.severity for p in problems] == ["warning"]


@pytest.mark.usefixtures("at_repo_root")
@pytest.mark.parametrize("rel", GOOD)
def test_check_manifest_good_files(rel: str) -> None:
    manifest, problems = check_manifest(CORPUS / rel)
    assert problems == []
    assert manifest is not None
    assert manifest.plugin_name == PLUGIN
    assert (manifest.owner, manifest.repo) == ("gatewayd-io", PLUGIN)
    assert manifest.plugin["name"] == PLUGIN


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / contract.MANIFEST_FILE
    path.write_text(text, encoding="utf-8")
    return path


def _minimal(**replace: str) -> str:
    text = (CORPUS / "good/01-minimal.yaml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_url_forms_the_installer_accepts(tmp_path: Path) -> None:
    for url in (f"github.com/gatewayd-io/{PLUGIN}", f"https://github.com/gatewayd-io/{PLUGIN}@v0.1.0",
                f"http://github.com/gatewayd-io/{PLUGIN}@v2.0.0-beta.1"):
        manifest, problems = check_manifest(_write(tmp_path, _minimal(**{
            f"github.com/gatewayd-io/{PLUGIN}@latest": url})))
        assert [p for p in problems if p.is_error] == [], url
        assert manifest is not None and manifest.repo == PLUGIN


def test_url_with_leading_zero_or_underscore_owner_is_rejected(tmp_path: Path) -> None:
    for url in (f"github.com/gatewayd-io/{PLUGIN}@v01.2.3", f"github.com/gatewayd_io/{PLUGIN}@latest",
                f"github.com/gatewayd-io/{PLUGIN}@v1.2.3-01"):
        _, problems = check_manifest(_write(tmp_path, _minimal(**{f"github.com/gatewayd-io/{PLUGIN}@latest": url})))
        assert [(p.line, p.message.split(" is not")[0]) for p in problems] == [(4, f"plugins[0].url {url!r}")]


def test_invalid_repository_argument_is_an_error(tmp_path: Path) -> None:
    _, problems = check_manifest(_write(tmp_path, _minimal()), "gatewayd.io/gatewayd_plugin")
    assert any("repository 'gatewayd.io/gatewayd_plugin': GitHub owner and name must match" in p.message
               for p in problems)


def test_matching_repository_argument_passes(tmp_path: Path) -> None:
    manifest, problems = check_manifest(_write(tmp_path, _minimal()), f"gatewayd-io/{PLUGIN}")
    assert problems == []
    assert manifest is not None and manifest.owner == "gatewayd-io"


def test_durations_go_accepts(tmp_path: Path) -> None:
    for value in ("5s", "1m30s", "250ms", "1.5h", "10us", "3µs", "0", "-1s", "100", "'2h45m'"):
        _, problems = check_manifest(_write(tmp_path, f"timeout: {value}\n" + _minimal()))
        assert problems == [], (value, [str(p) for p in problems])
    for value in ("5", "5 s", "s", "1d", "1.5.h", "''"):
        _, problems = check_manifest(_write(tmp_path, f"timeout: '{value}'\n" + _minimal()))
        assert [p.line for p in problems] == [1], value


def test_crlf_bom_and_yaml_merge_keys_are_fine(tmp_path: Path) -> None:
    path = tmp_path / contract.MANIFEST_FILE
    path.write_bytes(b"\xef\xbb\xbf" + _minimal().replace("\n", "\r\n").encode())
    assert check_manifest(path)[1] == []
    merged = _minimal(**{"    enabled: true\n": "    <<: *defaults\n"})
    assert check_manifest(_write(tmp_path, "policies: []\nx-defaults: &defaults\n  enabled: true\n" + merged))[1][0] \
        .message.startswith("unknown top-level key 'x-defaults'")


def test_a_second_document_is_reported_at_its_line(tmp_path: Path) -> None:
    _, problems = check_manifest(_write(tmp_path, _minimal() + "---\nplugins: []\n"))
    assert [(p.line, p.message) for p in problems] == [
        (11, "invalid YAML: expected a single document in the stream but found another document")]


def test_display_path_is_relative_to_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    path = _write(tmp_path / "sub", "")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    assert display_path(path) == f"sub/{contract.MANIFEST_FILE}"
    _, problems = check_manifest(path)
    assert str(problems[0]).startswith(f"sub/{contract.MANIFEST_FILE}:1: the file is empty")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "elsewhere"))
    assert display_path(path) == str(path)


def test_load_manifest_raises_a_user_error_with_every_problem(tmp_path: Path) -> None:
    path = _write(tmp_path, _minimal(**{"    enabled: true\n": "", "    args": "    extra: 1\n    args"}))
    with pytest.raises(UserError) as caught:
        load_manifest(path)
    assert "is not a valid GatewayD plugin manifest: 2 error(s)" in caught.value.message
    assert sorted(p.message.split(";")[0] for p in caught.value.problems) == [
        "plugins[0] has unknown key 'extra'", "plugins[0] is missing required key 'enabled'"]


def test_load_manifest_returns_warnings_with_the_manifest(tmp_path: Path) -> None:
    manifest, problems = load_manifest(_write(tmp_path, _minimal(**{"    enabled: true": "    enabled: false"})))
    assert manifest.plugin_name == PLUGIN
    assert [p.severity for p in problems] == ["warning"]


def test_problems_are_reported_in_file_order(tmp_path: Path) -> None:
    """Checks run key group by key group; the report reads top to bottom, as an author fixes it."""
    path = tmp_path / contract.MANIFEST_FILE
    path.write_text(
        "compatibilityPolicy: strict\n"
        "plugins:\n"
        "  - name: bad_name\n"
        "    enabled: 'yes'\n"
        "    url: github.com/acme/bad-name@latest\n"
        "    localPath: ./x\n"
        "    args: null\n"
        "    env: [MAGIC_COOKIE_KEY=GATEWAYD_PLUGIN]\n"
        "    checksum: dev\n"
        "healthCheckPeriod: 5 seconds\n", encoding="utf-8")
    _, problems = check_manifest(path)
    lines = [p.line or 0 for p in problems]
    assert lines == sorted(lines) and len(set(lines)) >= 5, problems
