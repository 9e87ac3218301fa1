"""Entry point of the KIVA policy pack: only assembles the pack (the constructor serves and blocks).

Run by the Pulumi CLI:
`pulumi preview --policy-pack policies [--policy-pack-config policies/config/prod.json]`.
Never import this module in tests; import `kiva_policies` instead.

The engine gets the policies wrapped by `engine_exceptions.engine_policies`: the reviewed exceptions of
`policies/exceptions/<stack>.yaml` waive what they waive offline, and `kiva-exceptions-valid` reports an
expired or malformed entry. The offline runner uses the unwrapped `pack.POLICIES` and waives post hoc.
"""

import sys
from pathlib import Path

# The pack's own virtualenv (requirements.txt) lacks `kiva_policies`: it sits next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kiva_policies.engine_exceptions import engine_policies
from kiva_policies.pack import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    policies=engine_policies(POLICIES),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="KIVA: EU data residency, telemetry off, retention and a hardened baseline.",
)
