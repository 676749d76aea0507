"""Stage ``publish``: put a verified dist on GitHub Releases, safely and idempotently.

The order is the only one that works with immutable releases and concurrent jobs:

1. **Preflight** (no writes): token present, repository reachable and writable, tag is ``v`` + semver, the
   dist passes ``verify`` (``publish.prepare``). A published release for the tag whose assets already carry
   the local digests means there is nothing to do (a re-run): exit 0 without a single write. An
   *immutable* one that differs is a clear error, and nothing is touched.
2. **Find or create a draft**: get-by-tag never shows drafts, so the release list is paged too; a create
   answered ``422 already_exists`` means another job won (adopt theirs, waiting out eventual
   consistency); duplicate drafts for the tag collapse onto the oldest (empty ones are deleted).
3. **Sync assets**: upload only what is missing or different (API ``digest`` vs local sha256), delete
   ``starter`` leftovers of failed uploads and assets that are not in the dist, bounded parallel uploads
   streamed from disk; a failed upload is reconciled (list, then delete or accept) before it is retried;
   every digest is verified afterwards (``publish.asset_sync``).
4. **Publish** with an explicit ``make_latest`` *string* (prerelease → "false", older than the current
   latest → "false", else "true") and ``prerelease`` from the semver tag; generated notes against the
   previous tag, truncated to 125 000 characters.
5. **Verify the live release** with the installer contract (``contract``): asset names as the installer
   picks them, ``checksums.txt`` as it reads it, digests, and ``/releases/latest`` (``publish.live``).

Requests that do not depend on each other overlap, so a clean publish waits for 5 round trips plus the
upload waves instead of ~20: the preflight with both lookups; the generated notes with the create (they go
in with the publish call); the older-draft check with the first uploads (a duplicate draft's own maker
drops it); /releases/latest with the listing that confirms the uploads; and the three live reads.
``--concurrency 1`` makes every step one request at a time. The run's shared state and those helpers are
``publish.context``; this module is the flow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any

from gatewayd_plugin_actions import actions_io, contract, userfiles
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.github.client import GitHubClient
from gatewayd_plugin_actions.github.errors import JSON, GitHubError, redact, split_repository
from gatewayd_plugin_actions.publish import asset_sync, live
from gatewayd_plugin_actions.publish.context import (
    CREATE_ATTEMPTS,
    SYNC_ROUNDS,
    Dist,
    Outcome,
    PublishContext,
    PublishOptions,
    Retry,
    say,
)
from gatewayd_plugin_actions.publish.prepare import load_dist
from gatewayd_plugin_actions.publish.report import assets_json, summary_markdown
from gatewayd_plugin_actions.semver import Version

__all__ = ["PublishOptions", "preflight_repository", "require_token", "run_publish"]

NOTES_LIMIT = 125_000
NOTES_FILE_LIMIT = 16 * 1024 * 1024  # read at most this much of --notes-file; it is cut to NOTES_LIMIT anyway


def truncate_notes(text: str, limit: int = NOTES_LIMIT) -> str:
    if len(text) <= limit:
        return text
    marker = "\n\n… (release notes truncated to 125 000 characters)"
    return text[: limit - len(marker)] + marker


def previous_tag(tags: list[str], version: Version) -> str | None:
    """The release before ``version``: the highest lower tag, skipping prereleases for a final release."""
    lower = [v for v in (Version.parse(t) for t in tags if contract.is_valid_tag(t)) if v < version]
    if not version.is_prerelease:
        lower = [v for v in lower if not v.is_prerelease]
    return max(lower).tag if lower else None


# --------------------------------------------------------------------------------------------------
# The publisher
# --------------------------------------------------------------------------------------------------


def preflight_repository(client: GitHubClient, repository: str | None) -> None:
    """Before any work: the repository is reachable with this token, which may write to it."""
    owner, name = split_repository(repository)
    try:
        repo = client.get_repo(owner, name)
    except GitHubError as exc:
        if exc.status in (401, 403) or exc.status == 0:
            raise
        return  # the release calls that follow fail with the same hint if the repository is really missing
    permissions = repo.get("permissions")
    if isinstance(permissions, dict) and permissions.get("push") is False:
        raise UserError(f"the token can read {repository} but not write to it: give the release job "
                        "`permissions: contents: write` (or a token with contents: write); nothing was published")


def require_token(client: GitHubClient) -> None:
    if not client.has_token:
        raise UserError("no GitHub token: set GITHUB_TOKEN (the release action passes github.token) and give "
                        "the job `permissions: contents: write`; nothing was published")


class Publisher(PublishContext):
    """The flow over one run's context: find or create the draft, sync the assets, publish, verify."""

    def __init__(self, client: GitHubClient, repository: str, dist: Dist, options: PublishOptions) -> None:
        super().__init__(client, repository, dist, options)
        self.our_draft: JSON | None = None  # a draft this run created or adopted, named if we fail
        self.published_tags: list[str] | None = None  # from the last full list of releases
        self._notes: Future[str] | None = None
        self._notes_for: int | None = None  # id of the draft we created without a body (notes go in on publish)
        self._latest: Future[str | None] | None = None  # the tag /releases/latest named, read ahead
        self._created_id: int | None = None  # the draft this round's create made (empty until we upload)

    def releases_for_tag(self) -> list[JSON]:
        """Every release (drafts too: our token can push) carrying the tag, oldest first."""
        everything = list(self.client.list_releases(self.owner, self.repo))
        self.published_tags = [str(r.get("tag_name")) for r in everything if not r.get("draft")]
        found = [r for r in everything if r.get("tag_name") == self.tag]
        return sorted(found, key=lambda r: int(r["id"]))

    def drafts_for_tag(self) -> list[JSON]:
        return [r for r in self.releases_for_tag() if r.get("draft")]

    def locate(self, *, preflight: bool = False) -> tuple[JSON | None, list[JSON]]:
        """(published release for the tag or None, drafts for the tag oldest first); with ``preflight``
        the repository check runs alongside, and its failure is the one reported."""
        calls: list[Callable[[], Any]] = [
            lambda: self.client.get_release_by_tag(self.owner, self.repo, self.tag), self.releases_for_tag]
        if preflight:
            calls.insert(0, lambda: preflight_repository(self.client, self.repository))
        *_, published, listed = self.together(*calls)
        if published is None:
            published = next((r for r in listed if not r.get("draft")), None)
        drafts = [r for r in listed if r.get("draft")]
        return published, drafts

    # ---- 2. find or create the draft -----------------------------------------------------------

    def notes(self) -> str:
        if self.options.notes_file is not None:
            path = self.options.notes_file
            return truncate_notes(userfiles.read_text(path, "the --notes-file", NOTES_FILE_LIMIT, str(path)))
        previous = previous_tag(self.published_tags or [], self.dist.version)
        try:
            body = self.client.generate_notes(self.owner, self.repo, self.tag, previous,
                                              self.options.target_commitish).get("body")
        except GitHubError as exc:
            actions_io.report([Problem(f"could not generate release notes ({exc.status}); publishing without "
                                       "them", severity="warning")])
            return ""
        say(f"  release notes generated against {previous or 'the first commit'}")
        return truncate_notes(str(body or ""))

    def create_draft(self) -> JSON | None:
        """Create our draft; None when another job's release for the tag appeared (caller re-locates).

        Generated notes are a request of their own: they run alongside the create and the uploads and go
        in with the publish call (a --draft run, or notes from a file, put them in the draft at once)."""
        payload: JSON = {"tag_name": self.tag, "name": self.options.title or self.tag, "draft": True,
                         "prerelease": self.want_prerelease}
        if self.options.draft or self.options.notes_file is not None:
            payload["body"] = self.notes()
        else:
            self._notes = self.start(self.notes)
        if self.options.target_commitish:
            payload["target_commitish"] = self.options.target_commitish
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                release = self.client.create_release(self.owner, self.repo, payload)
            except GitHubError as exc:
                if exc.status == 422 and exc.mentions("immutable"):
                    raise UserError(f"tag {self.tag} was used by an immutable release that was deleted: GitHub never "
                                    "frees such a tag. Release a new version (e.g. bump the patch number); "
                                    "nothing was published") from None
                if exc.status == 422 and exc.has_code("already_exists"):
                    say(f"  another job published {self.tag} first; adopting it")
                    return None
                if exc.status != 0 and exc.status < 500:
                    raise
                say(f"  creating the draft failed ({exc.status or 'no response'}); checking "
                    "whether it was created anyway")
                drafts = self.poll(lambda: self.drafts_for_tag() or None, "the draft", tries=3)
                if drafts:
                    return drafts[0]
                if attempt == CREATE_ATTEMPTS:
                    raise
                self.pause(attempt)
                continue
            self.outcome.created = True
            self._created_id = int(release["id"])
            self.created(self._created_id)
            if self._notes is not None:
                self._notes_for = int(release["id"])
            say(f"  created draft release {release['id']} for {self.tag}")
            return release
        return None

    def canonical_draft(self, ours: JSON, *, uploading: bool = False) -> JSON:
        """Two jobs racing may each create a draft: everyone keeps the oldest. Empty younger drafts are
        deleted here; a younger one already holding uploads is deleted by the job that made it, which
        runs this same check beside its uploads and moves over to the oldest draft."""
        ours_id = int(ours["id"])
        attempt = 0
        while True:  # a listing that shows our new draft also shows every draft created before it
            attempt += 1
            drafts = self.drafts_for_tag()
            if any(int(d["id"]) == ours_id for d in drafts):
                self.seen(ours_id)
                break
            if not self.wait_out_lag(ours_id, attempt, "the list of releases"):
                drafts = sorted([*drafts, ours], key=lambda r: int(r["id"]))
                break
        keep = drafts[0]
        for other in drafts[1:]:
            if uploading and int(other["id"]) == int(ours["id"]):
                continue  # our uploads are landing in it: the caller deletes it once they have ended
            try:
                assets = self.client.list_assets(self.owner, self.repo, int(other["id"]))
            except GitHubError as exc:
                if exc.status == 404:
                    continue  # another job deleted it already
                raise
            if assets:
                say(f"  a younger draft {other['id']} for {self.tag} holds {len(assets)} assets; left alone: the "
                    "job uploading into it moves over to this one and deletes it (if no such job is running, "
                    f"delete it by hand: {other.get('html_url')})")
                continue
            self.client.delete_release(self.owner, self.repo, int(other["id"]))
            say(f"  deleted duplicate empty draft {other['id']} for {self.tag}")
        if int(keep["id"]) != int(ours["id"]):
            say(f"  using draft {keep['id']} (the oldest for {self.tag})")
        return keep

    # ---- 4. publish -----------------------------------------------------------------------------

    def decide_make_latest(self) -> tuple[str, str | None]:
        """(make_latest string, tag of the current latest release)."""
        if self._latest is not None:
            latest_tag, self._latest = self._latest.result(), None
        else:
            latest_tag = live.read_latest_tag(self)
        choice = self.options.make_latest
        if self.want_prerelease:
            if choice == "true":
                actions_io.report([Problem("make-latest true ignored: a prerelease can never be the latest "
                                           "release", severity="warning")])
            return "false", latest_tag
        if choice != "auto":
            return choice, latest_tag
        if latest_tag and latest_tag != self.tag and contract.is_valid_tag(latest_tag) \
                and Version.parse(latest_tag) > self.dist.version:
            say(f"  {self.tag} is older than the latest release {latest_tag}: not making it "
                "latest (a back-port)")
            return "false", latest_tag
        return "true", latest_tag

    def prefetch_latest(self) -> None:
        """Read /releases/latest for the make_latest decision while the uploads are being confirmed."""
        if not self.options.draft:
            self._latest = self.start(lambda: live.read_latest_tag(self))

    def publish(self, draft: JSON) -> JSON:
        make_latest, latest_tag = self.decide_make_latest()
        self.outcome.make_latest = make_latest
        self.outcome.latest_tag = latest_tag
        payload: JSON = {"draft": False, "tag_name": self.tag, "prerelease": self.want_prerelease,
                         "make_latest": make_latest}
        if self._notes is not None and self._notes_for == int(draft["id"]):
            payload["body"] = self._notes.result()  # only into the draft we created without one
        try:
            release = self.client.update_release(self.owner, self.repo, int(draft["id"]), payload)
        except GitHubError as exc:
            if exc.status == 422 and exc.has_code("already_exists"):
                say(f"  another job published {self.tag} first; checking its assets and "
                    "dropping our duplicate draft")
                self.client.delete_release(self.owner, self.repo, int(draft["id"]))
                self.our_draft = None
                raise Retry from None
            if exc.status == 422 and (exc.mentions("creations being restricted") or exc.mentions("pre_receive")
                                      or exc.has_code("custom", "pre_receive")):
                raise UserError(f"a tag rule forbids this token to create tag {self.tag}: push the tag first "
                                "(the workflow runs on tag pushes) or allow the bot in the ruleset") from None
            if exc.status == 422 and exc.mentions("immutable"):
                raise UserError(f"tag {self.tag} was used by an immutable release: GitHub never frees such a "
                                "tag; release a new version") from None
            if exc.status == 0 or exc.status >= 500:
                current = self.client.get_release(self.owner, self.repo, int(draft["id"]))
                if current is not None and not current.get("draft"):
                    release = current
                else:
                    raise
            else:
                raise
        self.outcome.published_now = True
        self.our_draft = None
        say(f"  published {self.tag} (prerelease={str(self.want_prerelease).lower()}, "
            f"make_latest={make_latest})")
        return release

    # ---- the flow -------------------------------------------------------------------------------

    def _finish_published(self, release: JSON) -> Outcome:
        remote = self.client.list_assets(self.owner, self.repo, int(release["id"]))
        plan = asset_sync.make_plan(self, remote, prune=False)
        if plan.complete:
            say(f"  {self.tag} is already published with identical assets: nothing to do")
            self.outcome.nothing_to_do = not self.outcome.published_now and not self.outcome.uploaded
            self.outcome.skipped = plan.keep
            live.verify_live(self, int(release["id"]), check_latest=False)
            return self.outcome
        if release.get("immutable"):
            differences = [f"missing {a.name}" for a in plan.upload if a.name not in
                           {str(d.get('name')) for d in plan.delete}]
            differences += [f"{d.get('name')} differs ({d.get('state')}, {d.get('digest')})" for d in plan.delete]
            raise UserError(
                f"release {self.tag} is immutable and its assets differ from the dist: "
                f"{'; '.join(differences[:6])}. Immutable releases cannot change; nothing was changed. "
                "Release a new version instead",
                [Problem(d, f"release {self.tag}") for d in differences])
        actions_io.report([Problem(f"release {self.tag} is already published but incomplete or different; "
                                   "repairing its assets in place", severity="warning")])
        asset_sync.sync(self, release, prune=False)
        live.verify_live(self, int(release["id"]), check_latest=False)
        return self.outcome

    def run(self) -> Outcome:
        started = time.monotonic()
        try:
            for attempt in range(SYNC_ROUNDS):
                try:
                    outcome = self._run_once(first=attempt == 0)
                except Retry:
                    continue
                outcome.seconds = time.monotonic() - started
                return outcome
            raise UserError(f"the release for {self.tag} kept changing under this job (other jobs publishing "
                            "the same tag?); re-run")
        except UserError as exc:
            if self.our_draft is not None:
                left = (f"; nothing was published: draft release {self.our_draft.get('id')} "
                        f"({self.our_draft.get('html_url')}) was left behind. Re-run the job to finish it, or "
                        "delete it")
                raise UserError(redact(exc.message + left), exc.problems, exc.exit_code) from None
            raise
        finally:
            self.close()

    def _sync_fresh_draft(self, draft: JSON) -> None:
        """Upload into the draft this run just created while checking, alongside, that no older draft for
        the tag exists (two jobs creating at once). If one does, ours is deleted and the run starts over on
        theirs: the younger draft's maker cleans up, so neither job deletes the other's uploads."""
        def stop_uploads_if_duplicate(check: Future[JSON]) -> None:
            if check.exception() is None and int(check.result()["id"]) != int(draft["id"]):
                self.abandon.set()
                say(f"  an older draft for {self.tag} exists: uploads not started yet are skipped")

        oldest = self.start(lambda: self.canonical_draft(draft, uploading=True))
        oldest.add_done_callback(stop_uploads_if_duplicate)
        try:
            asset_sync.sync(self, draft, prune=True, fresh=True, on_uploaded=self.prefetch_latest)
        except (GitHubError, UserError):
            if int(oldest.result()["id"]) == int(draft["id"]):
                raise
            # Our draft was the younger one (maybe deleted under us): what failed no longer matters.
        finally:
            wait([oldest])
            self.abandon.clear()
        keep = oldest.result()
        if int(keep["id"]) != int(draft["id"]):
            say(f"  draft {keep['id']} for {self.tag} is older than ours ({draft['id']}): deleting ours and "
                "continuing on it")
            try:
                self.client.delete_release(self.owner, self.repo, int(draft["id"]))
            except GitHubError as exc:
                if exc.status != 404:
                    raise
            self.our_draft = None
            raise Retry

    def _run_once(self, *, first: bool) -> Outcome:
        published, drafts = self.locate(preflight=first and not self.options.preflighted)
        if published is not None:
            return self._finish_published(published)
        draft = drafts[0] if drafts else None
        fresh = False
        if draft is None:
            self._created_id = None
            draft = self.create_draft()
            if draft is None:
                found = self.poll(lambda: self.locate()[0], f"the published release {self.tag}")
                if found is None:
                    raise Retry
                return self._finish_published(found)
            fresh = self._created_id == int(draft["id"])
        else:
            say(f"  adopting existing draft {draft['id']} for {self.tag}")
        self.our_draft = draft
        try:
            if fresh and not self.serial:
                self._sync_fresh_draft(draft)
            else:
                draft = self.canonical_draft(draft)
                self.our_draft = draft
                asset_sync.sync(self, draft, prune=True, fresh=fresh and self._created_id == int(draft["id"]),
                                    on_uploaded=self.prefetch_latest)
        except GitHubError as exc:
            if exc.status == 404 and self.release_by_id(int(draft["id"])) is None:
                say(f"  draft {draft['id']} was deleted under us (a concurrent job keeping an older draft); "
                    "starting over")
                self.our_draft = None
                raise Retry from None
            raise
        if self.options.draft:
            say(f"  left {self.tag} as a draft (--draft): {draft.get('html_url')}")
            live.verify_live(self, int(draft["id"]), check_latest=False)
            self.our_draft = None
            return self.outcome
        release = self.publish(draft)
        live.verify_live(self, int(release["id"]), check_latest=True)
        return self.outcome


def run_publish(options: PublishOptions, client: GitHubClient | None = None) -> tuple[Dist, Outcome]:
    """The whole stage: load and verify the dist, publish, verify live, write outputs and the summary."""
    repository = actions_io.repository(options.repository)
    split_repository(repository)
    assert repository is not None
    options.repository = repository
    client = client or GitHubClient.for_uploads(options.concurrency)
    require_token(client)
    dist = load_dist(options)
    publisher = Publisher(client, repository, dist, options)
    with actions_io.group(f"publish {dist.plugin} {dist.version.tag} to {client.server_url}/{repository}"):
        outcome = publisher.run()
    outcome.prerelease = publisher.want_prerelease
    actions_io.set_output("release-url", str(outcome.release.get("html_url", "")))
    actions_io.set_output("release-id", str(outcome.release.get("id", "")))
    actions_io.set_output("version", dist.version.tag)
    actions_io.set_output("assets", json.dumps(assets_json(outcome)))
    actions_io.append_summary(summary_markdown(dist, repository, outcome, options.draft))
    return dist, outcome
