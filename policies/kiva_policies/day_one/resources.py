"""One view of a plan's resources for the day-one modules, whichever shape the caller hands over.

Policies get `PolicyResource`s (`resource_type`, proxied props, `parent`/`dependencies` as objects);
`kiva plan`'s summary gets the runner's `PlannedResource`s (`type`, plain props, URN strings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def type_of(resource: Any) -> str:
    return str(getattr(resource, "resource_type", None) or getattr(resource, "type", "") or "")


def props_of(resource: Any) -> Mapping[str, Any]:
    props = getattr(resource, "props", None)
    return props if isinstance(props, Mapping) else {}


def _urn(value: Any) -> str:
    return value if isinstance(value, str) else str(getattr(value, "urn", "") or "")


def parent_urn(resource: Any) -> str:
    return _urn(getattr(resource, "parent", None) or "")


def dependency_urns(resource: Any) -> list[str]:
    return [_urn(d) for d in getattr(resource, "dependencies", None) or () if _urn(d)]


def has_dependency_data(resources: Iterable[Any]) -> bool:
    """Whether the view carries dependencies at all (a bare list of props does not)."""
    return any(dependency_urns(r) or parent_urn(r) for r in resources)


def of_type(resources: Iterable[Any], *types: str) -> list[Any]:
    return [r for r in resources if type_of(r) in types]
