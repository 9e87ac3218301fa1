"""How an estimate is shown: a table for `kiva cost`, one line for `kiva plan`, JSON, and Markdown
for the reviewer report (the policy pack gets these lines as text and never imports `infra`)."""

from __future__ import annotations

from typing import Any

from infra.cost.estimate import Estimate


def _eur(value: float) -> str:
    """Whole euros, with cents below 10 € so that small items do not read as free."""
    shown = f"{value:,.2f}" if 0 < abs(value) < 10 else f"{value:,.0f}"
    return f"{shown} €".replace(",", " ")


def _range(low: float, expected: float, high: float) -> str:
    if low == expected == high:
        return _eur(expected)
    return f"{_eur(expected)} ({_eur(low)}–{_eur(high)})"


def summary_line(estimate: Estimate) -> str:
    """The one line `kiva plan` prints."""
    unverified = len(estimate.unverified)
    return (
        f"Cost: ~{_eur(estimate.expected)}/month (min {_eur(estimate.low)} – max {_eur(estimate.high)}), "
        f"{unverified} price{'s' if unverified != 1 else ''} unverified; `kiva cost {estimate.stack}` for details"
    )


def _footer(estimate: Estimate) -> list[str]:
    lines = [
        f"Prices: infra/cost/prices/{estimate.table}; usage assumptions: "
        f"{estimate.assumptions_file or 'defaults (no cost/' + estimate.stack + '.yaml)'}; see docs/cost.md.",
    ]
    if estimate.unverified:
        lines.append(f"{len(estimate.unverified)} unverified price(s) used: {', '.join(estimate.unverified)}")
    lines.extend(f"Note: {note}" for note in estimate.notes)
    lines.append("Not counted: egress traffic, LLM tokens of external providers, support plans, taxes.")
    return lines


def text(estimate: Estimate) -> list[str]:
    """The table `kiva cost` prints: one row per line, a subtotal per component, the total."""
    rows = [
        f"Monthly estimate of stack {estimate.stack} ({estimate.provider}, {estimate.region}), EUR: "
        "expected (min–max)",
    ]
    totals = estimate.by_component()
    for component, (low, expected, high) in totals.items():
        rows.append(f"  {component}: {_range(low, expected, high)}")
        for line in estimate.lines:
            if line.component == component:
                mark = " *" if line.unverified else ""
                rows.append(f"      {line.item}: {_range(line.low, line.expected, line.high)}{mark}")
    rows.append(f"  Total: {_range(estimate.low, estimate.expected, estimate.high)} per month")
    if estimate.unverified:
        rows.append("(* the line uses a price nobody could verify; see the price table's `reason`)")
    rows.extend(_footer(estimate))
    return rows


def markdown(estimate: Estimate) -> list[str]:
    """The reviewer report's section body (without its heading)."""
    rows = [
        f"Estimated monthly cost, EUR, before deployment ({estimate.provider}, {estimate.region}): "
        f"**~{_eur(estimate.expected)}** (min {_eur(estimate.low)}, max {_eur(estimate.high)}).",
        "",
        "| Component | Expected | Min | Max |",
        "|---|---|---|---|",
    ]
    for component, (low, expected, high) in estimate.by_component().items():
        rows.append(f"| {component} | {_eur(expected)} | {_eur(low)} | {_eur(high)} |")
    rows.append(
        f"| **Total** | **{_eur(estimate.expected)}** | {_eur(estimate.low)} | {_eur(estimate.high)} |"
    )
    rows.append("")
    rows.extend(f"- {line}" for line in _footer(estimate))
    return rows


def as_json(estimate: Estimate) -> dict[str, Any]:
    return {
        "stack": estimate.stack,
        "provider": estimate.provider,
        "region": estimate.region,
        "currency": "EUR",
        "priceTable": estimate.table,
        "assumptionsFile": estimate.assumptions_file,
        "total": {"min": estimate.low, "expected": estimate.expected, "max": estimate.high},
        "components": {
            name: {"min": low, "expected": expected, "max": high}
            for name, (low, expected, high) in estimate.by_component().items()
        },
        "lines": [
            {
                "component": line.component,
                "item": line.item,
                "min": line.low,
                "expected": line.expected,
                "max": line.high,
                "unverifiedPrices": sorted(line.unverified),
            }
            for line in estimate.lines
        ],
        "unverifiedPrices": estimate.unverified,
        "notes": estimate.notes,
    }
