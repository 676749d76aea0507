#!/usr/bin/env python3
"""Generate the README's inputs/outputs tables from the action.yml files.

    python3 tools/readme_tables.py           # rewrite README.md between the markers
    python3 tools/readme_tables.py --check   # exit 1 (and show a diff) when README.md is stale

Each action gets a block between ``<!-- BEGIN GENERATED <kind> <action> -->`` and ``<!-- END GENERATED <kind>
<action> -->`` where ``<kind>`` is ``inputs`` or ``outputs`` and ``<action>`` is the folder (``.`` for the
root action). Only the parts between the markers are touched.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = (".", "test", "test-plugin", "release")
MARKER = re.compile(r"(<!-- BEGIN GENERATED (inputs|outputs) (\S+) -->\n)(.*?)(<!-- END GENERATED \2 \3 -->)",
                    re.DOTALL)


def cell(text: object) -> str:
    value = " ".join(str(text).split())
    return value.replace("|", "\\|")


def default_text(spec: dict[str, Any]) -> str:
    if spec.get("required"):
        return "**required**"
    default = spec.get("default")
    if default is None or default == "":
        return '`""`' if default == "" else "—"
    return f"`{cell(default)}`"


def load_action(root: Path, action: str) -> dict[str, Any] | None:
    path = root / action / "action.yml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def table(data: dict[str, Any], kind: str) -> str:
    entries: dict[str, Any] = data.get(kind) or {}
    if not entries:
        return f"_This action has no {kind}._\n"
    if kind == "inputs":
        lines = ["| input | default | description |", "|---|---|---|"]
        lines += [f"| `{name}` | {default_text(spec or {})} | {cell((spec or {}).get('description', ''))} |"
                  for name, spec in entries.items()]
    else:
        lines = ["| output | description |", "|---|---|"]
        lines += [f"| `{name}` | {cell((spec or {}).get('description', ''))} |" for name, spec in entries.items()]
    return "\n".join(lines) + "\n"


def render(readme: str, root: Path) -> tuple[str, list[str]]:
    """README text with every generated block refreshed, and the problems (missing blocks or actions)."""
    problems: list[str] = []
    present: set[tuple[str, str]] = set()

    def replace(match: re.Match[str]) -> str:
        kind, action = match.group(2), match.group(3)
        present.add((kind, action))
        data = load_action(root, action)
        if data is None:
            problems.append(f"README block for {action}/action.yml, which does not exist")
            return match.group(0)
        return match.group(1) + table(data, kind) + match.group(5)

    text = MARKER.sub(replace, readme)
    for action in ACTIONS:
        if load_action(root, action) is None:
            continue
        for kind in ("inputs", "outputs"):
            if (kind, action) not in present:
                markers = f"<!-- BEGIN GENERATED {kind} {action} --> … <!-- END GENERATED {kind} {action} -->"
                problems.append(f"README.md has no generated {kind} table for {action}/action.yml (add {markers})")
    return text, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if README.md differs from the generated tables")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    readme_path = args.root / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    text, problems = render(readme, args.root)
    for problem in problems:
        print(f"README.md: {problem}", file=sys.stderr)
    if args.check:
        if text != readme:
            diff = difflib.unified_diff(readme.splitlines(True), text.splitlines(True), "README.md", "generated")
            sys.stderr.writelines(diff)
            print("README.md tables are stale: run `python3 tools/readme_tables.py`", file=sys.stderr)
            return 1
        return 1 if problems else 0
    if text != readme:
        readme_path.write_text(text, encoding="utf-8")
        print("README.md: tables regenerated", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
