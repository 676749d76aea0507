"""Every input surface, fed what hypothesis makes of it: the answer is a result or a ``UserError`` whose
message is one line (naming the value, cut when long) — never another exception, never a secret.

Found by this suite and fixed with it (kept below as explicit examples): a deeply nested manifest
(RecursionError), ``+build`` tags ordered both ways, Unicode digits taken for numbers, a password with ``@``
shown after its first ``@``, a trailing newline accepted in a tag."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gatewayd_plugin_actions import contract, dist, goplugin
from gatewayd_plugin_actions.commands.toolbox import split_args
from gatewayd_plugin_actions.errors import MESSAGE_LIMIT, Problem, UserError
from gatewayd_plugin_actions.gatewayd.postgres import PostgresTarget, redact
from gatewayd_plugin_actions.manifest import check_manifest
from gatewayd_plugin_actions.redaction import redact as redact_line
from gatewayd_plugin_actions.release.build import check_extra_ldflags
from gatewayd_plugin_actions.semver import Version
from gatewayd_plugin_actions.targets import DEFAULT_TARGETS, parse_targets
from tests.conftest import EXAMPLE_PLUGIN
from tests.properties.strategies import mutated_manifest

EXAMPLE_MANIFEST = (EXAMPLE_PLUGIN / "gatewayd_plugin.yaml").read_text(encoding="utf-8")
VERSION_VARIABLE = "github.com/o/gatewayd-plugin-example/plugin.Version"


def assert_one_line(error: UserError) -> None:
    assert error.message and "\n" not in error.message, error.message
    assert len(error.message) <= MESSAGE_LIMIT + 40
    for problem in error.problems:
        assert "\n" not in str(problem) and len(problem.message) <= MESSAGE_LIMIT + 40


def assert_problems_are_lines(problems: list[Problem]) -> None:
    for problem in problems:
        assert problem.file and "\n" not in problem.message and len(problem.message) <= MESSAGE_LIMIT + 40, problem


# --- manifests: structure, types, sizes, encodings ---------------------------------------------------------

RAW_YAML = st.one_of(
    st.text(alphabet="{}[]:-,#&*!|>'\"%@` \n\tab1", max_size=60),
    st.integers(1, 3000).map(lambda n: "plugins: " + "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: "".join(f"{'  ' * i}k{i}:\n" for i in range(n)) + "  " * n + "v"),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", errors="replace")),
)


@given(st.one_of(mutated_manifest(), RAW_YAML))
@example("plugins: " + "[" * 5000 + "]" * 5000)  # RecursionError before the nesting limit
@example("\ufeffplugins: []")
@example("plugins:\n  - &a [*a]\n")
def test_any_manifest_text_is_a_verdict(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("m") / contract.MANIFEST_FILE
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    manifest, problems = check_manifest(path)
    assert_problems_are_lines(problems)
    if manifest is None:
        assert any(p.is_error for p in problems)


@given(st.binary(max_size=200))
@example(b"plugins: [\xff]")
@example(b"\xff\xfe" + "plugins: []".encode("utf-16-le"))
def test_any_manifest_bytes_are_a_verdict(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("m") / contract.MANIFEST_FILE
    path.write_bytes(data)
    _, problems = check_manifest(path)
    assert_problems_are_lines(problems)


@settings(max_examples=5)  # each example is a manifest of up to ~200 KiB
@given(st.integers(MESSAGE_LIMIT, 200_000), st.sampled_from(["  - name", "    url"]))
def test_an_oversized_value_is_not_echoed(tmp_path_factory: pytest.TempPathFactory, size: int, key: str) -> None:
    path = tmp_path_factory.mktemp("m") / contract.MANIFEST_FILE
    text = "\n".join(f"{key}: {'x' * size}" if line.startswith(f"{key}:") else line
                     for line in EXAMPLE_MANIFEST.splitlines())
    path.write_text(text, encoding="utf-8")
    _, problems = check_manifest(path)
    assert [p for p in problems if p.is_error], "a name or url this long is never valid"
    assert all(len(str(p)) < 2 * MESSAGE_LIMIT for p in problems)


# --- tags, targets, flag values, toolbox argument strings, env lines --------------------------------------

@given(st.text(max_size=400))
@example("v1.0.0-" + "a" * 300)  # OSError: File name too long, while packaging
def test_any_tag_is_a_version_or_one_line(tag: str) -> None:
    try:
        version = Version.parse(tag)
    except UserError as exc:
        assert_one_line(exc)
        return
    problem = contract.archive_name_problem("gatewayd-plugin-example", DEFAULT_TARGETS, version.tag)
    names = [contract.archive_name("gatewayd-plugin-example", t, version.tag) for t in DEFAULT_TARGETS]
    fits = all(len(n.encode()) + len(contract.PARTIAL_SUFFIX) <= contract.NAME_MAX for n in names)
    assert (problem is None) == fits


@given(st.text(alphabet="linuxdarwinwindowsamd64arm/, \t\n386", max_size=40) | st.text(max_size=20))
def test_any_target_list_is_targets_or_one_line(text: str) -> None:
    try:
        targets = parse_targets(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert targets and all(t.goos and t.goarch for t in targets)


@given(st.lists(st.sampled_from([*"-X =\"'\\", VERSION_VARIABLE, "main.v", "x", "9"]), max_size=12).map("".join))
@example(f"-X {VERSION_VARIABLE}=9.9.9")
@example(f"-X={VERSION_VARIABLE}=9.9.9")
@example("-s '-X")
def test_ldflags_never_override_the_injected_version(extra: str) -> None:
    try:
        check_extra_ldflags(extra, VERSION_VARIABLE)
    except UserError as exc:
        assert_one_line(exc)
        return
    words = shlex.split(extra)
    settings = [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-X", "--X")]
    settings += [w.split("=", 1)[1] for w in words if w.startswith(("-X=", "--X="))]
    assert not any(s.split("=", 1)[0] == VERSION_VARIABLE for s in settings)


@given(st.text(max_size=60))
@example("'unterminated")
def test_toolbox_argument_strings_split_or_one_line(text: str) -> None:
    try:
        split_args(text)
    except UserError as exc:
        assert_one_line(exc)


@given(st.lists(st.text(max_size=30), max_size=4))
def test_plugin_env_lines_are_pairs_or_one_line(items: list[str]) -> None:
    try:
        pairs = goplugin.parse_plugin_env(items)
    except UserError as exc:
        assert_one_line(exc)
        return
    assert all(key and "=" not in key and not any(c.isspace() for c in key) for key, _ in pairs)


# --- URLs: never a secret ------------------------------------------------------------------------------

PASSWORDS = st.text(alphabet="abcXYZ019@:/#?%!$&'()*+,;= ~", min_size=8, max_size=24).filter(
    lambda p: any(c in p for c in "@:/#?"))


@given(PASSWORDS, st.sampled_from(["postgres", "postgresql", "http", "pg"]), st.sampled_from(["5432", "x", ""]))
@example("p@ss@w0rd!!", "postgres", "5432")  # redacted only up to the first "@" before
def test_a_password_is_never_shown(password: str, scheme: str, port: str) -> None:
    url = f"{scheme}://alice:{password}@127.0.0.1{':' + port if port else ''}/db"
    shown = [redact(url)]
    if not any(c.isspace() for c in password):  # in free text, redaction ends at whitespace
        shown.append(redact_line(f"connecting to {url} failed"))
    try:
        target = PostgresTarget.parse(url)
    except UserError as exc:
        shown.append(exc.message)
    else:
        shown += [repr(target), target.address]
    for text in shown:
        assert password not in text, text


# --- dist contents --------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=15)
METADATA_KEYS = ["schema", "plugin", "version", "targets", "archives", "binaries", "verification",
                 "source_date_epoch", "commit", "uncommitted", "merged_from", "version_variable"]


@st.composite
def metadata_documents(draw: st.DrawFn) -> object:
    document = {"schema": dist.SCHEMA_VERSION, "plugin": "gatewayd-plugin-example", "version": "v1.0.0",
                "targets": ["linux/amd64"], "archives": [], "binaries": []}
    for key in draw(st.lists(st.sampled_from(METADATA_KEYS), max_size=3, unique=True)):
        document[key] = draw(JSON_VALUES)
    return draw(st.one_of(st.just(document), JSON_VALUES))


@given(metadata_documents())
@example({"schema": 2, "plugin": "p", "version": "v1.0.0", "targets": ["linux"]})  # a malformed target
@example({"schema": 2, "plugin": "p", "version": "v1.0.0", "targets": ["linux/amd64"], "binaries": [{"path": 1}]})
def test_any_dist_metadata_is_read_or_one_line(tmp_path_factory: pytest.TempPathFactory, document: object) -> None:
    where = tmp_path_factory.mktemp("dist")
    (where / dist.METADATA_FILE).write_text(json.dumps(document), encoding="utf-8")
    try:
        meta = dist.load(where)
    except UserError as exc:
        assert_one_line(exc)
        return
    assert meta is not None and isinstance(meta.version, str) and all(t.goos for t in meta.targets)


def test_a_dist_metadata_that_is_a_device_or_nested_too_deep(tmp_path: Path) -> None:
    (tmp_path / dist.METADATA_FILE).symlink_to("/dev/zero")
    with pytest.raises(UserError, match="must be a regular file, but this is a character device"):
        dist.load(tmp_path)
    (tmp_path / dist.METADATA_FILE).unlink()
    (tmp_path / dist.METADATA_FILE).write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        dist.load(tmp_path)
    assert_one_line(caught.value)
