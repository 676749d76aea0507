#!/usr/bin/env python3
"""Write the set-up steps every composite action starts with (find Python ≥ 3.11, set one up only when
the runner lacks it, bootstrap our private venv) between markers in each ``action.yml``.

    python3 tools/action_setup.py           # rewrite the blocks
    python3 tools/action_setup.py --check   # exit 1 (and show a diff) when a block has drifted

Composite actions cannot ``uses:`` a sibling action by a relative path (it would resolve against the
caller's workspace), so the block is copied; this tool is the one place it is written, and
tests/hygiene/test_hygiene.py runs ``--check``. Only the lines between the markers are touched.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "    # BEGIN GENERATED set-up (tools/action_setup.py writes this block; edit it there)\n"
END = "    # END GENERATED set-up\n"
# The folder of each action → where scripts/ is from its $GITHUB_ACTION_PATH.
ACTIONS = {".": "", "test": "../", "test-plugin": "../", "release": "../"}
SETUP_PYTHON = "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97  # v7.0.0"

TEMPLATE = """\
    - name: Find Python >= 3.11
      id: probe
      shell: bash
      run: bash "$GITHUB_ACTION_PATH/{up}scripts/bootstrap.sh" --probe

    - name: Set up Python (the runner's is older than 3.11)
      id: setup-python
      if: steps.probe.outputs.ok != 'true'
      uses: {setup_python}
      with:
        python-version: "3.12"
        update-environment: false

    - name: Set up gatewayd-plugin-actions (Python)
      id: gpa
      shell: bash
      env:
        GPA_BOOTSTRAP_PYTHON: ${{{{ steps.setup-python.outputs.python-path }}}}
      run: bash "$GITHUB_ACTION_PATH/{up}scripts/bootstrap.sh"
"""


class Stale(Exception):
    pass


def block(folder: str) -> str:
    return BEGIN + TEMPLATE.format(up=ACTIONS[folder], setup_python=SETUP_PYTHON) + END


def render(text: str, folder: str, name: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise Stale(f"{name}: no set-up block (lines {BEGIN.strip()!r} … {END.strip()!r} under `steps:`)")
    return text[:start] + block(folder) + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift instead of rewriting")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    stale = False
    for folder in ACTIONS:
        path = args.root / folder / "action.yml"
        name = str(path.relative_to(args.root))
        current = path.read_text(encoding="utf-8")
        try:
            wanted = render(current, folder, name)
        except Stale as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if wanted == current:
            continue
        if args.check:
            stale = True
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), name,
                                                       f"{name} (generated)"))
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"updated {name}")
    if stale:
        print("error: the set-up block drifted; run python3 tools/action_setup.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
