"""The checkov gate's `--summary` and the reviewer report's "Third-party scan (checkov)" section.

`tests/fixtures/checkov/prod-3.3.30.json` is checkov 3.3.30's own `-o json --compact` output on the prod
manifests (`kiva plan prod --manifests`), cut down to the two findings on the Valkey StatefulSet; its summary
counts are checkov's (366 passed), with `failed` set to the two findings kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kiva_policies.report import (
    SCAN_HEADING,
    ScanSummaryError,
    load_scan_summary,
    render_report,
    third_party_scan_lines,
)

from scripts.checkov_gate import main
from tests.policies.harness import compliant_plan, run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "checkov" / "prod-3.3.30.json"
PULL = "imagePullPolicy IfNotPresent on purpose"
DIGEST = "pinned by tag, digests pending (KIVA-15)"


def _accepted(tmp_path: Path, *entries: tuple[str, str, str]) -> Path:
    path = tmp_path / "accepted.yaml"
    lines = ["accepted:"] + [f"  - {{check: {c}, resource: {r}, reason: '{why}'}}" for c, r, why in entries]
    path.write_text("\n".join(lines) + "\n")
    return path


def _gate(tmp_path: Path, accepted: Path, *reports: str) -> tuple[int, dict[str, Any]]:
    lock = tmp_path / "checkov.lock"
    lock.write_text("aiodns==3.6.1 \\\n    --hash=sha256:00\ncheckov==3.3.30 \\\n    --hash=sha256:11\n")
    summary = tmp_path / "out" / "summary.json"
    status = main(["--accepted", str(accepted), "--lock", str(lock), "--summary", str(summary), *reports])
    return status, json.loads(summary.read_text())


def test_summary_of_accepted_findings_with_reasons_and_a_stale_entry(tmp_path: Path) -> None:
    accepted = _accepted(
        tmp_path,
        ("CKV_K8S_43", "StatefulSet.kiva.kiva-redis", DIGEST),
        ("CKV_K8S_15", "StatefulSet.kiva.kiva-redis", PULL),
        ("CKV_K8S_35", "Deployment.kiva.kiva-gateway", "env from secretKeyRef"),
    )
    status, summary = _gate(tmp_path, accepted, f"prod={FIXTURE}")
    assert status == 0
    assert summary == {
        "format": 1,
        "tool": "checkov",
        "version": "3.3.30",
        "acceptedList": accepted.as_posix(),
        "verdict": "pass",
        "stacks": {
            "prod": {
                "checkovVersion": "3.3.30",
                "passed": 366,
                "failed": 2,
                "skipped": 0,
                "resources": 68,
                "accepted": [
                    {
                        "check": "CKV_K8S_15",
                        "resource": "StatefulSet.kiva.kiva-redis",
                        "name": "Image Pull Policy should be Always",
                        "reason": PULL,
                    },
                    {
                        "check": "CKV_K8S_43",
                        "resource": "StatefulSet.kiva.kiva-redis",
                        "name": "Image should use digest",
                        "reason": DIGEST,
                    },
                ],
                "new": [],
            }
        },
        "stale": [
            {
                "check": "CKV_K8S_35",
                "resource": "Deployment.kiva.kiva-gateway",
                "reason": "env from secretKeyRef",
            }
        ],
    }


def test_a_new_finding_fails_the_gate_and_is_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accepted = _accepted(tmp_path, ("CKV_K8S_15", "StatefulSet.kiva.kiva-redis", PULL))
    status, summary = _gate(tmp_path, accepted, f"prod={FIXTURE}")
    assert status == 1
    assert (
        "checkov gate: NEW: prod: CKV_K8S_43 on StatefulSet.kiva.kiva-redis is new" in capsys.readouterr().out
    )
    assert summary["verdict"] == "fail"
    assert summary["stacks"]["prod"]["new"] == [
        {"check": "CKV_K8S_43", "resource": "StatefulSet.kiva.kiva-redis", "name": "Image should use digest"}
    ]


def test_empty_and_multi_framework_reports_are_counted(tmp_path: Path) -> None:
    empty = tmp_path / "local.json"
    empty.write_text(
        json.dumps({"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0})
    )
    both = tmp_path / "dev.json"
    fixture = json.loads(FIXTURE.read_text())
    both.write_text(json.dumps([fixture, {**fixture, "results": {"failed_checks": []}}]))
    accepted = _accepted(
        tmp_path,
        ("CKV_K8S_43", "StatefulSet.kiva.kiva-redis", DIGEST),
        ("CKV_K8S_15", "StatefulSet.kiva.kiva-redis", PULL),
    )
    status, summary = _gate(tmp_path, accepted, f"local={empty}", f"dev={both}")
    assert status == 0
    assert (summary["stacks"]["local"]["passed"], summary["stacks"]["local"]["failed"]) == (0, 0)
    assert (summary["stacks"]["dev"]["passed"], summary["stacks"]["dev"]["failed"]) == (732, 4)


def test_a_lock_without_checkov_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "checkov.lock"
    lock.write_text("aiodns==3.6.1\n")
    accepted = _accepted(tmp_path, ("CKV_K8S_15", "StatefulSet.kiva.kiva-redis", PULL))
    args = ["--accepted", str(accepted), "--lock", str(lock), "--summary", str(tmp_path / "s.json")]
    assert main([*args, f"prod={FIXTURE}"]) == 2
    assert f"{lock}: pins no `checkov==VERSION`, e.g. checkov==3.3.30" in capsys.readouterr().err


def test_the_shipped_lock_names_the_checkov_version() -> None:
    from scripts.checkov_gate import LOCK, locked_version

    assert locked_version(LOCK) == "3.3.30"


def _summary(tmp_path: Path) -> dict[str, Any]:
    accepted = _accepted(tmp_path, ("CKV_K8S_43", "StatefulSet.kiva.kiva-redis", DIGEST))
    path = tmp_path / "out" / "summary.json"
    _gate(tmp_path, accepted, f"prod={FIXTURE}")
    return load_scan_summary(path)


def test_report_section_with_a_summary(tmp_path: Path) -> None:
    plan = compliant_plan()  # a prod plan: its URNs name the stack
    text = render_report(run(plan), plan, third_party_scan=_summary(tmp_path))
    section = text.split(f"## {SCAN_HEADING}\n\n", 1)[1].split("\n## ", 1)[0]
    assert section.splitlines() == [
        "checkov 3.3.30 (pinned in `policies/checkov.lock`) on the rendered manifests; findings judged against "
        f"`{(tmp_path / 'accepted.yaml').as_posix()}`. **Gate: FAIL.**",
        "",
        "| Stack | Checks passed | Checks failed | Accepted | New |",
        "|---|---|---|---|---|",
        "| prod | 366 | 2 | 1 | 1 |",
        "",
        "Accepted findings of `prod` (reviewed, with their reasons):",
        "",
        "| Check | Resource | Name | Reason |",
        "|---|---|---|---|",
        f"| `CKV_K8S_43` | `StatefulSet.kiva.kiva-redis` | Image should use digest | {DIGEST} |",
        "",
        "New findings of `prod` (not accepted: the gate fails on them):",
        "",
        "- ✗ `CKV_K8S_15` on `StatefulSet.kiva.kiva-redis`: Image Pull Policy should be Always",
        "",
        "Stale entries of the accepted list (no longer found in any scanned stack; remove them):",
        "",
        "None.",
    ]


def test_report_section_without_a_summary_says_how_to_produce_it() -> None:
    plan = compliant_plan()
    text = render_report(run(plan), plan)
    assert f"## {SCAN_HEADING}\n\nNo third-party scan summary was given to this report" in text
    assert (
        "uv run python scripts/checkov_gate.py --accepted policies/checkov-accepted.yaml "
        "--summary plan-out/checkov-summary.json STACK=plan-out/checkov-STACK.json\n"
        "uv run kiva check plan-out/STACK.json --report REPORT.md --third-party-scan plan-out/checkov-summary.json\n"
        "```"
    ) in text


def test_a_summary_of_another_stack_says_this_stack_was_not_scanned(tmp_path: Path) -> None:
    lines = third_party_scan_lines(_summary(tmp_path), "dev")
    assert lines[-1] == "The summary has no scan of stack `dev`: its manifests were not scanned."


def test_a_malformed_summary_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"format": 1, "tool": "checkov", "stacks": {"prod": {"passed": "many"}}}))
    with pytest.raises(ScanSummaryError) as error:
        load_scan_summary(path)
    assert str(error.value) == f"{path}: stacks.prod.passed must be a number, e.g. 366"


def test_kiva_check_renders_the_summary_and_rejects_it_without_a_report(tmp_path: Path) -> None:
    from infra.cli import main as kiva

    summary = tmp_path / "out" / "summary.json"
    _summary(tmp_path)
    preview = Path(__file__).resolve().parent / "fixtures" / "preview-sample.json"
    alone = CliRunner().invoke(kiva, ["check", str(preview), "--third-party-scan", str(summary)])
    assert alone.exit_code == 2
    assert "--third-party-scan is shown in the report: give --report REPORT.md as well" in alone.output
    report = tmp_path / "r.md"
    args = ["check", str(preview), "--report", str(report), "--third-party-scan", str(summary)]
    result = CliRunner().invoke(kiva, args)
    assert result.exit_code in (0, 1), result.output
    assert "The summary has no scan of stack `sample`: its manifests were not scanned." in report.read_text()
