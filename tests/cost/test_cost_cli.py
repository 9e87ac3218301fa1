"""`kiva cost`, the cost line of `kiva plan` and the report section, as a user runs them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.cli import main
from tests.conftest import PROJECT_DIR, STACKS

EXAMPLES = sorted((PROJECT_DIR / "examples").glob("*/Pulumi.*.yaml"))
TOTAL = re.compile(r"^  Total: [0-9 ]+ € .*per month$", re.MULTILINE)


def kiva(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_print_an_estimate(stack: str, tmp_path: Path):
    json_file = tmp_path / "cost.json"
    result = kiva("cost", stack, "--json", str(json_file), "--project-dir", str(PROJECT_DIR))
    assert result.exit_code == 0, result.output
    assert TOTAL.search(result.output), result.output
    data = json.loads(json_file.read_text())
    assert data["currency"] == "EUR" and data["stack"] == stack
    assert data["total"]["min"] <= data["total"]["expected"] <= data["total"]["max"]
    assert data["total"]["expected"] == pytest.approx(
        sum(c["expected"] for c in data["components"].values()), abs=0.05
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_fork_examples_print_an_estimate(example: Path, tmp_path: Path):
    stack = example.name.removeprefix("Pulumi.").removesuffix(".yaml")
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(example, tmp_path / example.name)
    result = kiva("cost", stack, "--project-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert TOTAL.search(result.output), result.output
    assert "existing-clusters.yaml" in result.output


def test_plan_prints_one_cost_line():
    result = kiva("plan", "local", "--project-dir", str(PROJECT_DIR))
    lines = [line for line in result.output.splitlines() if line.startswith("Cost: ")]
    assert len(lines) == 1
    assert re.fullmatch(
        r"Cost: ~[0-9 ]+ €/month \(min [0-9 ]+ € – max [0-9 ]+ €\), \d+ prices? unverified; `kiva cost local` for details",
        lines[0],
    )


def test_a_bad_cost_file_is_a_usage_error_with_the_key_and_an_example(tmp_path: Path):
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "Pulumi.local.yaml", tmp_path / "Pulumi.local.yaml")
    (tmp_path / "cost").mkdir()
    (tmp_path / "cost" / "local.yaml").write_text("existing:\n  nodeHourEur: {workers: cheap}\n")
    result = CliRunner().invoke(main, ["cost", "local", "--project-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert (
        f"{tmp_path / 'cost' / 'local.yaml'}: existing.nodeHourEur.workers: Input should be a valid number, "
        "unable to parse string as a number (got 'cheap'); e.g. existing: {nodeHourEur: {general: 0.35}}"
    ) in result.output


def test_the_agencys_node_hour_price_is_used(tmp_path: Path):
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "Pulumi.local.yaml", tmp_path / "Pulumi.local.yaml")
    (tmp_path / "cost").mkdir()
    (tmp_path / "cost" / "local.yaml").write_text("existing:\n  nodeHourEur: {workers: 0.1}\n")
    result = kiva("cost", "local", "--project-dir", str(tmp_path))
    assert "      1 × node at 0.1000 €/h (your price): 73 €" in result.output


def test_check_report_has_a_cost_section(tmp_path: Path):
    plan_file, report = tmp_path / "plan.json", tmp_path / "report.md"
    kiva("plan", "local", "--project-dir", str(PROJECT_DIR), "--json", str(plan_file))
    kiva("check", str(plan_file), "--report", str(report))
    text = report.read_text()
    assert "## Estimated monthly cost" in text
    assert re.search(r"\| \*\*Total\*\* \| \*\*[0-9 ]+ €\*\* \|", text)
