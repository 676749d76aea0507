"""What a publish reports: the assets as the action's JSON output, and the step summary."""

from __future__ import annotations

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.github.errors import JSON, asset_sha256
from gatewayd_plugin_actions.publish.context import Dist, Outcome


def assets_json(outcome: Outcome) -> list[JSON]:
    return [{"name": a.get("name"), "size": a.get("size"), "sha256": asset_sha256(a),
             "url": a.get("browser_download_url")} for a in outcome.assets]


def summary_markdown(dist: Dist, repository: str, outcome: Outcome, draft: bool) -> str:
    tag = dist.version.tag
    url = outcome.release.get("html_url", "")
    if outcome.nothing_to_do:
        status = "already published with identical assets (nothing changed)"
    elif draft:
        status = "uploaded to a draft (not published)"
    else:
        status = (f"published (prerelease: {str(outcome.prerelease).lower()}, "
                  f"make_latest: {outcome.make_latest})")
    rows = [[f"`{a['name']}`", f"{int(a['size'] or 0):,}", f"`{a['sha256'] or '-'}`"] for a in assets_json(outcome)]
    lines = [f"### Release {dist.plugin} [{tag}]({url}): {status}", "",
             actions_io.markdown_table(["asset", "bytes", "sha256"], rows),
             f"Uploaded {len(outcome.uploaded)}, unchanged {len(outcome.skipped)}, deleted {len(outcome.deleted)}; "
             f"latest release: {outcome.latest_tag or 'none'}.", "",
             "Install it:", "", "```sh", f"gatewayd plugin install github.com/{repository}@{tag}", "```", "",
             "Verify it:", "", "```sh",
             f"gh release download {tag} -R {repository} && sha256sum -c checksums.txt --ignore-missing",
             f"gh attestation verify {next(iter(dist.archives), 'ARCHIVE')} -R {repository}"
             "   # if provenance was attested",
             f"gh release verify {tag} -R {repository}   # immutable releases", "```", "",
             "Checked:", *[f"- {c}" for c in outcome.checked], ""]
    return "\n".join(lines)
