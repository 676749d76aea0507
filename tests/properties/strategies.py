"""Input makers shared by the property tests."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import strategies as st

from gatewayd_plugin_actions import dist
from tests.conftest import EXAMPLE_PLUGIN
from tests.fixtures.github import REPO

EXAMPLE_MANIFEST = (EXAMPLE_PLUGIN / "gatewayd_plugin.yaml").read_text(encoding="utf-8")

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                    st.binary(max_size=8).map(lambda b: b.decode("latin-1")))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=20)
PLUGIN_KEYS = ["name", "enabled", "localPath", "url", "args", "env", "checksum", "config", "unknown"]


@st.composite
def mutated_manifest(draw: st.DrawFn) -> str:
    """The example's manifest with a few of its plugin entry's keys (or a top-level one) dropped or replaced
    by anything; plain PyYAML builds it, so the text is valid YAML whatever the values."""
    data = yaml.safe_load(EXAMPLE_MANIFEST)
    entry = data["plugins"][0]
    for key in draw(st.lists(st.sampled_from(PLUGIN_KEYS), max_size=3, unique=True)):
        if draw(st.booleans()) and key in entry:
            del entry[key]
        else:
            entry[key] = draw(VALUES)
    if draw(st.booleans()):
        data[draw(st.sampled_from(["timeout", "healthCheckPeriod", "reloadOnCrash", "x"]))] = draw(VALUES)
    return yaml.safe_dump(data, allow_unicode=True)




BOOLEANS = st.sampled_from([True, False, "true", "True", "yes", "on", 1, 0, "1", None])
DURATIONS = st.sampled_from(["30s", "1m", "1h30m", "0s", "500ms", "30", 30, "-1s", "1d", "", None, "1m30", "2h"])
ENV_LINES = st.one_of(st.from_regex(r"[A-Z_]{1,8}=[a-z0-9]{0,6}", fullmatch=True), st.text(max_size=10))


@st.composite
def plausible_manifest(draw: st.DrawFn) -> str:
    """The example's manifest with values a plugin author might plausibly write: boolean and duration spellings,
    other args, extra env lines, another checksum. Near the line between valid and invalid, where our verdict
    and GatewayD's lint could part."""
    data = yaml.safe_load(EXAMPLE_MANIFEST)
    entry = data["plugins"][0]
    for key in draw(st.lists(st.sampled_from(["enableMetricsMerger", "reloadOnCrash"]), max_size=2, unique=True)):
        data[key] = draw(BOOLEANS)
    for key in draw(st.lists(st.sampled_from(["metricsMergerPeriod", "healthCheckPeriod", "timeout",
                                              "startTimeout"]), max_size=2, unique=True)):
        data[key] = draw(DURATIONS)
    if draw(st.booleans()):
        entry["enabled"] = draw(BOOLEANS)
    if draw(st.booleans()):
        entry["args"] = draw(st.lists(st.text(max_size=8), max_size=3) | st.none())
    if draw(st.booleans()):
        entry["env"] = [*entry["env"], *draw(st.lists(ENV_LINES, max_size=2))]
    if draw(st.booleans()):
        entry["checksum"] = draw(st.sampled_from(["", "abc", "0" * 64, 12345, None]))
    return yaml.safe_dump(data, allow_unicode=True)


# --- a valid dist damaged one random way ---------------------------------------------------------------------

DAMAGED_TAG = "v1.4.0"  # the tag of the dists these damage


@st.composite
def damage(draw: st.DrawFn) -> tuple[str, str, int, bytes]:
    """(kind, which file, where, bytes): applied by ``apply`` to a copy of the dist."""
    kind = draw(st.sampled_from(["flip", "truncate", "add", "remove", "rename", "checksum-line"]))
    which = draw(st.sampled_from(["archive", "checksums.txt", "metadata.json"]))
    return kind, which, draw(st.integers(0, 10_000)), draw(st.binary(min_size=1, max_size=8))


def apply(path: Path, kind: str, which: str, where: int, data: bytes) -> None:
    archive = next(p for p in path.iterdir() if p.name.endswith((".tar.gz", ".zip")))
    file = {"archive": archive, "checksums.txt": path / "checksums.txt",
            "metadata.json": path / dist.METADATA_FILE}[which]
    content = file.read_bytes()
    if kind == "flip":
        at = where % len(content)
        file.write_bytes(content[:at] + bytes([content[at] ^ (data[0] or 1)]) + content[at + 1:])
    elif kind == "truncate":
        file.write_bytes(content[: where % len(content)])
    elif kind == "add":
        (path / f"{REPO}-linux-arm-{DAMAGED_TAG}.tar.gz" if data[0] % 2 else path / "notes.txt").write_bytes(data)
    elif kind == "remove":
        file.unlink()
    elif kind == "rename":
        renamed = file.name.replace(DAMAGED_TAG, "v1.4.1") if DAMAGED_TAG in file.name else file.name + ".bak"
        file.rename(path / renamed)
    else:  # a checksum line made to name another file, or another hash
        lines = (path / "checksums.txt").read_text(encoding="utf-8").splitlines()
        line = lines[where % len(lines)]
        lines[where % len(lines)] = line.replace(line[:8], data.hex()[:8].ljust(8, "0")) if data[0] % 2 \
            else line + "x"
        (path / "checksums.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
