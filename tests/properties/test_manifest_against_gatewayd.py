"""Manifests mutated by hypothesis, judged by us and by the real ``gatewayd plugin lint`` of both GatewayD
versions: whatever we call valid, GatewayD's lint must accept. (We may refuse more: the installer's rules,
the handshake env, the repository name are ours to check on top of the lint.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.gatewayd.program import lint_plugins_config
from gatewayd_plugin_actions.manifest import check_manifest
from tests.properties.strategies import EXAMPLE_MANIFEST, mutated_manifest, plausible_manifest


@given(st.one_of(plausible_manifest(), plausible_manifest(), mutated_manifest()))
@example(EXAMPLE_MANIFEST)
@example(EXAMPLE_MANIFEST.replace('checksum: "0000', "checksum: 0000"))  # a YAML number: the lint rejects it
def test_what_we_call_valid_gatewayd_lints_clean(gatewayd_binaries: dict[str, Path],
                                                 tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("lint") / contract.MANIFEST_FILE
    path.write_text(text, encoding="utf-8")
    manifest, problems = check_manifest(path)
    if manifest is None or any(p.is_error for p in problems):
        event("we refuse it")
        return
    event("we accept it: GatewayD lints it")
    for version, gatewayd in gatewayd_binaries.items():
        ok, output = lint_plugins_config(gatewayd, path)
        assert ok, f"we call it valid, GatewayD {version}'s lint does not: {output}\n{text}"
