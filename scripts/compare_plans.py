"""Show that a refactoring changed no plan: `kiva plan --json --manifests` at a git ref and in the work tree.

    uv run python scripts/compare_plans.py [--base HEAD] [STACK ...]

Checks out `--base` into a temporary git worktree, plans every committed stack (default: dev, prod,
local) there and in the current tree with the same interpreter, and compares the PreviewDigest JSON
(every URN, type, parent, input, dependency) and every manifest file byte for byte. Exit 0 when all
are identical, 1 with a short diff otherwise: identical URNs mean no existing stack sees a replace.
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod", "local")


def plan(tree: Path, stack: str, out: Path) -> tuple[dict, Path]:
    """Plan `stack` with the code of `tree` (its own `infra`, `components` and `kiva_policies` first)."""
    manifests = out / f"{stack}-manifests"
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tree / "policies"), str(tree)])}
    command = [sys.executable, "-m", "infra.cli", "plan", stack, "--project-dir", str(tree),
               "--json", str(out / f"{stack}.json"), "--manifests", str(manifests)]  # fmt: skip
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"kiva plan {stack} failed in {tree}:\n{result.stderr}")
    return json.loads((out / f"{stack}.json").read_text()), manifests


def canonical(digest: dict) -> list[str]:
    """The digest as lines, independent of registration order (which the engine does not fix)."""
    steps = sorted(digest["steps"], key=lambda step: step["urn"])
    for step in steps:
        state = step.get("newState", {})
        state["dependencies"] = sorted(state.get("dependencies", []))
    return json.dumps(digest | {"steps": steps}, indent=1, sort_keys=True).splitlines()


def differences(base: tuple[dict, Path], head: tuple[dict, Path]) -> list[str]:
    lines: list[str] = []
    old, new = canonical(base[0]), canonical(head[0])
    lines += list(difflib.unified_diff(old, new, "base.json", "head.json", n=1, lineterm=""))[:60]
    compared = filecmp.dircmp(base[1], head[1])
    lines += [f"only in base: {name}" for name in compared.left_only]
    lines += [f"only in head: {name}" for name in compared.right_only]
    lines += [f"differs: {name}" for name in compared.diff_files]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="git ref to compare with (default: HEAD)")
    parser.add_argument("stacks", nargs="*", default=list(STACKS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiva-compare-") as scratch:
        worktree = Path(scratch) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(worktree), args.base], cwd=ROOT, check=True
        )
        try:
            failed = False
            for stack in args.stacks:
                (Path(scratch) / "b").mkdir(exist_ok=True)
                (Path(scratch) / "h").mkdir(exist_ok=True)
                found = differences(
                    plan(worktree, stack, Path(scratch) / "b"), plan(ROOT, stack, Path(scratch) / "h")
                )
                print(f"{stack}: {'identical' if not found else 'DIFFERENT'}")
                for line in found:
                    print(f"  {line}")
                failed |= bool(found)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
