"""`make bench`: run every benchmark and write one markdown report."""

from __future__ import annotations

import argparse
import compileall
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

SECTIONS = ("bench.release_bench", "bench.publish_bench", "bench.test_plugin_bench", "bench.liveness_bench",
            "bench.dev_bench")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", type=Path, default=Path("bench-report.md"))
    parser.add_argument("--only", help="run one section, e.g. release_bench")
    args = parser.parse_args()
    parts = ["# gatewayd-plugin-actions benchmarks", ""]
    # Steady state has bytecode cached: the editable install is never byte-compiled by pip, and with
    # PYTHONDONTWRITEBYTECODE set every CLI start would recompile ~40 modules (~40 ms) inside the timings.
    compileall.compile_dir(SCRIPTS / "gatewayd_plugin_actions", quiet=1)
    for name in SECTIONS:
        if args.only and not name.endswith(args.only):
            continue
        module = importlib.import_module(name)
        print(f"running {name}…", file=sys.stderr, flush=True)
        section = module.run()
        print(section, flush=True)
        parts.append(section)
    args.report.write_text("\n".join(parts), encoding="utf-8")
    print(f"report written to {args.report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
