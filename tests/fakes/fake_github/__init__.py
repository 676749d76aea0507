"""A faithful local fake of the GitHub REST API for releases and release assets.

Start it in a pytest fixture, point ``GITHUB_API_URL`` / ``GITHUB_SERVER_URL`` of the process under
test at :attr:`FakeGitHub.api_url` / :attr:`FakeGitHub.server_url`, seed repositories, tokens and
releases, arm faults through :attr:`FakeGitHub.faults`, and inspect :meth:`FakeGitHub.releases` and
:attr:`FakeGitHub.requests_log` afterwards.  Stdlib only.

Behaviour that is an educated guess rather than documented GitHub behaviour is listed in
``GUESSES`` below; tests of the release client should not depend on the exact wording of those.
"""

from .faults import ALIASES, ROUTES, Fault, Faults, RouteSpec
from .server import FakeGitHub, LoggedRequest
from .state import ApiError, Asset, Release, Repo, Token, normalize_asset_name

GUESSES = """
* Asset name normalisation (normalize_asset_name): runs of characters outside [A-Za-z0-9._+-] become
  one '.', dot runs collapse, trailing dots drop, a leading dot gets the prefix 'default'.
* Schema errors (make_latest as a JSON boolean, draft as a string, missing tag_name) answer 422
  with GitHub's "Invalid request.\\n\\nFor 'properties/make_latest', true is not a string." form,
  not "Validation Failed".
* Immutable releases: PATCH of tag_name or draft=true -> 422 custom; asset PATCH/DELETE -> 422
  "Cannot update/delete assets ... immutable release"; upload -> 422
  "Cannot upload assets to an immutable release".
* make_latest: "true" pins the release as latest; "false" excludes it until it is made latest
  explicitly; "legacy" unpins (newest eligible by created_at, then id).  The value sent when
  creating a draft is NOT remembered: the publishing PATCH uses its own make_latest, default "true".
* A create (draft or not) for a tag held by a published release -> 422 already_exists.
* browser_download_url of drafts (untagged-...) and of private repos -> 404 (no browser session);
  token clients must use the API asset URL with Accept: application/octet-stream (-> 302).
* Uploads create a 'starter' asset at once (visible in listings, blocking the name); a client that
  disconnects mid-body has it removed.  Empty (0-byte) uploads are accepted.
* An upload cut mid-body can leave an asset in state 'open' (Faults.drop_connection(leave_open=True), or
  add_asset(state="open")): the state is in GitHub's description, which failures leave it is a guess; it holds
  the bytes received, its size counts them, it has no digest.
* Documented, not a guess: creating or updating a release whose target commit changes .github/workflows/
  (add_repo(workflow_changes=...)) answers 404 unless the token may change workflows (add_token(workflows=True)).
* Asset order in listings: upload order (FakeGitHub(asset_order="name") for alphabetical).
* Contents API: ?ref= naming an existing tag serves the default branch's files.
* Link headers point at /repositories/{id}/... like api.github.com; those paths are served too.
"""

__all__ = [
    "ALIASES",
    "GUESSES",
    "ROUTES",
    "ApiError",
    "Asset",
    "FakeGitHub",
    "Fault",
    "Faults",
    "LoggedRequest",
    "Release",
    "Repo",
    "RouteSpec",
    "Token",
    "normalize_asset_name",
]
