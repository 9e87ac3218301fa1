"""kiva-hardening-no-host-access: the platform's own pods share nothing with their node.

A pod that mounts a `hostPath`, joins the node's network, PID or IPC namespace, or adds a Linux capability
can reach past its container (BSI APP.4.4.A4/SYS.1.6.A17 "restricted" Pod Security Standard; the fields
are those the standard forbids, kubernetes.io/docs/concepts/security/pod-security-standards/).

Scope: the workloads registered in the plan (gateway, model servers). Helm releases of vendor charts
(node-exporter, GPU operator) legitimately need host access; their rendered contents are not plan
resources and are not checked here.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY, as_list, containers, display_name, get, pod_spec

HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    workload = display_name(args.props, args.name)
    problems = [f"sets `{field}: true`" for field in HOST_NAMESPACES if get(spec, field) is True]
    for volume in as_list(get(spec, "volumes")):
        if get(volume, "hostPath") is not None:
            problems.append(
                f"mounts the node's path '{get(volume, 'hostPath', 'path')}' (volume '{get(volume, 'name')}')"
            )
    for ref in containers(spec):
        added = [str(c) for c in as_list(get(ref.container, "securityContext", "capabilities", "add"))]
        if added:
            problems.append(f"adds capabilities {', '.join(added)} to container '{ref.name}'")
    if problems:
        report(
            f"{workload} reaches into its node: it " + "; ".join(problems) + ". Remove host namespaces, "
            "`hostPath` volumes and `capabilities.add`.",
            None,
        )


no_host_access = ResourceValidationPolicy(
    name="kiva-hardening-no-host-access",
    description=(
        "No pod the platform registers uses the node's network, PID or IPC namespace, mounts a hostPath "
        "volume or adds a Linux capability."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [no_host_access]
