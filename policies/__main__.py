"""Entry point of the KIVA policy pack: only assembles the pack (the constructor serves and blocks).

Run by the Pulumi CLI:
`pulumi preview --policy-pack policies [--policy-pack-config policies/config/prod.json]`.
Never import this module in tests; import `kiva_policies` instead.
"""

from kiva_policies.pack import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="KIVA: EU data residency, telemetry off, retention and a hardened baseline.",
)
