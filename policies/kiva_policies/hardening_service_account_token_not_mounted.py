"""kiva-hardening-service-account-token-not-mounted: pods that never call the API server get no token.

None of the platform's pods talks to the Kubernetes API (the gateway serves HTTP and reads its config
from a file, vLLM serves models, the database operator runs its own pods): a mounted service-account
token would only be something to steal (BSI APP.4.4.A9, CIS Kubernetes 5.1.6). The pod spec must say
`automountServiceAccountToken: false`; Kubernetes' default mounts the token
(kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/).
"""

from __future__ import annotations

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from kiva_policies.base import MANDATORY, display_name, get, pod_spec, settings, string_list

SCHEMA = PolicyConfigSchema(
    properties={
        "exemptWorkloads": string_list(
            "Workloads (`namespace/name`) that call the API server and need their token, on record.", []
        ),
    }
)


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    workload = display_name(args.props, args.name)
    if workload in settings(args, SCHEMA)["exemptWorkloads"]:
        return
    if get(spec, "automountServiceAccountToken") is not False:
        report(
            f"{workload} mounts a service-account token it does not need (`automountServiceAccountToken` is "
            "not false in its pod spec). Set `automountServiceAccountToken: false`.",
            None,
        )


service_account_token_not_mounted = ResourceValidationPolicy(
    name="kiva-hardening-service-account-token-not-mounted",
    description=(
        "Every pod the platform registers sets automountServiceAccountToken to false, because none of them "
        "calls the Kubernetes API."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
    config_schema=SCHEMA,
)

POLICIES = [service_account_token_not_mounted]
