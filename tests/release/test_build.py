"""Stage ``build``: the -X version target is found (or refused) from the Go source, and build failures read well."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.release.build import resolve_version_variable

MODULE = "github.com/acme/gatewayd-plugin-x"


def project_with(tmp_path: Path, plugin_go: str) -> Path:
    (tmp_path / "go.mod").write_text(f"module {MODULE}\n\ngo 1.24\n")
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "plugin.go").write_text("package plugin\n\n" + plugin_go)
    return tmp_path


@pytest.mark.parametrize("source", [
    'var Version = "0.0.0"\n',
    "var Version string\n",
    'var (\n\tVersion = "dev"\n\tOther = 1\n)\n',
    "var (\n\tVersion string\n)\n",
])
def test_a_string_variable_is_detected(tmp_path: Path, source: str) -> None:
    assert resolve_version_variable(project_with(tmp_path, source), None) == f"{MODULE}/plugin.Version"


# GatewayD's scaffold (v0.11.1) has only this: a composite-literal field, which -X cannot set.
SCAFFOLD_MODULE_GO = '''var (
\tPluginID = v1.PluginID{
\t\tName:      "gatewayd-plugin-x",
\t\tVersion:   "0.1.0",
\t\tRemoteUrl: "github.com/acme/gatewayd-plugin-x",
\t}
)
'''


@pytest.mark.parametrize("source", [
    SCAFFOLD_MODULE_GO,
    "// var Version = \"commented out\"\n",
    "type Info struct {\n\tVersion string\n}\n",
])
def test_no_settable_variable_means_no_injection(tmp_path: Path, source: str) -> None:
    assert resolve_version_variable(project_with(tmp_path, source), None) is None


def test_asking_for_a_field_that_is_not_a_variable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no string variable Version"):
        resolve_version_variable(project_with(tmp_path, SCAFFOLD_MODULE_GO), f"{MODULE}/plugin.Version")


@pytest.mark.parametrize("source", ['const Version = "1.0.0"\n', 'const (\n\tVersion = "1.0.0"\n)\n'])
def test_a_constant_is_refused_with_the_fix(tmp_path: Path, source: str) -> None:
    with pytest.raises(UserError, match="is a constant"):
        resolve_version_variable(project_with(tmp_path, source), f"{MODULE}/plugin.Version")
