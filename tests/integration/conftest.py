"""test-plugin's fixtures (the fake gatewayd-io/gatewayd releases, the runner, a project), shared by its test files."""

from tests.integration.test_test_plugin import (  # noqa: F401 (re-exported fixtures)
    gatewayd_releases,
    go_cache,
    project,
    run_tmpdir,
    runner,
)
