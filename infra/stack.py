"""The KIVA platform as one function: validated settings in, registered resources and outputs out.

`pulumi up` (through `infra/__main__.py`) and `kiva plan` (under the mock engine) both call
`build_stack`, so the offline plan is the real program.
"""

from __future__ import annotations

import pulumi

from components.foundation import build_foundation
from components.platform.assembly import platform_args
from components.platform.platform import Platform
from infra.settings import StackSettings


def build_stack(settings: StackSettings) -> dict[str, pulumi.Output]:
    """Register the cloud layer, then the platform on top of it; return the stack outputs."""
    config = pulumi.Config("kiva")
    foundation = build_foundation(settings, config)
    platform = Platform(
        "kiva",
        platform_args(settings, foundation),
        opts=pulumi.ResourceOptions(providers=[foundation.kubernetes], depends_on=foundation.depends_on),
    )
    return {**foundation.outputs, **platform.outputs}
