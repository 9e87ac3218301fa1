"""Wall time of `kiva twin` per stack, split into plan, start-up, apply, settle and stop.

Run: KIVA_K8S_TOOLS=../shared/tools/k8s KIVA_CHARTS_DIR=../shared/charts uv run python bench/twin_benchmark.py [STACK...]
Target: prod within 60 s on a 2-core machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from infra.offline.engine import run_program
from infra.offline.stackfile import read_stack_file
from infra.twin.run import twin

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main(stacks: list[str]) -> int:
    print(f"{'stack':<8}{'plan':>8}{'start-up':>10}{'apply':>8}{'settle':>8}{'stop':>7}{'total':>8}  verdict")
    for stack in stacks:
        t0 = time.monotonic()
        plan = run_program(read_stack_file(PROJECT_DIR, stack))
        planned = time.monotonic() - t0
        report = twin(plan)
        t = report.timings
        total = time.monotonic() - t0
        print(
            f"{stack:<8}{planned:>8.1f}{t.get('start-up', 0):>10.1f}{t.get('apply', 0):>8.1f}"
            f"{t.get('settle', 0):>8.1f}{t.get('stop', 0):>7.1f}{total:>8.1f}  {'ok' if report.ok else 'FAILED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["dev", "prod", "local"]))
