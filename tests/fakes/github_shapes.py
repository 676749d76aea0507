"""The parts of GitHub's JSON that no client of ours reads but GitHub's OpenAPI description requires (the hypermedia
URLs of a user and of a repository, a repository's counters): both fakes fill them in from here, so their answers
validate against the description (``tests/fixtures/openapi.py``) without either fake carrying the list."""

from __future__ import annotations

from typing import Any

USER_LINKS = {
    "followers_url": "/followers", "following_url": "/following{/other_user}", "gists_url": "/gists{/gist_id}",
    "starred_url": "/starred{/owner}{/repo}", "subscriptions_url": "/subscriptions", "organizations_url": "/orgs",
    "repos_url": "/repos", "events_url": "/events{/privacy}", "received_events_url": "/received_events",
}

REPOSITORY_LINKS = {
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
    "downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}", "languages_url": "/languages", "merges_url": "/merges",
    "milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}", "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}", "subscribers_url": "/subscribers", "subscription_url": "/subscription",
    "tags_url": "/tags", "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}


def user_links(user_api_url: str) -> dict[str, str]:
    """The ``*_url`` fields of a user whose API URL is ``user_api_url``."""
    return {name: user_api_url + suffix for name, suffix in USER_LINKS.items()}


def repository_padding(repo_api_url: str, html_url: str, *, created_at: str) -> dict[str, Any]:
    """The fields of a ``full-repository`` that only matter to the description: links, clone URLs, counters."""
    host_and_path = html_url.split("://", 1)[-1]
    host, _, path = host_and_path.partition("/")
    counters = ("forks", "forks_count", "open_issues", "open_issues_count", "size", "stargazers_count", "watchers",
                "watchers_count", "network_count", "subscribers_count")
    return {
        **{name: repo_api_url + suffix for name, suffix in REPOSITORY_LINKS.items()},
        "clone_url": f"{html_url}.git", "git_url": f"git://{host_and_path}.git", "ssh_url": f"git@{host}:{path}.git",
        "svn_url": html_url, "mirror_url": None, "homepage": None, "language": "Go", "license": None,
        "has_issues": True, "has_projects": True, "has_wiki": True, "has_pages": False, "has_discussions": False,
        **dict.fromkeys(counters, 0),
        "created_at": created_at, "updated_at": created_at, "pushed_at": created_at,
    }
