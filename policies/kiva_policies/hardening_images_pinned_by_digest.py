"""kiva-images-pinned-by-digest: every image the plan names carries its manifest digest (`…@sha256:<64 hex>`).

A tag is a name the publisher (or anyone with push rights to the repository) can move: the same
`repository:tag` may pull different bytes tomorrow. A digest names the content itself, so the reviewed
plan is what runs (`kiva-hardening-container-image-pinned` only rules out moving tags such as `latest`).
Kubernetes pulls `repository:tag@sha256:…` by the digest and ignores the tag (kubernetes.io, "Images":
"Image names"). Checked: every container and init container of a pod template, and a CloudNativePG
`Cluster`'s `spec.imageName`. Images Helm charts render are not in the plan and not checked here.

The digests come from `scripts/pin_image_digests.py`, which asks each registry; a stack whose digests are
not resolved yet carries a reviewed, expiring exception (`policies/exceptions/<stack>.yaml`).
"""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import CNPG_CLUSTER, MANDATORY, containers, display_name, get, pod_spec

#: `@sha256:` and 64 lowercase hex digits at the end of the reference (OCI image spec, descriptor.md,
#: "Digests": the sha256 algorithm's encoded part is `[a-f0-9]{64}`).
PINNED = re.compile(r"@sha256:[a-f0-9]{64}$")
FIX = "run scripts/pin_image_digests.py (with registry access) so that it is rendered as `repository:tag@sha256:…`"


def _problem(image: str) -> str | None:
    if PINNED.search(image):
        return None
    if "@" in image:
        return f"image '{image}' has a digest that is not `sha256:` and 64 lowercase hex digits"
    return f"image '{image}' is pinned by tag only, not by digest"


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == CNPG_CLUSTER:
        image = get(args.props, "spec", "imageName")
        problem = _problem(image) if isinstance(image, str) and image else None
        if problem:
            report(f"Database cluster '{display_name(args.props, args.name)}': {problem}; {FIX}.", None)
        return
    spec = pod_spec(args.resource_type, args.props)
    workload = display_name(args.props, args.name)
    for ref in containers(spec):
        problem = _problem(ref.image) if ref.image else None
        if problem:
            report(f"Container '{ref.name}' of {workload}: {problem}; {FIX}.", None)


images_pinned_by_digest = ResourceValidationPolicy(
    name="kiva-images-pinned-by-digest",
    description="Every container image and database image the plan names is pinned by its sha256 digest.",
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [images_pinned_by_digest]
