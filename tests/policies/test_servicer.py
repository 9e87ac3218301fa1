"""The pack under Pulumi's own policy servicer (what `pulumi preview --policy-pack` talks to over gRPC).

`PolicyPack(...)` would start a server and block, so the servicer class it wraps is driven directly:
the policy metadata and config schemas must serialize, `--policy-pack-config` arrives through
`Configure` (numbers become floats), and props arrive as protobuf Structs.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from kiva_policies.pack import PACK_NAME, POLICIES
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from tests.policies.harness import UNKNOWN, compliant_plan


def _servicer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", POLICIES, EnforcementLevel.MANDATORY)


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


def _request(name: str) -> Any:
    resource = next(r for r in compliant_plan() if r.name == name)
    return resource, _struct(resource.props)


def test_analyzer_info_lists_every_policy_with_its_schema() -> None:
    info = _servicer().GetAnalyzerInfo(None, None)
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]
    la = next(p for p in info.policies if p.name == "kiva-retention-log-analytics-days")
    assert la.configSchema.properties["maxDays"]["default"] == 90
    assert la.enforcementLevel == proto.MANDATORY


def test_analyze_reports_violations_and_unknowns_like_the_runner() -> None:
    servicer = _servicer()
    config = proto.PolicyConfig(enforcementLevel=proto.ADVISORY)
    config.properties.update({"minDays": 30, "maxDays": 60})
    servicer.Configure(
        proto.ConfigureAnalyzerRequest(policyConfig={"kiva-retention-log-analytics-days": config}), None
    )

    resource, props = _request("kiva-prod-logs")
    request = proto.AnalyzeRequest(type=resource.type, properties=props, urn=resource.urn, name=resource.name)
    response = servicer.Analyze(request, None)
    [diagnostic] = list(response.diagnostics)
    assert diagnostic.policyName == "kiva-retention-log-analytics-days"
    assert diagnostic.enforcementLevel == proto.ADVISORY
    assert "keeps logs 90 days, outside the allowed [30, 60]" in diagnostic.message

    resource, _ = _request("kiva-prod-aks")
    props = _struct({**resource.props, "disableLocalAccounts": UNKNOWN})
    request = proto.AnalyzeRequest(type=resource.type, properties=props, urn=resource.urn, name=resource.name)
    [diagnostic] = list(servicer.Analyze(request, None).diagnostics)
    assert "can't run policy 'kiva-hardening-aks-access-restricted'" in diagnostic.message


def test_analyze_stack_runs_the_stack_policies() -> None:
    resources = []
    for r in compliant_plan():
        props = dict(r.props)
        if r.name == "kiva-default-deny":
            props = {**props, "spec": {"podSelector": {"matchLabels": {"a": "b"}}}}
        resources.append(
            proto.AnalyzerResource(type=r.type, properties=_struct(props), urn=r.urn, name=r.name)
        )
    response = _servicer().AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    assert [d.policyName for d in response.diagnostics] == ["kiva-network-default-deny"]
