"""Day-one checks: network (placeholder until implemented)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Policy

POLICIES: list[Policy] = []


def summary(resources: list[Any]) -> list[str]:
    return []
