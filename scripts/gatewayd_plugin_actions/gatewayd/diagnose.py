"""Read GatewayD's log like a maintainer would: the lines a human needs, and one line saying why a plugin
did not load or why GatewayD exited (test-plugin's failure messages)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.errors import shorten
from gatewayd_plugin_actions.gatewayd import program

MAX_LOG_LINES = 40
PANIC_HEAD_LINES = 12  # a Go panic's message, its goroutine and the first frames: where it happened
CONTEXT_BEFORE = 2  # lines kept before the first error or panic: what the plugin was doing
PANIC_STARTS = ("panic: ", "fatal error: ")
# The rest of a Go stack trace: goroutine headers, "created by", frames ("pkg.Func(args)") and their
# "\tfile.go:12 +0x1f" lines. Relayed from a plugin, each is a log line of its own (DBG on v0.10.3, ERR on
# v0.11.1), and 20 of them per panic would push everything else out of the excerpt.
STACK_LINE_RE = re.compile(r"^(?:\t|goroutine \d+ |created by |\[signal |$|\S+\(.*\)$)")


def plugin_lines(lines: list[program.LogLine], plugin: str) -> list[program.LogLine]:
    return [ln for ln in lines if ln.about(plugin) or ln.level in ("ERR", "FTL", "PNC")]


def is_panic(line: program.LogLine) -> bool:
    """A Go panic's first line: GatewayD's own (raw stderr) or a plugin's (relayed with its name)."""
    return line.message.startswith(PANIC_STARTS)


def _picked(lines: list[program.LogLine], plugin: str) -> list[tuple[program.LogLine, bool]]:
    """The lines worth showing, each marked True when it belongs to the head of the panic before it."""
    explains = (*program.SKIP_MARKERS, *contract.COOKIE_REFUSAL_MARKERS)
    picked: list[tuple[program.LogLine, bool]] = []
    head_left = 0
    panicked = False
    for line in lines:
        if is_panic(line):
            head_left, panicked = PANIC_HEAD_LINES, True
            picked.append((line, False))
        elif panicked and STACK_LINE_RE.match(line.message):
            # Other threads' lines may come between a stack's lines; past the head a stack explains nothing more.
            if head_left:
                picked.append((line, True))
        elif line.level in ("ERR", "FTL", "PNC") or (line.about(plugin) and (
                line.level in ("INF", "WRN") or any(m in line.text for m in explains))):
            picked.append((line, False))
            continue
        else:
            continue
        head_left = max(0, head_left - 1)
    return picked


def relevant_lines(lines: list[program.LogLine], plugin: str) -> list[str]:
    """The log lines a human needs: info and up about the plugin, debug lines that explain a skip or a refused
    handshake, every error, and the head of each Go panic. When there are more than :data:`MAX_LOG_LINES`, the
    first panic (else the first error) with the lines just before it is always kept, then the last lines."""
    picked = _picked(lines, plugin)
    texts = [line.text for line, _ in picked]
    if len(texts) <= MAX_LOG_LINES:
        return texts
    first = next((i for i, (line, _) in enumerate(picked) if is_panic(line)), None)
    if first is None:
        first = next((i for i, (line, _) in enumerate(picked) if line.level in ("ERR", "FTL", "PNC")), 0)
    start = max(0, first - CONTEXT_BEFORE)
    # The panic's head runs to its last head line. Lines other threads wrote in between (GatewayD's "Hook returned
    # an error" while the plugin's stack is relayed) stay where they were, so the head reads as the log does.
    end = first + 1
    for index in range(first + 1, min(len(picked), first + 1 + 2 * PANIC_HEAD_LINES)):
        if is_panic(picked[index][0]):
            break
        if picked[index][1]:
            end = index + 1
    excerpt = [f"… ({start} earlier lines left out)"] if start else []
    excerpt += texts[start:end]
    tail_from = max(end, len(texts) - (MAX_LOG_LINES - len(excerpt) - 1))
    if tail_from > end:
        excerpt.append(f"… ({tail_from - end} lines left out)")
    return excerpt + texts[tail_from:]


def plugin_panic(lines: list[program.LogLine], plugin: str) -> str:
    """``panic: … at file.go:12 (in pkg.Func)`` for the first panic relayed from the plugin, else empty."""
    start = next((i for i, ln in enumerate(lines) if is_panic(ln) and ln.about(plugin)), None)
    if start is None:
        return ""
    where = ""
    frames = [ln.message for ln in lines[start + 1:start + PANIC_HEAD_LINES] if ln.about(plugin)]
    for function, location in itertools.pairwise(frames):
        name = function[:function.rfind("(")] if function.endswith(")") else ""
        if name and not name.startswith(("runtime.", "panic")) and location.startswith("\t"):
            file_line = location.strip().split(" +0x")[0]
            where = f" at {file_line} (in {name.rsplit('/', 1)[-1]})"
            break
    return f"{shorten(lines[start].message, 200)}{where}"


# The plugin's own lines: go-plugin relays each hclog JSON line a plugin writes to stderr into GatewayD's log at
# the line's own level with the plugin's fields and adds ``timestamp=`` (v0.10.3 and v0.11.1 alike:
# ``ERR Failed to ping … @module=<plugin> … plugin=<plugin> timestamp=…``). GatewayD's own lines about the plugin
# ("Failed to ping plugin", "Plugin not registered") have no timestamp field; plain stderr lines (a panic's) have
# no level of their own either (v0.10.3 relays them at DBG, v0.11.1 at ERR), so they do not count here.
LOGGED_SEVERITY = {"ERR": "error", "WRN": "warning"}
RELAY_FIELD_RE = re.compile(r' (?:group|plugin|@module|timestamp)=(?:"(?:[^"\\]|\\.)*"|\S*)')


@dataclass(frozen=True)
class PluginLogged:
    """What the plugin itself logged at error or warning level (the first such line, and how often)."""

    severity: str  # "error" or "warning"
    text: str  # the message and the plugin's own fields, without GatewayD's timestamp and bookkeeping
    count: int

    def __str__(self) -> str:
        again = f" (logged {self.count} times)" if self.count > 1 else ""
        return f"{self.severity}: {self.text}{again}"


def is_plugin_hclog(line: program.LogLine, plugin: str) -> bool:
    """A line the plugin logged through hclog, relayed by go-plugin (which adds ``timestamp=``)."""
    return line.about(plugin) and program.log_field(line.text, "timestamp") is not None


def plugin_logged(lines: list[program.LogLine], plugin: str) -> list[PluginLogged]:
    """The plugin's own error and warning lines, one per distinct message, in the order first seen."""
    found: dict[tuple[str, str], PluginLogged] = {}
    for line in lines:
        severity = LOGGED_SEVERITY.get(line.level)
        if severity is None or not is_plugin_hclog(line, plugin):
            continue
        key = (severity, line.message)
        seen = found.get(key)
        if seen is None:
            text = RELAY_FIELD_RE.sub("", line.text.split(f" {line.level} ", 1)[-1]).strip()
            found[key] = PluginLogged(severity, text, 1)
        else:
            found[key] = PluginLogged(severity, seen.text, seen.count + 1)
    return list(found.values())


def cookie_hint(plugin_env: list[str] | None) -> str:
    """Why go-plugin refused the cookie: the env GatewayD passed (``plugins[0].env`` as configured), or, when
    that is right, the HandshakeConfig compiled into the binary."""
    wanted = {"MAGIC_COOKIE_KEY": contract.MAGIC_COOKIE_KEY, "MAGIC_COOKIE_VALUE": contract.MAGIC_COOKIE_VALUE}
    given = dict(str(item).partition("=")[::2] for item in plugin_env or [])
    if plugin_env is not None and all(given.get(k) == v for k, v in wanted.items()):
        return ("; the plugin refused to serve although plugins[0].env passes the right magic cookie: the "
                "HandshakeConfig compiled into the binary (main.go) must use the SDK's values (v1.Handshake, or "
                "MAGIC_COOKIE_KEY and MAGIC_COOKIE_VALUE read from the env)")
    return ("; the plugin refused to serve: no or wrong magic cookie (plugins[0].env needs "
            f"MAGIC_COOKIE_KEY={contract.MAGIC_COOKIE_KEY} and MAGIC_COOKIE_VALUE=…)")


def why_not_loaded(lines: list[program.LogLine], plugin: str, plugin_env: list[str] | None = None) -> str:
    """One line: why GatewayD did not load the plugin, from its own log (``plugin_env``: the env GatewayD was
    configured to pass it, when known)."""
    about = plugin_lines(lines, plugin)
    texts = " ".join(ln.text for ln in about)
    failed = next((ln for ln in about if ln.message == "Failed to start plugin"), None)
    reason = ""
    if failed is not None:
        error = program.log_field(failed.text, "error") or ""
        error = error.replace("failed to start plugin, OriginalError: ", "")
        reason = "Failed to start plugin: " + next((part.strip() for part in error.splitlines() if part.strip()), "")
        extra = [part.strip() for part in error.splitlines()[1:2] if part.strip()]
        if extra:
            reason += " " + extra[0]
    if any(m in texts for m in contract.COOKIE_REFUSAL_MARKERS):
        reason += cookie_hint(plugin_env)
    elif "checksums did not match" in texts:
        reason += "; the checksum in gatewayd_plugins.yaml is not the sha256 of localPath"
    exited = next((ln for ln in about if ln.message == "plugin process exited" and ln.level == "ERR"), None)
    if exited is not None and "exited" not in reason:
        reason += f"; the plugin process exited ({program.log_field(exited.text, 'error') or 'no status'})"
    panic = plugin_panic(lines, plugin)
    if panic:
        reason += f"; it panicked: {panic}"
    if not reason:
        skipped = next((m for m in program.SKIP_MARKERS if m in texts), None)
        reason = f"GatewayD skipped it: {skipped!r}" if skipped else "no reason in the log (see below)"
        line = next((ln for ln in about if skipped and skipped in ln.text), None)
        skip_error = program.log_field(line.text, "error") if line is not None else None
        if skip_error:  # e.g. GetPluginConfig's own error: what to fix in the plugin
            reason += f" ({skip_error.splitlines()[0].removeprefix('rpc error: code = Unknown desc = ')[:200]})"
    return reason.lstrip("; ")


# Go panics inside GatewayD itself that no plugin causes. v0.10.x: a client disconnecting while its backend
# connection is being read dereferences a nil net.Conn (network/client.go Receive; fixed in v0.11, which snapshots
# the connection under a lock).
KNOWN_GATEWAYD_PANICS = ("gatewayd/network.(*Client).Receive", "gatewayd/network.(*Client).Send")


def known_gatewayd_race(lines: list[program.LogLine], plugin: str) -> bool:
    """GatewayD died of one of its own known panics, and the plugin showed no trouble before."""
    texts = [ln.text for ln in lines]
    start = next((i for i, t in enumerate(texts) if t.startswith("panic: ")), None)
    if start is None:
        return False
    frames = [t.strip() for t in texts[start:start + 8]]
    ours = any(frame.startswith(f"github.com/gatewayd-io/{known}") for frame in frames
               for known in KNOWN_GATEWAYD_PANICS)
    troubled = any(ln.about(plugin) and ln.message in program.TROUBLE_MARKERS for ln in lines[:start])
    return ours and not troubled


def go_panic(lines: list[program.LogLine]) -> str:
    """``: panic: …`` when GatewayD died of a Go panic (its stderr is in the log), else empty."""
    panic = next((ln.text for ln in lines if ln.text.startswith(PANIC_STARTS)), None)
    return f": {shorten(panic, 200)}" if panic else ""


def why_exited(process: program.GatewayDProcess) -> str:
    lines = program.parse_log(process.read_log())
    code = process.exit_code
    fatal = next((ln for ln in lines if ln.level in ("FTL", "PNC")), None)
    lint = next((ln.text for ln in lines if "linting failed" in ln.text), None)
    if lint:
        return f"GatewayD exited with code {code}: {program.lint_error(lint)}"
    if code == 7 or any("pool size is incorrect" in ln.text.lower() for ln in lines):
        return f"GatewayD exited with code {code}: it could not fill its connection pool (is PostgreSQL reachable?)"
    if fatal is not None:
        return f"GatewayD exited with code {code}: {fatal.message} {program.log_field(fatal.text, 'error') or ''}"
    if go_panic(lines):
        return f"GatewayD exited with code {code}{go_panic(lines)}"
    last_error = next((ln for ln in reversed(lines) if ln.level == "ERR"), None)
    detail = f": {last_error.message}" if last_error else ""
    return f"GatewayD exited with code {code} before it was ready{detail}"


# What go-plugin itself logs about a plugin (through GatewayD's logger, with plugin=<name>), as opposed to what the
# plugin printed, which go-plugin relays with the same plugin=<name>.
GO_PLUGIN_MESSAGES = frozenset({
    "configuring client automatic mTLS", "starting plugin", "plugin started", "waiting for RPC address",
    "using plugin", "plugin exited", "plugin failed to exit gracefully", "plugin process exited",
    "error killing plugin", "error closing client during Kill"})
START_TIMEOUT_ERROR = "timeout while waiting for plugin to start"  # go-plugin's, after startTimeout


def printed_by_plugin(lines: list[program.LogLine], plugin: str) -> list[program.LogLine]:
    """The plugin's own output as GatewayD relays it: its hclog JSON lines (go-plugin adds ``timestamp=``) and
    its other stderr lines (debug, with only ``plugin=``); not go-plugin's or GatewayD's lines about it."""
    return [ln for ln in lines if ln.about(plugin) and " name=" not in f" {ln.text}" and (
        is_plugin_hclog(ln, plugin) or ln.message not in GO_PLUGIN_MESSAGES)]


def did_not_serve(lines: list[program.LogLine], plugin: str, start_timeout: str) -> str | None:
    """When GatewayD gave up waiting for the plugin's go-plugin handshake: one line saying so, with what the
    plugin printed meanwhile (its last lines), else None."""
    failed = any(ln.message == "Failed to start plugin" and START_TIMEOUT_ERROR in ln.text and ln.about(plugin)
                 for ln in lines)
    if not failed:
        return None
    printed = [f"{ln.level} {ln.message}".strip() for ln in printed_by_plugin(lines, plugin)]
    said = ("; it printed: " + " | ".join(repr(text[:160]) for text in printed[-3:])) if printed else (
        "; it printed nothing")
    return (f"plugin {plugin} did not start serving within startTimeout {start_timeout} (this run's; "
            f"--start-timeout allows more): GatewayD got no go-plugin handshake, gave up and killed it{said}")
