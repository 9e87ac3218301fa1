"""Refuse to build a regular wheel of this project: KIVA is a Pulumi program run from its checkout.

A wheel would install the generic top-level packages `infra` and `components` into site-packages,
where they can shadow or be shadowed by other distributions. The editable install (`uv sync`, which
`pulumi install` runs, or `pip install -e .`) only adds the checkout and `policies/` to `sys.path`
through a `.pth` file, which is what the `kiva` command and `pulumi up` need.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class EditableOnly(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version != "editable":
            raise SystemExit(
                "kiva-platform is not installed as a package: run it from its checkout "
                "(`uv sync`, or `pip install -e .`), as docs/architecture.md explains."
            )
