"""What ``dev`` rebuilds on: changes to the plugin's build inputs, seen by watchfiles (Rust ``notify`` underneath:
inotify, FSEvents, …) in a background thread and handed over as sets of changed paths.

Only files ``go build`` reads count (Go sources, ``go.mod``/``go.sum``, cgo and assembly sources), plus
``gatewayd_plugin.yaml`` and the ``--extra-files``: an editor's swap file, ``dist/`` or a coverage profile never
trigger a rebuild. watchfiles' default filter already skips ``.git``, editor temp files and the like.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import watchfiles

from gatewayd_plugin_actions.contract import MANIFEST_FILE
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.release.version import is_build_input

# watchfiles yields once changes have been quiet for STEP_MS (an editor's save is several events), at the latest
# after DEBOUNCE_MS; its Rust side checks the stop event every RUST_TIMEOUT_MS.
STEP_MS = 50
DEBOUNCE_MS = 800
RUST_TIMEOUT_MS = 200


class SourceFilter(watchfiles.DefaultFilter):
    """Build inputs, the manifest and the extra files of one project."""

    def __init__(self, project: Path, extra: list[Path]) -> None:
        super().__init__()
        self.project = project.resolve()
        self.extra = [p.resolve() for p in extra]

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if not super().__call__(change, path):
            return False
        resolved = Path(path)
        if any(resolved == p or p in resolved.parents for p in self.extra):
            return True
        return resolved.name == MANIFEST_FILE or is_build_input(resolved.name)


class SourceWatch:
    """A watcher thread over ``project``; :meth:`wait` returns the paths changed since the last call."""

    def __init__(self, project: Path, extra: list[Path] | None = None) -> None:
        self.project = project.resolve()
        self.filter = SourceFilter(self.project, extra or [])
        self._stop = threading.Event()
        self._changes: queue.Queue[set[str]] = queue.Queue()
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._watch, name="dev-watch", daemon=True)

    def __enter__(self) -> SourceWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        try:
            for batch in watchfiles.watch(self.project, watch_filter=self.filter, step=STEP_MS, debounce=DEBOUNCE_MS,
                                          rust_timeout=RUST_TIMEOUT_MS, stop_event=self._stop,
                                          raise_interrupt=False):
                self._changes.put({path for _, path in batch})
        except Exception as exc:  # handed to the main thread, which raises it
            self._error.append(exc)

    def wait(self, timeout: float) -> set[str]:
        """Changed paths (relative to the project), after waiting up to ``timeout`` seconds for the first."""
        if self._error:
            raise UserError(f"cannot watch {self.project} for changes: {self._error[0]}")
        changed: set[str] = set()
        try:
            changed |= self._changes.get(timeout=timeout)
            while True:
                changed |= self._changes.get_nowait()
        except queue.Empty:
            pass
        return {self.relative(p) for p in changed}

    def wait_for_change(self) -> set[str]:
        """Block until a build input changes; the changed paths."""
        while True:
            changed = self.wait(0.5)
            if changed:
                return changed

    def relative(self, path: str) -> str:
        try:
            return Path(path).relative_to(self.project).as_posix()
        except ValueError:
            return path
