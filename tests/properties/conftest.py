"""Hypothesis profiles for the property suite.

``make test`` runs the ``test`` profile: a bounded number of examples per property, and every example stored
in ``tests/properties/examples`` (what earlier runs found) replayed first, read-only so a test run never
changes the checkout. ``make fuzz`` runs the ``fuzz`` profile: many more examples, and any failure it finds is
written to that database, to be committed with its fix so CI replays it from then on."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

EXAMPLES = DirectoryBasedExampleDatabase(Path(__file__).resolve().parent / "examples")
PROFILE_ENV = "GPA_HYPOTHESIS_PROFILE"

settings.register_profile("test", max_examples=100, deadline=None, database=ReadOnlyDatabase(EXAMPLES),
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=2000, deadline=None, database=EXAMPLES,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get(PROFILE_ENV, "test"))
