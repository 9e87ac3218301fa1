"""Exceptions as code under the real engine: the wrapped pack driven through Pulumi's own policy servicer.

`policies/__main__.py` hands `engine_policies(POLICIES)` to `PolicyPack`, which serves them through
`_PolicyAnalyzerServicer` (as `tests/policies/test_servicer.py` drives it). The engine calls `Configure`
with `--policy-pack-config`, `Analyze` per resource and `AnalyzeStack` once; every diagnostic it gets
back counts at its enforcement level. These tests make the same calls and check that the engine now
agrees with the offline runner (`runner.apply_exceptions`): waived findings vanish (a line on stderr says
why), others stay, expired or broken exception files are mandatory `kiva-exceptions-valid` violations.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2
from kiva_policies.base import engine_props
from kiva_policies.engine_exceptions import (
    STDERR_PREFIX,
    EngineExceptions,
    engine_policies,
    stack_of,
)
from kiva_policies.exceptions import EXCEPTIONS_DIR, load_exceptions
from kiva_policies.pack import PACK_NAME, POLICIES
from kiva_policies.runner import CONFIG_DIR, PlannedResource, apply_exceptions, resolve_config, run_pack
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, Policy, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from infra.offline.digest import preview_digest
from infra.offline.preview_file import planned_resources
from tests.policies.harness import compliant_plan, container, mutate, urn

DIGEST = "kiva-images-pinned-by-digest"
VALID = "kiva-exceptions-valid"
GATEWAY_URN = urn("kubernetes:apps/v1:Deployment", "kiva-gateway")
TAG_ONLY = "ghcr.io/berriai/litellm:v1.108.7"
GATEWAY_MESSAGE = (
    f"Container 'kiva-gateway' of kiva/kiva-gateway: image '{TAG_ONLY}' is pinned by tag only, not by digest; "
    "run scripts/pin_image_digests.py (with registry access) so that it is rendered as `repository:tag@sha256:…`."
)
TODAY = date(2026, 11, 27)
LEVELS = {
    "advisory": proto.ADVISORY,
    "mandatory": proto.MANDATORY,
    "disabled": proto.DISABLED,
    "remediate": proto.REMEDIATE,
}
Diagnostic = tuple[str, str, int, str]
"""(policy, URN the finding is about, enforcement level, message) of one diagnostic."""


def _entry(resource: str = GATEWAY_URN, policy: str = DIGEST, expires: str = "2027-03-31") -> dict[str, str]:
    return {
        "policy": policy,
        "resource": resource,
        "reason": "vendor publishes no digest yet",
        "owner": "platform-team@example.org",
        "ticket": "KIVA-99",
        "expires": expires,
    }


def _write(directory: Path, stack: str, document: Any) -> Path:
    path = directory / f"{stack}.yaml"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def _tag_only_plan() -> list[PlannedResource]:
    return mutate(compliant_plan(), "kiva-gateway", lambda props: container(props).update(image=TAG_ONLY))


def _servicer(policies: list[Policy], config: dict[str, Any] | None = None) -> _PolicyAnalyzerServicer:
    """The servicer `PolicyPack(policies=…)` builds, configured as the CLI configures it.

    The CLI sends each policy's level and its properties with the schema defaults filled in
    (`resolve_config` resolves them the same way).
    """
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies, EnforcementLevel.MANDATORY)
    if config is not None:
        request = proto.ConfigureAnalyzerRequest()
        for name, (level, props) in resolve_config(config).items():
            request.policyConfig[name].enforcementLevel = LEVELS[level]
            request.policyConfig[name].properties.update(props)
        servicer.Configure(request, None)
    return servicer


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(engine_props(props))
    return struct


def _options(resource: PlannedResource) -> Any:
    return proto.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent)


def _engine_run(servicer: _PolicyAnalyzerServicer, plan: list[PlannedResource]) -> list[Diagnostic]:
    """Every diagnostic of a preview: `Analyze` per resource, then `AnalyzeStack`."""
    found: list[Diagnostic] = []
    for r in plan:
        request = proto.AnalyzeRequest(
            type=r.type, properties=_struct(r.props), urn=r.urn, name=r.name, options=_options(r)
        )
        found += [
            (d.policyName, d.urn or r.urn, d.enforcementLevel, d.message)
            for d in servicer.Analyze(request, None).diagnostics
        ]
    resources = [
        proto.AnalyzerResource(
            type=r.type,
            properties=_struct(r.props),
            urn=r.urn,
            name=r.name,
            parent=r.parent,
            options=_options(r),
            dependencies=list(r.dependencies),
        )
        for r in plan
    ]
    response = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    found += [(d.policyName, d.urn, d.enforcementLevel, d.message) for d in response.diagnostics]
    return found


def _wrapped(directory: Path | None, today: date = TODAY) -> list[Policy]:
    return engine_policies(POLICIES, EngineExceptions([p.name for p in POLICIES], directory, lambda: today))


def _description(name: str) -> str:
    return next(p.description for p in POLICIES if p.name == name)


def _mandatory(found: list[Diagnostic]) -> list[tuple[str, str]]:
    return sorted((policy, target) for policy, target, level, _ in found if level == proto.MANDATORY)


# --- the wrapped pack --------------------------------------------------------------------------------


def test_wrapping_keeps_every_policy_as_the_engine_sees_it_and_adds_the_exceptions_check() -> None:
    wrapped = _wrapped(None)
    assert [p.name for p in wrapped] == [*(p.name for p in POLICIES), VALID]
    fields = (
        "name",
        "description",
        "enforcement_level",
        "config_schema",
        "display_name",
        "severity",
        "framework",
        "tags",
        "remediation_steps",
        "url",
    )
    for original, engine in zip(POLICIES, wrapped, strict=False):
        assert type(engine) is type(original)
        assert {f: getattr(engine, f) for f in fields} == {f: getattr(original, f) for f in fields}
    check = wrapped[-1]
    assert isinstance(check, StackValidationPolicy)
    assert check.enforcement_level == EnforcementLevel.MANDATORY
    # What the CLI reads from the pack: the same policies and schemas, plus the mandatory check.
    info = _servicer(wrapped).GetAnalyzerInfo(None, None)
    original_info = _servicer(POLICIES).GetAnalyzerInfo(None, None)
    assert list(info.policies)[:-1] == list(original_info.policies)
    assert (info.policies[-1].name, info.policies[-1].enforcementLevel) == (VALID, proto.MANDATORY)


def test_the_offline_runner_keeps_the_unwrapped_pack_and_reports_the_check_once(tmp_path: Path) -> None:
    assert VALID not in {p.name for p in POLICIES}
    assert all(isinstance(p, ResourceValidationPolicy | StackValidationPolicy) for p in POLICIES)
    path = _write(tmp_path, "prod", {"exceptions": [_entry(expires="2026-11-26")]})
    report = apply_exceptions(run_pack(_tag_only_plan(), {}), load_exceptions(path, TODAY, {DIGEST}))
    assert report.policies.count(VALID) == 1
    assert [f.policy for f in report.findings_of(VALID)] == [VALID]
    with pytest.raises(ValueError, match=f"^{VALID} is added by engine_policies"):
        engine_policies(_wrapped(None))


def test_stack_of_reads_the_stack_from_a_urn() -> None:
    assert stack_of(GATEWAY_URN) == "prod"
    assert stack_of("urn:pulumi:stackit-prod::kiva::kiva:platform:Gateway::kiva-gateway") == "stackit-prod"
    assert [stack_of(value) for value in ("", None, "kiva-gateway", "urn:pulumi:::kiva::x::y")] == [None] * 4


# --- waiving ------------------------------------------------------------------------------------------


def test_a_waived_violation_is_not_reported_and_a_line_on_stderr_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _tag_only_plan()
    unwrapped = _mandatory(_engine_run(_servicer(POLICIES), plan))
    assert unwrapped == [(DIGEST, GATEWAY_URN)]  # without the wrapper the engine would block

    path = _write(tmp_path, "prod", {"exceptions": [_entry()]})
    found = _engine_run(_servicer(_wrapped(tmp_path)), plan)
    assert found == []
    assert capsys.readouterr().err == (
        f"{STDERR_PREFIX} waived {DIGEST} on {GATEWAY_URN} ({path}): {GATEWAY_MESSAGE} -- accepted: vendor "
        "publishes no digest yet (owner platform-team@example.org, ticket KIVA-99, expires 2027-03-31)\n"
    )


@pytest.mark.parametrize(
    "entry",
    [
        _entry(resource=urn("kubernetes:apps/v1:Deployment", "llama-3-1-8b")),
        _entry(policy="kiva-hardening-aks-access-restricted"),
        _entry(resource="urn:pulumi:dev::kiva::*"),
    ],
    ids=["other-resource", "other-policy", "other-stack"],
)
def test_a_violation_no_exception_matches_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: dict[str, str]
) -> None:
    _write(tmp_path, "prod", {"exceptions": [entry]})
    found = _engine_run(_servicer(_wrapped(tmp_path)), _tag_only_plan())
    assert found == [(DIGEST, GATEWAY_URN, proto.MANDATORY, f"{_description(DIGEST)}\n{GATEWAY_MESSAGE}")]
    assert capsys.readouterr().err == ""


def test_without_a_file_the_wrapped_pack_reports_exactly_what_the_pack_reports(tmp_path: Path) -> None:
    plan = _tag_only_plan()
    config = json.loads((CONFIG_DIR / "prod.json").read_text(encoding="utf-8"))
    wrapped = _engine_run(_servicer(_wrapped(tmp_path), config), plan)
    assert wrapped == _engine_run(_servicer(POLICIES, config), plan)
    assert [d[0] for d in wrapped] == [DIGEST]


# --- the exceptions check -----------------------------------------------------------------------------


def test_an_expired_exception_waives_nothing_and_is_a_mandatory_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "prod", {"exceptions": [_entry(expires="2026-11-26")]})
    found = _engine_run(_servicer(_wrapped(tmp_path)), _tag_only_plan())
    problem = (
        f"{path}: exceptions[0]: exception for {DIGEST} on {GATEWAY_URN} (ticket KIVA-99) expired on 2026-11-26; "
        "renew it after review or remove it"
    )
    check = _wrapped(None)[-1].description
    assert found == [
        (DIGEST, GATEWAY_URN, proto.MANDATORY, f"{_description(DIGEST)}\n{GATEWAY_MESSAGE}"),
        (VALID, "", proto.MANDATORY, f"{check}\n{problem}"),
    ]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("exceptions: [unclosed", "not YAML: "),
        ("- policy: x\n", "must be a mapping with the single key `exceptions` (a list), e.g.\nexceptions:\n"),
        ("exceptions: {policy: x}\n", "exceptions: must be a list, got dict"),
    ],
    ids=["not-yaml", "a-list", "exceptions-not-a-list"],
)
def test_a_broken_file_is_a_mandatory_violation_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = _write(tmp_path, "prod", content)
    found = _engine_run(_servicer(_wrapped(tmp_path)), _tag_only_plan())
    assert [(policy, level) for policy, _, level, _ in found] == [
        (DIGEST, proto.MANDATORY),
        (VALID, proto.MANDATORY),
    ]
    message = found[1][3].split("\n", 1)[1]
    assert message.startswith(f"{path}: {problem}"), message


# --- prod's committed plan and exception ---------------------------------------------------------------

PROD_CONFIG = json.loads((CONFIG_DIR / "prod.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def prod() -> tuple[list[PlannedResource], list[tuple[str, str]]]:
    """Prod's committed plan as `kiva plan prod` checks it, and what the unwrapped pack blocks in it."""
    from tests.conftest import _committed_plan  # the `plan_of` fixture's cache (module scope needs it)

    plan = planned_resources(preview_digest(_committed_plan("prod")))
    return plan, _mandatory(_engine_run(_servicer(POLICIES, PROD_CONFIG), plan))


def _prod_offline(plan: list[PlannedResource], today: date) -> list[tuple[str, str]]:
    exceptions = load_exceptions(EXCEPTIONS_DIR / "prod.yaml", today, {p.name for p in POLICIES})
    report = apply_exceptions(run_pack(plan, PROD_CONFIG), exceptions)
    return sorted((f.policy, f.urn) for f in report.mandatory_violations)


def test_prod_passes_the_engine_while_its_exception_holds(
    prod: tuple[list[PlannedResource], list[tuple[str, str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    plan, blocked = prod
    assert blocked and {policy for policy, _ in blocked} == {DIGEST}  # what the engine blocked before

    found = _engine_run(_servicer(_wrapped(None, TODAY), PROD_CONFIG), plan)
    assert _mandatory(found) == [] == _prod_offline(plan, TODAY)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(blocked)
    assert all(
        line.startswith(f"{STDERR_PREFIX} waived {DIGEST} on urn:pulumi:prod::kiva::") for line in lines
    )
    assert all(
        line.endswith("(owner platform-team@example.org, ticket KIVA-15, expires 2027-05-31)")
        for line in lines
    )


def test_prod_is_blocked_by_the_engine_once_its_exception_expired(
    prod: tuple[list[PlannedResource], list[tuple[str, str]]],
) -> None:
    plan, blocked = prod
    found = _engine_run(_servicer(_wrapped(None, date(2027, 6, 1)), PROD_CONFIG), plan)
    assert _mandatory(found) == sorted([*blocked, (VALID, "")])
    assert _mandatory(found) == _prod_offline(plan, date(2027, 6, 1))  # engine and offline agree
    [expired] = [message for policy, _, _, message in found if policy == VALID]
    assert expired.endswith(
        f"{EXCEPTIONS_DIR / 'prod.yaml'}: exceptions[0]: exception for {DIGEST} on "
        "urn:pulumi:prod::kiva::kiva:platform:* (ticket KIVA-15) expired on 2027-05-31; renew it after review or "
        "remove it"
    )


def test_each_example_stack_has_its_own_reviewed_exception() -> None:
    """docs/forking.md: the example forks' production digests are waived like prod's, per stack."""
    examples = sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in (EXCEPTIONS_DIR.parent.parent / "examples").glob("*/Pulumi.*.yaml")
    )
    assert examples
    for stack in examples:
        exceptions = load_exceptions(EXCEPTIONS_DIR / f"{stack}.yaml", TODAY, {p.name for p in POLICIES})
        assert exceptions.problems == []
        [exception] = exceptions.active
        assert (exception.policy, exception.resource, exception.ticket, exception.expires) == (
            DIGEST,
            f"urn:pulumi:{stack}::kiva::kiva:platform:*",
            "KIVA-15",
            date(2027, 5, 31),
        )
