"""Day one: checks that a plan which is schema-valid would also come up on a real cluster.

Schema validation cannot see scheduling, network reachability, storage attachment, missing controllers
or cloud firewalls. Each module here models one of those the way Kubernetes (or the cloud) does, from
the resources of the plan alone, so the same checks run in `pulumi preview --policy-pack`, `kiva plan`
and `kiva check`. The upstream facts each model relies on are listed in the module docstrings.
"""

from __future__ import annotations

from pulumi_policy import Policy

from kiva_policies.day_one import network, scheduling

POLICIES: list[Policy] = [*scheduling.POLICIES, *network.POLICIES]


def summary(resources: list) -> list[str]:
    """Short day-one summary lines for the CLI: nodes and pods per pool, required flows allowed."""
    return [*scheduling.summary(resources), *network.summary(resources)]
