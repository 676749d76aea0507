"""PostgreSQL for tests: one throwaway server per session, started through ``postgres.local_server``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatewayd_plugin_actions.gatewayd import postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.LocalServer]:
    """A real PostgreSQL on 127.0.0.1 at a free port (trust auth, user and database ``postgres``)."""
    if postgres.find_bindir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb/postgres) on this machine")
    with postgres.local_server() as server:
        yield server
