"""The test action's results: each check writes a small JSON record into the report dir, so the last step
draws one summary table even when an earlier check failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.checks import govulncheck


def write_report(report_dir: Path | None, name: str, data: dict[str, Any]) -> None:
    if report_dir:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


def load_report(report_dir: Path, name: str) -> dict[str, Any] | None:
    path = report_dir / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def summary_markdown(report_dir: Path) -> str:
    plan = load_report(report_dir, "plan") or {}
    rows: list[list[str]] = []
    lint = load_report(report_dir, "lint")
    rows.append(["golangci-lint " + (lint or plan).get("version", plan.get("golangci-lint-version", "")),
                 "not run" if lint is None else ("✅ no findings" if lint["findings"] == 0
                                                 else f"❌ {lint['findings']} finding(s)")])
    vuln = load_report(report_dir, "govulncheck")
    rows.append([f"govulncheck {govulncheck.GOVULNCHECK.version}",
                 "not run" if vuln is None else ("✅ no called vulnerabilities" if vuln["called"] == 0 else
                                                 f"❌ {vuln['called']} called: {', '.join(vuln['ids'])}")
                 + (f" ({vuln['other']} in dependencies, not called)" if vuln and vuln["other"] else "")])
    test = load_report(report_dir, "go-test")
    if test is None:
        rows.append(["go test", "not run"])
    else:
        status = "✅" if not test["failed"] and not test["failed_packages"] and not test["build_errors"] else "❌"
        rows.append(["go test", f"{status} {test['passed']} passed, {test['failed']} failed, "
                                f"{test['skipped']} skipped"])
        rows.append(["coverage", "n/a" if test["coverage"] is None else f"{test['coverage']:.1f}%"])
    title = f"### Test ({plan.get('go-version', 'Go')})\n\n"
    markdown = title + actions_io.markdown_table(["check", "result"], rows)
    failures = (test or {}).get("failures") or []
    if failures:
        markdown += "\n<details><summary>Failures</summary>\n\n" + "\n".join(
            f"- `{line}`" for line in failures) + "\n\n</details>\n"
    return markdown
