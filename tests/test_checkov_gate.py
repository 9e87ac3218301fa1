"""scripts/checkov_gate.py: new findings fail with id and resource, stale entries are reported, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.checkov_gate import main

ACCEPTED = (
    "accepted:\n  - {check: CKV_K8S_43, resource: Deployment.kiva.kiva-gateway, reason: tags not digests}\n"
)


def _report(tmp_path: Path, *findings: tuple[str, str]) -> str:
    path = tmp_path / "prod.json"
    failed = [{"check_id": c, "resource": r} for c, r in findings]
    path.write_text(
        json.dumps({"check_type": "kubernetes", "results": {"failed_checks": failed}, "summary": {}})
    )
    return f"prod={path}"


def test_new_finding_fails_and_stale_entry_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(ACCEPTED)
    status = main(
        ["--accepted", str(tmp_path / "a.yaml"), _report(tmp_path, ("CKV_K8S_40", "Deployment.kiva.x"))]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "checkov gate: NEW: prod: CKV_K8S_40 on Deployment.kiva.x is new" in out
    assert "checkov gate: stale: CKV_K8S_43 on Deployment.kiva.kiva-gateway no longer occurs" in out


def test_accepted_findings_pass(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ACCEPTED)
    report = _report(tmp_path, ("CKV_K8S_43", "Deployment.kiva.kiva-gateway"))
    assert main(["--accepted", str(tmp_path / "a.yaml"), report]) == 0


def test_entry_without_reason_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text("accepted:\n  - {check: CKV_K8S_43, resource: D.kiva.g}\n")
    assert main(["--accepted", str(tmp_path / "a.yaml"), _report(tmp_path)]) == 2
    assert "accepted[0].reason must be a non-empty string" in capsys.readouterr().err


def test_shipped_list_is_valid() -> None:
    """It loads (every entry has a check id, a resource and a reason) and names no entry twice."""
    from scripts.checkov_gate import load_accepted

    text = Path("policies/checkov-accepted.yaml").read_text()
    accepted = load_accepted(Path("policies/checkov-accepted.yaml"))
    assert accepted and len(accepted) == text.count("- check:")
