"""An independent fake of GitHub's Releases REST API, written from GitHub's public documentation and public
issue threads only, without looking at the project's own fake (``tests/fakes/fake_github``) or at the publish client.
Its purpose: the publish client must not merely fit one fake.

Standard library only. Real HTTP servers on 127.0.0.1, ports chosen by the OS.

* ``model.py``: state (dataclasses) and GitHub's rules, each marked documented / observed / GUESS.
* ``faults.py``: the seeded fault mix (5xx, secondary and primary rate limits, starter assets after a 502,
  connections dropped mid-upload, responses lost after the change was committed, eventual consistency,
  latency), capped so that a client with sane retries always finishes.
* ``server.py``: the HTTP servers (API, upload host, web host, object store; or one GHES host), the request log.

Typical use::

    with IndieGitHub(faults=FaultMix.mixed(seed=7)) as gh:
        gh.add_repo(OWNER, REPO, tags=("v1.2.3",))
        gh.add_token(TOKEN, "write")
        ...  # run the CLI with GITHUB_API_URL=gh.api_url GITHUB_SERVER_URL=gh.server_url
        [release] = gh.releases(OWNER, REPO, tag="v1.2.3")
"""

from tests.fakes.indie_github.faults import ALL_KINDS, FaultMix, FaultPlanner
from tests.fakes.indie_github.model import AssetView, ReleaseView
from tests.fakes.indie_github.server import IndieGitHub, LogEntry

__all__ = ["ALL_KINDS", "AssetView", "FaultMix", "FaultPlanner", "IndieGitHub", "LogEntry", "ReleaseView"]
