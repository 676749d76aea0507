"""What ``init`` changes in a plugin repository: whole-file changes, shown as a unified diff, applied at once.

Every change is computed first (nothing is written while deciding), so ``--dry-run`` shows exactly what a
run would write and a run writes only what it showed.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileChange:
    path: Path  # absolute
    before: str | None  # None: the file is new
    after: str | None  # None: the file is removed
    why: str  # one line for humans: what and why

    def relative(self, root: Path) -> str:
        try:
            return self.path.relative_to(root).as_posix()
        except ValueError:
            return str(self.path)

    @property
    def verb(self) -> str:
        if self.before is None:
            return "write"
        return "remove" if self.after is None else "replace"

    def diff(self, root: Path) -> str:
        name = self.relative(root)
        lines = difflib.unified_diff(
            (self.before or "").splitlines(keepends=True), (self.after or "").splitlines(keepends=True),
            fromfile="/dev/null" if self.before is None else f"a/{name}",
            tofile="/dev/null" if self.after is None else f"b/{name}")
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def apply(changes: list[FileChange]) -> None:
    """Write every change; each file is replaced atomically (a temp file renamed over it)."""
    for change in changes:
        if change.after is None:
            change.path.unlink(missing_ok=True)
            continue
        change.path.parent.mkdir(parents=True, exist_ok=True)
        mode = change.path.stat().st_mode & 0o777 if change.path.exists() else 0o644
        handle, temp = tempfile.mkstemp(prefix=f".{change.path.name}.", dir=change.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(change.after)
            Path(temp).chmod(mode)
            Path(temp).replace(change.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
