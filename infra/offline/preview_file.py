"""Read a `pulumi preview --json` file (or `kiva plan --json` output) into what the policies check."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiva_policies.runner import PlannedResource


class PreviewFileError(Exception):
    """The file is not a preview in `PreviewDigest` shape; `str()` says why."""


def load_preview(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PreviewFileError(f"{path}: cannot read: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PreviewFileError(f"{path}: not JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        raise PreviewFileError(f"{path}: not a `pulumi preview --json` document (no `steps` list)")
    return document


def planned_resources(digest: Mapping[str, Any]) -> list[PlannedResource]:
    """The resources a preview would leave in place: each step's `newState` (deletes are skipped)."""
    resources = []
    for index, step in enumerate(digest.get("steps") or []):
        state = step.get("newState") if isinstance(step, Mapping) else None
        if not isinstance(state, Mapping):
            continue  # a delete, or a step of a shape this tool does not know
        urn = str(state.get("urn") or step.get("urn") or f"step-{index}")
        props = state.get("inputs")
        resources.append(
            PlannedResource(
                urn=urn,
                type=str(state.get("type") or ""),
                name=urn.rsplit("::", 1)[-1],
                props=dict(props) if isinstance(props, Mapping) else {},
                parent=str(state.get("parent") or ""),
                protect=bool(state.get("protect")),
                provider=str(state.get("provider") or ""),
                dependencies=tuple(str(d) for d in state.get("dependencies") or ()),
            )
        )
    return resources


def stack_of(digest: Mapping[str, Any]) -> str | None:
    """The stack named in the preview's URNs (`urn:pulumi:<stack>::<project>::…`)."""
    for step in digest.get("steps") or []:
        urn = step.get("urn") if isinstance(step, Mapping) else None
        if isinstance(urn, str) and urn.startswith("urn:pulumi:") and "::" in urn:
            return urn.removeprefix("urn:pulumi:").split("::", 1)[0]
    return None
