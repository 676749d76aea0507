"""The stage runner: order, skips with their reason, timings (also of a stage that fails), log groups; and the
release pipelines as the lists the README names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.release import stages
from gatewayd_plugin_actions.stage import run_stages


@dataclass
class Ctx:
    timings: dict[str, float] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)


@dataclass
class Step:
    name: str
    skipped: str | None = None
    fails: bool = False

    def skip(self, ctx: Ctx) -> str | None:
        return self.skipped

    def run(self, ctx: Ctx) -> None:
        ctx.ran.append(self.name)
        if self.fails:
            raise UserError(f"{self.name} failed")


def test_stages_run_in_order_skips_say_why_and_every_run_is_timed(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Ctx()
    run_stages([Step("one"), Step("two", skipped="nothing to publish"), Step("three")], ctx)
    assert ctx.ran == ["one", "three"]
    assert set(ctx.timings) == {"one", "three"}
    err = capsys.readouterr().err
    assert "two: skipped (nothing to publish)" in err
    assert err.index("== one") < err.index("two: skipped") < err.index("== three")


def test_a_failing_stage_stops_the_pipeline_and_is_still_timed() -> None:
    ctx = Ctx()
    with pytest.raises(UserError, match="two failed"):
        run_stages([Step("one"), Step("two", fails=True), Step("three")], ctx, grouped=False)
    assert ctx.ran == ["one", "two"] and "two" in ctx.timings and "three" not in ctx.timings


def test_release_pipelines_are_the_documented_lists() -> None:
    def names(pipeline: list[stages.Stage[stages.ReleaseContext]]) -> list[str]:
        return [s.name for s in pipeline]

    assert names(stages.BUILD) == ["validate", "version", "build", "metadata"]
    assert names(stages.PACKAGE) == ["validate", "restore", "package", "metadata"]
    assert names(stages.SNAPSHOT) == ["validate", "version", "build and package", "metadata", "verify"]
    assert names(stages.RELEASE) == ["preflight", *names(stages.SNAPSHOT), "publish"]
    assert names(stages.HOST_BUILD) == ["build"]
    assert stages.RELEASE[0].skip(stages.ReleaseContext(stages.Options(project=Path(), dist=Path("dist")))) == (
        "nothing is published")
