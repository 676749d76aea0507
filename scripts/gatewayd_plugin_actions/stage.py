"""Stages and the one runner that runs them (GoReleaser's pipeline model).

A pipeline is an ordered list of stages over one context. A stage says whether it has nothing to do (and
why), and runs. The runner owns everything around that, once for every stage: the log group, the timing,
the skip notice. Errors are not caught here: a ``UserError`` carries its one line (and annotation) up to
the CLI, which reports it once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, TypeVar

from gatewayd_plugin_actions import actions_io


class Timed(Protocol):
    """A context that keeps stage timings (seconds by stage name)."""

    timings: dict[str, float]


ContextT = TypeVar("ContextT", bound=Timed)
ContextT_contra = TypeVar("ContextT_contra", bound=Timed, contravariant=True)


class Stage(Protocol[ContextT_contra]):
    """One step of a pipeline."""

    @property
    def name(self) -> str:
        """What the log group and the timings call it."""
        ...

    def skip(self, ctx: ContextT_contra) -> str | None:
        """Why there is nothing to do (shown as a notice line), or None to run."""
        ...

    def run(self, ctx: ContextT_contra) -> None:
        ...


def run_stages(stages: Sequence[Stage[ContextT]], ctx: ContextT, *, grouped: bool = True) -> None:
    """Run ``stages`` in order over ``ctx``: each in its own log group (``grouped``), timed into
    ``ctx.timings``; a skipped stage says why in one line."""
    for stage in stages:
        reason = stage.skip(ctx)
        if reason is not None:
            actions_io.progress(f"{stage.name}: skipped ({reason})")
            continue
        started = time.monotonic()
        try:
            if grouped:
                with actions_io.group(stage.name):
                    stage.run(ctx)
            else:
                stage.run(ctx)
        finally:
            ctx.timings[stage.name] = ctx.timings.get(stage.name, 0.0) + time.monotonic() - started
