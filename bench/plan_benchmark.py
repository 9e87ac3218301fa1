"""Wall time of `kiva plan` (interpreter start included) for the committed stacks and for stacks with
1, 10 and 50 models. Prints a table; targets on a 2-core machine: prod ≤ 3 s, each added model ≤ 30 ms.

    uv run python bench/plan_benchmark.py [--runs 3]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
KIVA = [sys.executable, "-m", "infra.cli"]


def synthetic_stack(project: Path, models: int) -> str:
    """A copy of prod serving `models` models, each one replica on a large A100 pool."""
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    config = document["config"]
    template = config["kiva:models"][1]
    config["kiva:gpuPools"][0]["maxCount"] = 100
    config["kiva:models"] = []
    for index in range(models):
        model = copy.deepcopy(template)
        model.update(name=f"model-{index}", servedName=f"model-{index}", replicas=1)
        config["kiva:models"].append(model)
    name = f"bench{models}"
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document))
    return name


def time_plan(project: Path, stack: str, runs: int) -> tuple[float, int]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run([*KIVA, "plan", stack, "--project-dir", str(project)],
                                capture_output=True, text=True, cwd=PROJECT_DIR)  # fmt: skip
        timings.append(time.perf_counter() - start)
        if result.returncode not in (0, 1):
            sys.exit(f"kiva plan {stack} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    resources = int(result.stdout.split(": ", 1)[1].split(" ", 1)[0]) if ": " in result.stdout else 0
    return statistics.median(timings), resources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per stack; the median is reported")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
            shutil.copy(PROJECT_DIR / name, project / name)
        rows = [(stack, *time_plan(project, stack, runs)) for stack in ("dev", "prod")]
        synthetic = {n: time_plan(project, synthetic_stack(project, n), runs) for n in (1, 10, 50)}
        rows += [(f"{n} models", *synthetic[n]) for n in synthetic]
    print(f"{'stack':<12}{'resources':>10}{'wall time (s)':>16}   (median of {runs})")
    for stack, seconds, resources in rows:
        print(f"{stack:<12}{resources:>10}{seconds:>16.2f}")
    per_model_ms = (synthetic[50][0] - synthetic[1][0]) / 49 * 1000
    print(f"per added model: {per_model_ms:.1f} ms (from 1 to 50 models)")


if __name__ == "__main__":
    main()
