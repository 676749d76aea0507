"""Verification before publishing: each archive as the installer reads it, the whole dist, the release gate."""

from gatewayd_plugin_actions.verify.archive import ArchiveResult, GateOutcome, extract_member, verify_archive
from gatewayd_plugin_actions.verify.dist_check import VerifyReport, verify_dist
from gatewayd_plugin_actions.verify.gate import GATE_TIMEOUT_SECONDS, GateOptions, run_gate

__all__ = [
    "GATE_TIMEOUT_SECONDS",
    "ArchiveResult",
    "GateOptions",
    "GateOutcome",
    "VerifyReport",
    "extract_member",
    "run_gate",
    "verify_archive",
    "verify_dist",
]
