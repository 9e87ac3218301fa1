"""kiva-hardening-container-uid-high: containers run with a user ID of at least 10000.

Low UIDs collide with users of the node (system accounts, the first human user 1000): a container that
escapes runs as someone the host knows. checkov's CKV_K8S_40 and the CIS guidance ask for `runAsUser`
≥ 10000; the container's `securityContext.runAsUser` overrides the pod's, as in Kubernetes.
"""

from __future__ import annotations

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from kiva_policies.base import MANDATORY, containers, display_name, get, is_number, pod_spec, settings

SCHEMA = PolicyConfigSchema(
    properties={
        "minUid": {
            "type": "integer",
            "default": 10000,
            "description": "The lowest user ID a container may run as.",
        },
    }
)


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    minimum = settings(args, SCHEMA)["minUid"]
    workload = display_name(args.props, args.name)
    for ref in containers(spec):
        uid = get(
            ref.container, "securityContext", "runAsUser", default=get(spec, "securityContext", "runAsUser")
        )
        if not is_number(uid):
            found = "sets no `runAsUser` (the image's user applies)"
        elif uid < minimum:
            found = f"runs as user {uid}"
        else:
            continue
        report(
            f"Container '{ref.name}' of {workload} {found}; set `runAsUser` to {minimum} or more so that it "
            "shares no user ID with the node.",
            None,
        )


container_uid_high = ResourceValidationPolicy(
    name="kiva-hardening-container-uid-high",
    description="Every container of the platform's pods runs with a user ID of at least 10000.",
    validate=_check,
    enforcement_level=MANDATORY,
    config_schema=SCHEMA,
)

POLICIES = [container_uid_high]
