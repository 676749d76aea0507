"""The Go module's release blockers ``init`` can fix safely, found and fixed on a scratch copy first.

- ``go.sum`` without entries the build needs (a fresh ``gatewayd plugin scaffold`` ships one): the release
  build runs with ``-mod=readonly`` and fails, so ``go mod tidy`` is proposed as a change to go.mod/go.sum.
- no ``plugin.Version`` variable wired into ``PluginID`` (the scaffold and plugin-template-go report a literal):
  the release injects the tag with ``-X <module>/plugin.Version=…``, which the linker silently ignores when
  the variable is missing, so the plugin would report the literal forever. The patch adds the variable
  (defaulting to the literal, so local builds report what they did) and uses it in ``PluginID``.

Both are tried on a copy of the project, and the version patch is kept only when the copy still builds:
the work tree is only ever written with changes that were shown and that compile.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions.adopt.changes import FileChange
from gatewayd_plugin_actions.errors import Problem, UserError, first_few
from gatewayd_plugin_actions.gotools import go_binary, says_not_tidy
from gatewayd_plugin_actions.release.build import go_module_path, resolve_version_variable

_PLUGIN_ID = re.compile(r"\bPluginID\s*=\s*(?:[\w.]+\.)?PluginID\s*\{")
_VERSION_FIELD = re.compile(r"^(?P<lead>\s*Version\s*:\s*)(?P<value>[^,\n]+?)\s*,?\s*(?://.*)?$", re.MULTILINE)
_COPY_IGNORED = shutil.ignore_patterns(".git", "dist", "node_modules", ".venv")


@dataclass
class GoFindings:
    changes: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what init found fine, or did, in a line each
    problems: list[Problem] = field(default_factory=list)  # what blocks a release and was not fixed


def _go(project: Path, *args: str, readonly: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOFLAGS"}
    env["GOWORK"] = "off"  # the module as CI builds it, not as a local go.work would
    if readonly:
        env["GOFLAGS"] = "-mod=readonly"
    return subprocess.run([go_binary(), *args], cwd=project, env=env, capture_output=True, text=True,
                          check=False, stdin=subprocess.DEVNULL, timeout=900)


def missing_sums(project: Path) -> tuple[list[str], str]:
    """The ``go list`` errors that say go.mod/go.sum lack what the build needs (empty when complete), and
    its first other error line (empty when none)."""
    result = _go(project, "list", "-deps", "-test", "./...")
    if result.returncode == 0:
        return [], ""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    missing = [line for line in lines if says_not_tidy(line)]
    other = next((line for line in lines if not line.startswith(("go: downloading", "go get", "go mod"))), "")
    return missing, "" if missing else other


@dataclass(frozen=True)
class VersionWiring:
    file: Path
    old: str
    new: str
    literal: str
    adds_variable: bool


def version_wiring(project: Path) -> tuple[VersionWiring | None, str]:
    """The patch that wires ``plugin.Version`` into ``PluginID`` (None when none is needed or possible), and
    a line saying what was found."""
    has_variable = resolve_version_variable(project, None) is not None
    module = go_module_path(project)
    for source in sorted((project / "plugin").glob("*.go")):
        if source.name.endswith("_test.go"):
            continue
        text = source.read_bytes().decode("utf-8", errors="replace")  # as it is: CRLF files stay CRLF
        start = _PLUGIN_ID.search(text)
        if start is None:
            continue
        end = text.find("\n}", start.end())
        end = text.find("}", start.end()) if end < 0 else end
        body_start, body_end = start.end(), (end if end >= 0 else len(text))
        field_match = _VERSION_FIELD.search(text, body_start, body_end)
        if field_match is None:
            return None, f"{source.name}: PluginID has no Version field; the plugin reports no version"
        value = field_match["value"].strip()
        if value == "Version":
            return None, ("plugin.Version is wired into PluginID: the release injects the tag"
                          if has_variable else "PluginID uses Version, but package plugin declares no such var")
        if not re.fullmatch(r'"[^"\\]*"', value):
            return None, (f"PluginID's Version is {value}: set the actions' version-variable input to the "
                          "variable behind it, or the release cannot inject the tag")
        patched = (text[:field_match.start("value")] + "Version" + text[field_match.end("value"):])
        if not has_variable:
            declaration = _declaration_start(text, start.start())
            comment = ('// Version is the plugin\'s version without a leading "v". Release builds set it from the tag\n'
                       "// (added by gatewayd-plugin-actions init):\n"
                       f'//\n//\t-ldflags "-X {module}/plugin.Version=1.2.3"\nvar Version = {value}\n\n')
            if "\r\n" in text:
                comment = comment.replace("\n", "\r\n")
            patched = patched[:declaration] + comment + patched[declaration:]
        return VersionWiring(source, text, patched, value, not has_variable), ""
    if has_variable:
        return None, "plugin.Version exists (no PluginID found in plugin/ to check its wiring)"
    return None, ("no PluginID in plugin/*.go and no plugin.Version variable: the release cannot inject the "
                  "tag; set the actions' version-variable input to your version variable")


def _declaration_start(text: str, index: int) -> int:
    """Where the declaration holding ``PluginID`` starts: its ``var (`` block, or its own ``var`` line, with
    the comment lines right above it."""
    line_start = text.rfind("\n", 0, index) + 1
    if not re.match(r"\s*var\b", text[line_start:index]):
        block = [m for m in re.finditer(r"^var\s*\(", text[:index], re.MULTILINE)]
        if block:
            line_start = block[-1].start()
    lines = text[:line_start].split("\n")[:-1]
    while lines and lines[-1].lstrip().startswith("//"):
        line_start -= len(lines.pop()) + 1
    return line_start


def check(project: Path) -> GoFindings:
    findings = GoFindings()
    if not (project / "go.mod").is_file():
        findings.problems.append(Problem("no go.mod: the plugin must be a Go module at the repository root "
                                         "(run `go mod init github.com/<owner>/<repo>`)", "go.mod"))
        return findings
    try:
        missing, failure = missing_sums(project)
    except UserError as exc:  # no Go here: say what was not checked, check the rest
        findings.problems.append(Problem(f"{exc.message}; go.sum and plugin.Version were not checked",
                                         severity="warning"))
        return findings
    if failure:
        findings.problems.append(Problem(f"`go list ./...` failed: {failure}; the release build would fail too",
                                         "go.mod", severity="warning"))
    wiring, found = version_wiring(project)
    if found:
        findings.notes.append(found)
    if not missing and wiring is None:
        if not failure:
            findings.notes.insert(0, "go.mod/go.sum have every entry the build needs")
        return findings
    with tempfile.TemporaryDirectory(prefix="gpa-init-") as scratch:
        copy = Path(scratch) / project.name
        shutil.copytree(project, copy, ignore=_COPY_IGNORED, symlinks=True)
        if missing:
            _tidy(project, copy, missing, findings)
        else:
            findings.notes.insert(0, "go.mod/go.sum have every entry the build needs")
        if wiring is not None:
            _wire_version(project, copy, wiring, findings)
    return findings


def _tidy(project: Path, copy: Path, missing: list[str], findings: GoFindings) -> None:
    result = _go(copy, "mod", "tidy", readonly=False)
    if result.returncode != 0:
        findings.problems.append(Problem(f"go.sum is incomplete ({first_few(missing, 2)}) and `go mod tidy` "
                                         f"failed: {result.stderr.strip().splitlines()[-1:]}; fix the module "
                                         "and run `go mod tidy`", "go.sum"))
        return
    for name in ("go.mod", "go.sum"):
        before = (project / name).read_text(encoding="utf-8") if (project / name).is_file() else None
        after = (copy / name).read_text(encoding="utf-8")
        if before != after:
            findings.changes.append(FileChange(project / name, before, after,
                                               "`go mod tidy`: go.sum lacks entries the release build needs "
                                               f"(for {first_few(_packages(missing), 3)})"))


def _packages(errors: list[str]) -> list[str]:
    """The packages ``go list`` named in its missing-entry errors (the error lines when it named none)."""
    named = [m.group(1) for line in errors if (m := re.search(r"providing package (\S+)", line))]
    return list(dict.fromkeys(named)) or errors


def _wire_version(project: Path, copy: Path, wiring: VersionWiring, findings: GoFindings) -> None:
    (copy / wiring.file.relative_to(project)).write_bytes(wiring.new.encode("utf-8"))
    built = _go(copy, "build", "-o", os.devnull, ".", readonly=False)
    if built.returncode != 0:
        first = next((ln for ln in built.stderr.splitlines() if ln.strip() and not ln.startswith(("go: ", "#"))), "")
        findings.problems.append(Problem(
            f"PluginID reports the literal {wiring.literal}; adding `var Version = {wiring.literal}` to package "
            f"plugin and using it in PluginID does not build here ({first.strip()}): wire it by hand",
            wiring.file.relative_to(project).as_posix(), severity="warning"))
        return
    what = ("add `var Version` to package plugin and use it in PluginID" if wiring.adds_variable
            else "use the existing plugin.Version in PluginID")
    findings.changes.append(FileChange(wiring.file, wiring.old, wiring.new,
                                       f"{what}: the release injects the tag into it (now {wiring.literal})"))
