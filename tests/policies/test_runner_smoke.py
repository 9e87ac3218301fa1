from kiva_policies.runner import PlannedResource, run_pack

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_unknown_location_is_not_verifiable_not_a_crash() -> None:
    urn = "urn:pulumi:dev::kiva::azure-native:resources:ResourceGroup::rg"
    report = run_pack(
        [PlannedResource(urn, "azure-native:resources:ResourceGroup", "rg", {"location": UNKNOWN})], {}
    )
    statuses = {f.status for f in report.findings if f.urn == urn}
    assert statuses == {"not-verifiable"}
    assert not report.mandatory_violations
