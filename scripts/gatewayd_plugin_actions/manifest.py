"""Stage ``validate``: check a plugin's ``gatewayd_plugin.yaml`` as GatewayD's lint and installer would.

GatewayD lints with a JSON schema generated from ``config.PluginConfig`` (every struct closed with
``additionalProperties: false``, every field without ``omitempty`` required). The installer copies
``plugins[0]`` verbatim into the user's ``gatewayd_plugins.yaml``, so that entry must also satisfy the
installer's own rules (name = repository name, ``url`` form, the magic-cookie env pair).
ruamel.yaml keeps line numbers, so every problem points at ``file:line``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from gatewayd_plugin_actions import contract, userfiles
from gatewayd_plugin_actions.actions_io import display_path
from gatewayd_plugin_actions.errors import Findings, Problem, UserError

# Go's time.ParseDuration syntax, e.g. "5s", "1m30s", "250ms".
_DURATION_PART = r"(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
DURATION_RE = re.compile(rf"^[-+]?(?:{_DURATION_PART})+$")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_seconds(duration: str) -> float:
    """A Go duration ("1s", "250ms", "1m30s") in seconds."""
    return sum(float(number) * _DURATION_UNITS[unit] for number, _, unit in re.findall(_DURATION_PART, duration))

BOOL, DURATION, STRING, LIST_OF_STRINGS = "bool", "duration", "string", "list of strings"
GLOBAL_KEYS: dict[str, str] = {
    "enableMetricsMerger": BOOL,
    "metricsMergerPeriod": DURATION,
    "healthCheckPeriod": DURATION,
    "reloadOnCrash": BOOL,
    "timeout": DURATION,
    "startTimeout": DURATION,
    "defaultPolicy": "enum",
    "policyTimeout": DURATION,
    "actionTimeout": DURATION,
    "actionRedis": "actionRedis",
    "policies": "policies",
    "plugins": "plugins",
}
DEFAULT_POLICIES = ("passthrough", "terminate")
ACTION_REDIS_KEYS = {"enabled": BOOL, "address": STRING, "channel": STRING}
PLUGIN_KEYS: dict[str, str] = {
    "name": STRING,
    "enabled": BOOL,
    "localPath": STRING,
    "url": STRING,
    "args": LIST_OF_STRINGS,
    "env": LIST_OF_STRINGS,
    "checksum": STRING,
}
# Keys that GatewayD's docs or old templates use but its lint rejects: say so explicitly.
KNOWN_STALE_KEYS = {"compatibilityPolicy", "verificationPolicy", "acceptancePolicy"}


@dataclass
class Manifest:
    path: Path
    display: str  # the path as shown in messages and annotations
    data: CommentedMap
    plugin_name: str
    owner: str | None  # from plugins[0].url
    repo: str | None

    @property
    def plugin(self) -> CommentedMap:
        entry = self.data["plugins"][0]
        assert isinstance(entry, CommentedMap)
        return entry


def _line(node: Any, key: Any = None) -> int | None:
    """1-based line of a mapping key (or the node itself) from ruamel's position info."""
    try:
        if key is not None and isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if key is not None and isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Checker:
    def __init__(self, display: str) -> None:
        self.display = display
        self.findings = Findings()

    def error(self, message: str, line: int | None) -> None:
        self.findings.error(message, self.display, line)

    def warning(self, message: str, line: int | None) -> None:
        self.findings.warning(message, self.display, line)

    def check_value(self, path: str, kind: str, value: Any, line: int | None) -> None:
        if kind == BOOL and not isinstance(value, bool):
            self.error(f"{path} must be true or false, not {_type_name(value)}", line)
        elif kind == STRING and not isinstance(value, str):
            self.error(f"{path} must be a string, not {_type_name(value)}", line)
        elif kind == DURATION:
            if isinstance(value, bool) or not isinstance(value, int | str):
                self.error(f"{path} must be a duration such as \"5s\" or an integer of nanoseconds, "
                           f"not {_type_name(value)}", line)
            elif isinstance(value, str) and value != "0" and not DURATION_RE.match(value):
                self.error(f"{path} is not a Go duration: {value!r} (use e.g. \"5s\", \"1m\", \"250ms\")", line)
        elif kind == LIST_OF_STRINGS:
            if not isinstance(value, list):
                hint = " (use [] for none)" if value is None else ""
                self.error(f"{path} must be a list of strings, not {_type_name(value)}{hint}", line)
            else:
                for index, item in enumerate(value):
                    if not isinstance(item, str):
                        self.error(f"{path}[{index}] must be a string, not {_type_name(item)}",
                                   _line(value, index) or line)

    def check_closed_mapping(self, path: str, node: Any, keys: dict[str, str], line: int | None,
                             required: bool) -> None:
        if not isinstance(node, CommentedMap):
            self.error(f"{path} must be a mapping, not {_type_name(node)}", line)
            return
        for key, value in node.items():
            if key not in keys:
                self.error(f"{path} has unknown key {key!r}; GatewayD's lint rejects unknown keys "
                           f"(known: {', '.join(keys)})", _line(node, key))
            else:
                self.check_value(f"{path}.{key}", keys[key], value, _line(node, key))
        if required:
            for key in keys:
                if key not in node:
                    self.error(f"{path} is missing required key {key!r}", _line(node))

    def check_globals(self, root: CommentedMap) -> None:
        for key, value in root.items():
            line = _line(root, key)
            kind = GLOBAL_KEYS.get(str(key))
            if kind is None:
                extra = (" (documented by GatewayD but not accepted by its code)"
                         if key in KNOWN_STALE_KEYS else "")
                self.error(f"unknown top-level key {key!r}{extra}; `gatewayd plugin lint` rejects it", line)
            elif kind == "enum":
                if value not in DEFAULT_POLICIES:
                    self.error(f"defaultPolicy must be one of {', '.join(DEFAULT_POLICIES)}, not {value!r}", line)
            elif kind == "actionRedis":
                self.check_closed_mapping("actionRedis", value, ACTION_REDIS_KEYS, line, required=False)
            elif kind == "policies":
                self.check_policies(value, line)
            elif kind != "plugins":
                self.check_value(str(key), kind, value, line)

    def check_policies(self, value: Any, line: int | None) -> None:
        if not isinstance(value, list):
            self.error(f"policies must be a list, not {_type_name(value)}", line)
            return
        for index, policy in enumerate(value):
            where = f"policies[{index}]"
            item_line = _line(value, index) or line
            if not isinstance(policy, CommentedMap):
                self.error(f"{where} must be a mapping, not {_type_name(policy)}", item_line)
                continue
            for key in ("name", "policy"):
                if key not in policy:
                    self.error(f"{where} is missing required key {key!r}", item_line)
            for key, item in policy.items():
                if key in ("name", "policy"):
                    self.check_value(f"{where}.{key}", STRING, item, _line(policy, key))
                elif key == "metadata":
                    if not isinstance(item, dict):
                        self.error(f"{where}.metadata must be a mapping", _line(policy, key))
                else:
                    self.error(f"{where} has unknown key {key!r}", _line(policy, key))


_VERSION_DIRECTIVE = re.compile(r"^%YAML[ \t][^\n]*", re.MULTILINE)


def _without_version_directive(text: str) -> str:
    """GatewayD's YAML reader ignores ``%YAML 1.1`` (``enabled: yes`` stays the string "yes" there), while
    ruamel would switch to 1.1 rules: read every manifest by the rules GatewayD applies. The directive line
    becomes a comment, so line numbers stay right."""
    head, marker, rest = text.partition("\n---")
    if not marker:
        return text
    return _VERSION_DIRECTIVE.sub(lambda m: "#" + m.group(0)[1:], head) + marker + rest


MANIFEST_LIMIT = userfiles.MIB  # GatewayD's own manifests are a few KiB
MAX_NESTING = 64  # deeper YAML is no plugin manifest, and would exhaust the recursion of any reader


def _nesting_problem(yaml: YAML, text: str, display: str) -> Problem | None:
    """The first collection nested deeper than MAX_NESTING, found from the parser's event stream (which does
    not recurse) before anything builds the nested structure."""
    depth = 0
    try:
        for event in yaml.parse(text):
            kind = type(event).__name__
            if kind in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > MAX_NESTING:
                    mark = event.start_mark
                    return Problem(f"collections nested deeper than {MAX_NESTING} levels; a plugin manifest is a "
                                   "few levels deep, is this the right file?", display,
                                   mark.line + 1 if mark is not None else None)
            elif kind in ("MappingEndEvent", "SequenceEndEvent"):
                depth -= 1
    except YAMLError:
        return None  # the loader reports the syntax error, with its line
    return None


def _load(path: Path, display: str, data: bytes | None) -> Any:
    yaml = YAML(typ="rt")
    if data is None:
        try:
            data = userfiles.read_bytes(path, "the plugin manifest", MANIFEST_LIMIT, display)
        except UserError as exc:
            if not path.exists() and not path.is_symlink():
                raise UserError(f"{display}: not found; every GatewayD plugin needs a {contract.MANIFEST_FILE} "
                                "at the repository root", [Problem("file not found", display)]) from None
            raise exc from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Point at the line of the first bad byte: "cannot read: 'utf-8' codec can't decode…" alone says neither
        # where nor what to do.
        bad_line, bad = userfiles.first_bad_byte(exc)
        problem = Problem(f"not UTF-8: byte 0x{bad} cannot be decoded ({exc.reason}); GatewayD reads this file as "
                          "UTF-8, so save it in that encoding", display, bad_line)
        raise UserError(str(problem), [problem]) from None
    text = _without_version_directive(text)
    nesting = _nesting_problem(yaml, text, display)
    if nesting is not None:
        raise UserError(str(nesting), [nesting])
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and mark is not None and mark.index >= len(text):
            # "found unexpected end of stream": the end is past the last line; where the construct began is useful.
            mark = exc.context_mark
        line = mark.line + 1 if mark is not None else None
        # One line: ruamel's parts may hold newlines and its own "in <unicode string>" positions.
        reason = " ".join(" ".join(str(part).split()) for part in (exc.context, exc.problem) if part) or "invalid YAML"
        problem = Problem(f"invalid YAML: {reason}", display, line)
        raise UserError(str(problem), [problem]) from None
    except YAMLError as exc:
        text_of = " ".join(str(exc).split()).replace(' in "<unicode string>",', "")
        problem = Problem(f"invalid YAML: {text_of}", display)
        raise UserError(str(problem), [problem]) from None


def check_manifest(path: Path, repository: str | None = None, *, data: bytes | None = None,
                   display: str | None = None) -> tuple[Manifest | None, list[Problem]]:
    """Validate ``gatewayd_plugin.yaml``; returns the manifest (None when unusable) and every problem.

    ``data``: the file's bytes when they do not come from ``path`` (e.g. a copy inside an archive), shown
    in messages as ``display``."""
    display = display or display_path(path)
    try:
        root = _load(path, display, data)
    except UserError as exc:
        return None, exc.problems
    checker = _Checker(display)
    if root is None:
        checker.error("the file is empty (no YAML document); it must be a mapping with a 'plugins' list", 1)
        return None, checker.findings.problems
    if not isinstance(root, CommentedMap):
        checker.error(f"the file must be a YAML mapping with a 'plugins' list, not {_type_name(root)}", 1)
        return None, checker.findings.problems
    checker.check_globals(root)
    plugins = root.get("plugins")
    if "plugins" not in root:
        checker.error("missing 'plugins': the installer reads plugins[0] from this file", 1)
        return None, checker.findings.problems
    if not isinstance(plugins, CommentedSeq):
        checker.error(f"'plugins' must be a non-empty list of plugin entries, not {_type_name(plugins)}",
                      _line(root, "plugins"))
        return None, checker.findings.problems
    if not plugins:
        checker.error("'plugins' is an empty list; it needs one entry (an empty list makes "
                      "`gatewayd plugin install` panic)", _line(root, "plugins"))
        return None, checker.findings.problems
    for index, entry in enumerate(plugins):
        checker.check_closed_mapping(f"plugins[{index}]", entry, PLUGIN_KEYS, _line(plugins, index),
                                     required=True)
    if len(plugins) > 1:
        checker.warning(f"{len(plugins)} plugin entries: `gatewayd plugin install` uses only plugins[0]",
                        _line(plugins, 1))
    entry = plugins[0]
    if not isinstance(entry, CommentedMap):
        return None, checker.findings.problems
    manifest = _check_installer_rules(checker, root, entry, path, display, repository)
    # File order reads best: fix top to bottom (sorted() is stable for problems on one line).
    return manifest, sorted(checker.findings.problems, key=lambda problem: problem.line or 0)


def _env_map(env: Any) -> dict[str, str]:
    pairs: dict[str, str] = {}
    if isinstance(env, list):
        for item in env:
            if isinstance(item, str) and "=" in item:
                key, _, value = item.partition("=")
                pairs.setdefault(key, value)
    return pairs


def _check_installer_rules(checker: _Checker, root: CommentedMap, entry: CommentedMap, path: Path,
                           display: str, repository: str | None) -> Manifest | None:
    name = entry.get("name")
    url = entry.get("url")
    owner = repo = None
    if isinstance(url, str):
        match = contract.parse_install_url(url)
        if match is None:
            checker.error(f"plugins[0].url {url!r} is not what `gatewayd plugin install` accepts: "
                          "github.com/<owner>/<repo>@latest or @vX.Y.Z (letters, digits and '-' only)",
                          _line(entry, "url"))
        else:
            owner, repo = match["owner"], match["repo"]
    if repository:
        want_owner, _, want_repo = repository.partition("/")
        for part in (want_owner, want_repo):
            if not contract.NAME_RE.match(part):
                checker.error(f"repository {repository!r}: GitHub owner and name must match [A-Za-z0-9-]+ "
                              "for `gatewayd plugin install github.com/<owner>/<repo>` to accept them", None)
        if owner is not None and (owner, repo) != (want_owner, want_repo):
            checker.error(f"plugins[0].url points at github.com/{owner}/{repo}, but this repository is "
                          f"{repository}", _line(entry, "url"))
        owner, repo = want_owner, want_repo
    if isinstance(name, str):
        if not contract.NAME_RE.match(name):
            checker.error(f"plugins[0].name {name!r} must match [A-Za-z0-9-]+ (it must equal the repository "
                          "name, which the installer restricts to letters, digits and '-')", _line(entry, "name"))
        elif repo is not None and name != repo:
            checker.error(f"plugins[0].name {name!r} must equal the repository name {repo!r}: the installer "
                          "names the plugin after the repository and finds the binary by that name",
                          _line(entry, "name"))
    env = entry.get("env")
    if isinstance(env, list):
        pairs = _env_map(env)
        env_line = _line(entry, "env")
        for index, item in enumerate(env):
            if isinstance(item, str) and "=" not in item:
                checker.error(f"plugins[0].env[{index}] {item!r} is not KEY=VALUE", _line(env, index) or env_line)
        expected = {"MAGIC_COOKIE_KEY": contract.MAGIC_COOKIE_KEY,
                    "MAGIC_COOKIE_VALUE": contract.MAGIC_COOKIE_VALUE}
        for key, value in expected.items():
            if key not in pairs:
                checker.error(f"plugins[0].env is missing {key} (the go-plugin handshake needs "
                              f"{key}={value})", env_line)
            elif pairs[key] != value:
                checker.error(f"plugins[0].env has {key}={pairs[key]!r}, but GatewayD's handshake expects "
                              f"{value!r}", env_line)
    checksum = entry.get("checksum")
    if isinstance(checksum, str) and not re.fullmatch(r"[0-9a-fA-F]{64}", checksum):
        checker.warning("plugins[0].checksum is a placeholder; `gatewayd plugin install` replaces it, but "
                        "running GatewayD on this file unchanged would skip the plugin", _line(entry, "checksum"))
    local_path = entry.get("localPath")
    if isinstance(local_path, str) and local_path and "/" not in local_path:
        checker.warning(f"plugins[0].localPath {local_path!r} has no '/', so GatewayD looks it up on $PATH; "
                        f"use ./{local_path}", _line(entry, "localPath"))
    if entry.get("enabled") is False:
        checker.warning("plugins[0].enabled is false: installed copies start disabled", _line(entry, "enabled"))
    if checker.findings.errors or not isinstance(name, str) or not isinstance(url, str):
        return None
    return Manifest(path, display, root, name, owner, repo)


def load_manifest(path: Path, repository: str | None = None) -> tuple[Manifest, list[Problem]]:
    """Like ``check_manifest`` but raises ``UserError`` when the file has errors."""
    manifest, problems = check_manifest(path, repository)
    findings = Findings(problems)
    findings.raise_if_errors(f"{display_path(path)} is not a valid GatewayD plugin manifest")
    assert manifest is not None
    return manifest, problems
