"""Every policy has review metadata; the README table and the APP.4.4 coverage are generated from it."""

from __future__ import annotations

from pathlib import Path

from kiva_policies.metadata import (
    APP_4_4,
    APP_4_4_COVERAGE,
    AUTOMATED,
    C5_2020,
    GDPR,
    METADATA,
    NOT_APPLICABLE,
    ORGANISATIONAL,
    PARTLY,
    SEVERITIES,
    SYS_1_6,
    policies_for,
)
from kiva_policies.pack import POLICIES
from kiva_policies.report import coverage_lines, render_policy_table, replace_block, stage_levels

README = Path(__file__).resolve().parents[2] / "policies" / "README.md"


def test_every_policy_of_the_pack_has_metadata_and_nothing_else_does() -> None:
    names = [p.name for p in POLICIES]
    assert [n for n in names if n not in METADATA] == []
    assert sorted(set(METADATA) - set(names)) == []


def test_metadata_values_are_from_the_known_tables() -> None:
    for meta in METADATA.values():
        assert meta.severity in SEVERITIES, meta.id
        assert meta.rationale.endswith(".") and len(meta.rationale) < 120, meta.id
        assert set(meta.app_4_4) <= set(APP_4_4), meta.id
        assert set(meta.sys_1_6) <= set(SYS_1_6), meta.id
        assert set(meta.c5) <= set(C5_2020), meta.id
        assert set(meta.gdpr) <= set(GDPR), meta.id


def test_app_4_4_lists_a1_to_a21_with_the_edition_2023_levels() -> None:
    assert list(APP_4_4) == [f"APP.4.4.A{i}" for i in range(1, 22)]
    assert [r for r, (_, level) in APP_4_4.items() if level == "B"] == [f"APP.4.4.A{i}" for i in range(1, 6)]
    assert [r for r, (_, level) in APP_4_4.items() if level == "S"] == [f"APP.4.4.A{i}" for i in range(6, 13)]
    assert APP_4_4["APP.4.4.A7"][0] == "Separierung der Netze bei Kubernetes"


def test_every_app_4_4_requirement_has_a_coverage_with_a_reason() -> None:
    assert list(APP_4_4_COVERAGE) == list(APP_4_4)
    for requirement, coverage in APP_4_4_COVERAGE.items():
        assert coverage.status in (AUTOMATED, PARTLY, ORGANISATIONAL, NOT_APPLICABLE), requirement
        assert len(coverage.reason) > 40, requirement
        automated = coverage.status in (AUTOMATED, PARTLY)
        # automated and partly automated requirements name their policies; others name none
        if requirement != "APP.4.4.A13":
            assert bool(policies_for(requirement)) == automated, requirement


def test_the_coverage_table_has_one_row_per_requirement() -> None:
    rows = [line for line in coverage_lines() if line.startswith("| APP.4.4.")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(APP_4_4)
    a7 = next(row for row in rows if row.startswith("| APP.4.4.A7 |"))
    assert "| automated | " in a7 and "`kiva-network-default-deny`" in a7
    a9 = coverage_lines(ran=["kiva-network-default-deny"])
    assert any("`kiva-hardening-service-account-token-not-mounted` (not run)" in line for line in a9)


def test_stage_levels_come_from_the_shipped_configs() -> None:
    levels = stage_levels()
    assert levels["kiva-hardening-container-security-context"] == {
        "dev": "advisory",
        "prod": "mandatory",
        "local": "advisory",
    }
    assert set(levels) == {p.name for p in POLICIES}


def test_the_readme_policy_table_is_generated_and_in_sync() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_block(text) == text, (
        "policies/README.md is out of date: uv run python -m kiva_policies.report --write policies/README.md"
    )
    table = render_policy_table()
    assert (
        "| `kiva-network-default-deny` | high | advisory | mandatory | advisory | APP.4.4.A7, APP.4.4.A18 | "
        "SYS.1.6.A5 | KOS-01, KOS-03 | Art. 32 |" in table
    )
