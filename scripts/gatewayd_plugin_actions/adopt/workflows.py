"""Our two workflow templates in a plugin repository, and the old release/test workflows they replace.

The templates ship with the package (``adopt/workflows``: in a checkout a link to the repository's
``workflows/``, in a wheel a copy) and are written byte for byte, pinned as they are
(``gatewayd-plugin-actions/gatewayd-plugin-actions/<action>@v1``): the release of the actions this CLI belongs to.

What is recognised as old, by content rather than by name:

- a release workflow: runs on tag pushes, publishes with ``softprops/action-gh-release`` (or ``gh release
  create``) and builds with ``make build-release…`` or ``go build`` (GatewayD's scaffold, plugin-template-go's
  descendants, gatewayd-plugin-cache and the other official plugins);
- a test workflow: every job is a Go test job (it runs ``go test`` or ``make test``) that uses only the usual Go
  CI actions (checkout, setup-go, cache, golangci-lint, govulncheck, coverage uploaders) and no ``services:``
  (a job with a database is a plugin's own integration test, which ours does not replace).

Anything else in a template's place is the author's and is kept unless ``--force``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gatewayd_plugin_actions.adopt.changes import FileChange
from gatewayd_plugin_actions.errors import UserError

TEMPLATE_DIR = Path(__file__).parent / "workflows"
TEMPLATES = ("test.yaml", "release.yaml")
WORKFLOWS_DIR = Path(".github") / "workflows"
OWN_ACTIONS = "gatewayd-plugin-actions/gatewayd-plugin-actions"

# The actions an ordinary Go test job uses; a job using anything else does more than our test job does.
GO_CI_ACTIONS = frozenset({
    "actions/checkout", "actions/setup-go", "actions/cache", "golangci/golangci-lint-action",
    "golang/govulncheck-action", "shogo82148/actions-goveralls", "coverallsapp/github-action",
    "codecov/codecov-action",
})
_MAKE_RELEASE = re.compile(r"\bmake\s+(?:-\S+\s+)*(build-release[\w-]*|generate-release-checksums)\b")
_GO_TEST = re.compile(r"\bgo\s+test\b|\bmake\s+(?:-\S+\s+)*test\b")
_OWN_REF = re.compile(rf"({re.escape(OWN_ACTIONS)}(?:/[\w./-]+)?)@[\w./-]+")


@dataclass(frozen=True)
class Existing:
    path: Path
    text: str
    kind: str  # "release" or "test" when recognised as old, "ours", or "other"
    fingerprint: str  # why: what was recognised, or why not


@dataclass
class Decision:
    """What happens to one template's place: the changes, and what was kept (with the reason)."""
    changes: list[FileChange]
    kept: list[Existing]
    up_to_date: list[Path]


def template_text(name: str) -> str:
    path = TEMPLATE_DIR / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: the workflow templates are missing from this installation of "
                        "gatewayd-plugin-actions; reinstall it (pip install --force-reinstall)") from None


def _uses_and_runs(job: dict[str, Any]) -> tuple[list[str], list[str]]:
    uses: list[str] = []
    runs: list[str] = []
    for step in job.get("steps") or []:
        if isinstance(step, dict):
            if step.get("uses"):
                uses.append(str(step["uses"]))
            if step.get("run"):
                runs.append(str(step["run"]))
    return uses, runs


def _action(uses: str) -> str:
    """``owner/repo`` of a ``uses:`` (no path, no ref)."""
    return "/".join(uses.split("@", 1)[0].split("/")[:2])


def _triggers(data: dict[Any, Any]) -> dict[str, Any]:
    on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(name): None for name in on}
    return on if isinstance(on, dict) else {}


def classify(path: Path, text: str) -> Existing:
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return Existing(path, text, "other", "not valid YAML")
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, dict) or not jobs:
        return Existing(path, text, "other", "no jobs")
    job_list = [job for job in jobs.values() if isinstance(job, dict)]
    all_uses = [u for job in job_list for u in _uses_and_runs(job)[0]]
    all_runs = [r for job in job_list for r in _uses_and_runs(job)[1]]
    if any(u.startswith(OWN_ACTIONS + "/") or u.startswith(OWN_ACTIONS + "@") for u in all_uses):
        return Existing(path, text, "ours", "uses gatewayd-plugin-actions, changed from our template")
    push = _triggers(data).get("push")
    on_tags = isinstance(push, dict) and bool(push.get("tags"))
    publisher = next((u for u in all_uses if _action(u) == "softprops/action-gh-release"), None)
    if publisher is None and any("gh release create" in r for r in all_runs):
        publisher = "gh release create"
    builder = next((m.group(0) for r in all_runs if (m := _MAKE_RELEASE.search(r))), None)
    if builder is None and any(re.search(r"\bgo\s+build\b", r) for r in all_runs):
        builder = "go build"
    if on_tags and publisher and builder:
        return Existing(path, text, "release", f"a tag-triggered release: {publisher} + `{builder}`")
    foreign = sorted({_action(u) for u in all_uses} - GO_CI_ACTIONS)
    services = [name for name, job in jobs.items() if isinstance(job, dict) and job.get("services")]
    go_test_jobs = [job for job in job_list if any(_GO_TEST.search(r) for r in _uses_and_runs(job)[1])]
    if go_test_jobs and len(go_test_jobs) == len(job_list) and not foreign and not services:
        actions = sorted({_action(u) for u in all_uses})
        return Existing(path, text, "test", "Go test job(s): `go test`" + (f" with {', '.join(actions)}"
                                                                          if actions else ""))
    if foreign:
        why = f"it uses {', '.join(foreign[:3])}, which our templates do not replace"
    elif services:
        why = f"job {services[0]} has services: (an integration test of its own)"
    else:
        why = "neither a release (tag push + action-gh-release + make build-release) nor a Go test workflow"
    return Existing(path, text, "other", why)


def existing_workflows(project: Path) -> list[Existing]:
    folder = project / WORKFLOWS_DIR
    if not folder.is_dir():
        return []
    found = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    return [classify(path, path.read_text(encoding="utf-8", errors="replace")) for path in found if path.is_file()]


def _only_refs_differ(text: str, template: str) -> bool:
    """True when ``text`` is the template with our actions at another ref (an older ``@v0``, a SHA)."""
    return _OWN_REF.sub(r"\1@REF", text) == _OWN_REF.sub(r"\1@REF", template)


def plan(project: Path, force: bool) -> Decision:
    """Changes that put both templates in place and retire the old workflows they replace."""
    existing = existing_workflows(project)
    decision = Decision([], [], [])
    kinds = {"test.yaml": "test", "release.yaml": "release"}
    for name in TEMPLATES:
        template = template_text(name)
        target = project / WORKFLOWS_DIR / name
        # The same name with the other extension holds the same place (release.yml for release.yaml).
        slot = [e for e in existing if e.path.stem == target.stem]
        kept = [e for e in slot if not _replaceable(e, kinds[name], template, force)]
        if kept:
            decision.kept.extend(kept)
            continue
        for old in slot:
            if old.path == target and old.text == template:
                decision.up_to_date.append(target)
            elif old.path != target:
                decision.changes.append(FileChange(old.path, old.text, None, _why_replaced(old, name, force)))
        current = next((e for e in slot if e.path == target), None)
        if current is None or current.text != template:
            why = _why_replaced(current, name, force) if current is not None else f"our {name} template"
            decision.changes.append(FileChange(target, current.text if current else None, template, why))
        # An old workflow of this kind under another name would run (and publish) next to ours.
        for old in existing:
            if old.kind == kinds[name] and old.path.stem not in {Path(t).stem for t in TEMPLATES}:
                decision.changes.append(FileChange(old.path, old.text, None,
                                                   f"{old.fingerprint}; {name} takes its place"))
    return decision


def _replaceable(existing: Existing, kind: str, template: str, force: bool) -> bool:
    return (force or existing.text == template or existing.kind == kind
            or (existing.kind == "ours" and _only_refs_differ(existing.text, template)))


def why_kept(existing: Existing) -> str:
    """The warning for a workflow left where a template goes."""
    if existing.kind == "ours":
        what = f"your workflow ({existing.fingerprint})"
    elif existing.kind in ("release", "test"):
        what = f"an old {existing.kind} workflow ({existing.fingerprint}) where another template goes"
    else:
        what = f"not recognised as an old release/test workflow ({existing.fingerprint})"
    return f"kept: {what}; our template was not written there; --force replaces it"


def _why_replaced(existing: Existing, name: str, force: bool) -> str:
    if existing.kind == "ours":
        return "our template at another ref: pinned to this release" if _only_refs_differ(
            existing.text, template_text(name)) else "our template, customised (--force)"
    if existing.kind in ("release", "test"):
        return f"old {existing.kind} workflow ({existing.fingerprint}) → our {name}"
    return f"not recognised ({existing.fingerprint}), replaced because of --force"
