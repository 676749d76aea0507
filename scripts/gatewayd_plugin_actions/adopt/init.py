"""The ``init`` flow: plan every change, show it, apply it unless ``--dry-run``, then say what to run next.

A run decides everything before it writes anything (workflows, go.mod/go.sum, the version wiring), so a
dry run shows exactly what a run would write, and a second run finds nothing to do and says so. Manifest
problems are reported as ``validate`` reports them (the manifest owner's check, unchanged); they are not
fixed here, since each one needs the author's decision.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gatewayd_plugin_actions import actions_io, contract
from gatewayd_plugin_actions.adopt import changes as changes_mod
from gatewayd_plugin_actions.adopt import gomodule, workflows
from gatewayd_plugin_actions.errors import Findings, Problem, UserError
from gatewayd_plugin_actions.manifest import check_manifest
from gatewayd_plugin_actions.semver import Version

FIRST_TAG = "v0.1.0"
# github.com remotes as git prints them: https://github.com/o/r(.git), git@github.com:o/r(.git), ssh://…
_GITHUB_REMOTE = re.compile(r"^(?:https?://(?:[^@/]+@)?|ssh://git@|git@)github\.com[:/]"
                            r"(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Options:
    project: Path
    dry_run: bool
    force: bool
    repository: str | None  # OWNER/NAME given on the command line (else $GITHUB_REPOSITORY, else origin)


def _git(project: Path, *args: str, strip: bool = True) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=False,
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() if strip else result.stdout


def origin_repository(project: Path) -> str | None:
    """OWNER/NAME of ``git remote get-url origin`` when it is on github.com."""
    url = _git(project, "remote", "get-url", "origin")
    match = _GITHUB_REMOTE.match(url or "")
    return f"{match['owner']}/{match['repo']}" if match else None


def next_tag(project: Path) -> str:
    """The first release's tag (v0.1.0), or the patch after the highest ``v`` + semver tag."""
    tags = [Version.parse(t) for t in (_git(project, "tag", "--list", "v*") or "").split()
            if contract.is_valid_tag(t)]
    if not tags:
        return FIRST_TAG
    last = max(tags)
    if last.is_prerelease:
        return f"v{last.major}.{last.minor}.{last.patch}"
    return f"v{last.major}.{last.minor}.{last.patch + 1}"


def _check_root(project: Path) -> None:
    if not project.is_dir():
        raise UserError(f"--project {project}: no such directory")
    top = _git(project, "rev-parse", "--show-toplevel")
    if top is not None and Path(top).resolve() != project.resolve():
        raise UserError(f"{project} is inside the git repository {top}: init writes workflows for a plugin at "
                        "the repository root; for a plugin in a subfolder copy workflows/test.yaml and "
                        "release.yaml by hand and set working-directory")
    if not (project / "go.mod").is_file() and not (project / contract.MANIFEST_FILE).is_file():
        # Nothing of a plugin here: writing workflows would only make a second mess to clean up.
        raise UserError(f"{project} has no go.mod and no {contract.MANIFEST_FILE}: it is not a GatewayD plugin "
                        "repository; run init in the plugin's repository (`gatewayd plugin scaffold` starts one)")


def run(options: Options) -> int:
    project = options.project.resolve()
    _check_root(project)
    repository = actions_io.repository(options.repository) or origin_repository(project)
    decision = workflows.plan(project, options.force)
    go = gomodule.check(project)
    manifest, manifest_problems = check_manifest(project / contract.MANIFEST_FILE, repository)
    planned = [*decision.changes, *go.changes]

    for kept in decision.kept:
        actions_io.report([Problem(workflows.why_kept(kept), kept.path.relative_to(project).as_posix(),
                                   severity="warning")])
    for path in decision.up_to_date:
        actions_io.progress(f"up to date: {path.relative_to(project).as_posix()}")
    for note in go.notes:
        actions_io.progress(f"checked: {note}")
    if re.search(r"^build-release\s*:", _read(project / "Makefile"), re.MULTILINE):
        actions_io.notice("Makefile: `build-release` is no longer what CI runs (the release action builds, "
                          "packages and checks); keep it for local use or remove it")
    for change in planned:
        actions_io.progress(f"{'would ' if options.dry_run else ''}{change.verb} "
                            f"{change.relative(project)}: {change.why}")
    for change in planned:
        # --dry-run shows every change; a run shows source patches before applying them (workflows are
        # the templates, and go.sum is go mod tidy's: a line each above says what they are).
        if options.dry_run or change.path.suffix == ".go":
            sys.stdout.write(change.diff(project))
    sys.stdout.flush()
    if options.dry_run:
        actions_io.progress(f"dry run: {len(planned)} change(s) shown above, nothing written" if planned
                            else "dry run: nothing to change")
    elif planned:
        changes_mod.apply(planned)
        actions_io.progress(f"changed {len(planned)} file(s)")
    else:
        actions_io.progress("nothing to change: this repository already uses the templates of this release")

    problems = [*go.problems, *manifest_problems]
    actions_io.report(problems)
    blocking = Findings(problems).errors
    _next_steps(project, options, planned, repository, manifest.plugin_name if manifest else None, blocking)
    if blocking:  # a failed command's last line is its error, below the next steps
        actions_io.error_line(f"{len(blocking)} error(s) above block the first release: fix them, then follow "
                              "the next steps")
    return 1 if blocking else 0


def _next_steps(project: Path, options: Options, planned: list[changes_mod.FileChange], repository: str | None,
                plugin_name: str | None, blocking: list[Problem]) -> None:
    tag = next_tag(project)
    lines: list[str] = []
    if blocking:
        lines.append(f"# first fix the {len(blocking)} error(s) above (`gatewayd-plugin-actions validate` "
                     "re-checks the manifest)")
    if options.dry_run and planned:
        lines.append("gatewayd-plugin-actions init" + (" --force" if options.force else "")
                     + "   # apply the changes above")
    paths = sorted({c.relative(project) for c in planned})
    pending = paths or _uncommitted(project)
    if pending:
        lines.append("git add -A " + " ".join(_quote(p) for p in pending))
        lines.append('git commit -m "ci: test and release with gatewayd-plugin-actions"')
    lines.append("git push")
    lines.append(f"git tag {tag} && git push origin {tag}")
    if repository:
        lines.append(f"gatewayd plugin install github.com/{repository}@{tag}   # once the release job finished")
    else:
        name = plugin_name or "<repo>"
        lines.append(f"gatewayd plugin install github.com/<owner>/{name}@{tag}   # once the release job finished")
        actions_io.notice("no github.com `origin` remote: replace <owner> (and the name, if it differs) with "
                          "the GitHub repository users install from, or add it: git remote add origin "
                          f"https://github.com/<owner>/{name}.git")
    actions_io.progress("next:\n" + "\n".join(f"  {line}" for line in lines))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return ""


def _uncommitted(project: Path) -> list[str]:
    """Files init writes that are changed but not committed (after a run, before the commit)."""
    out = _git(project, "status", "--porcelain", "-z", "--", ".github/workflows", "go.mod", "go.sum", "plugin",
               strip=False)
    return sorted(record[3:] for record in (out or "").split("\0") if record[3:])


def _quote(path: str) -> str:
    return path if re.fullmatch(r"[\w./-]+", path) else "'" + path.replace("'", "'\\''") + "'"
