"""Reading registrations of the offline plan: secrets, types, one resource by type."""

from __future__ import annotations

from typing import Any

from infra.offline.engine import Plan, Registration

#: How the SDK marks a secret value in serialised inputs.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE and "value" in value


def unwrap(value: Any) -> Any:
    """The value inside a secret wrapper (or the value itself)."""
    return value["value"] if is_secret(value) else value


def azure_resources(plan: Plan) -> list[Registration]:
    return [r for r in plan.resources if r.type.startswith("azure-native:")]


def one(plan: Plan, type_token: str) -> Registration:
    found = plan.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, got {[r.name for r in found]}"
    return found[0]


def one_of(plan: Plan, type_token: str, component: str) -> Registration:
    """The one resource of `type_token` whose parent is a component of type `component`."""
    found = [r for r in plan.of_type(type_token) if parent_type(plan, r) == component]
    assert len(found) == 1, f"expected one {type_token} of {component}, got {[r.name for r in found]}"
    return found[0]


def parent_type(plan: Plan, registration: Registration) -> str:
    return next(r.type for r in plan.resources if r.urn == registration.parent)


def is_blinded(inputs: dict[str, Any], *path: str) -> bool:
    """Whether the value at `path` is secret, itself or through a secret enclosing object.

    The SDK turns a typed input object that contains a secret Output (e.g. `SecretPropertiesArgs`) into
    one secret Output, so `pulumi preview --json` blinds the whole object, `properties` included.
    """
    value: Any = inputs
    for key in path:
        if is_secret(value):
            return True
        value = value[key]
    return is_secret(value)


def dig(inputs: dict[str, Any], *path: str) -> Any:
    """The plain value at `path`, unwrapping secrets on the way."""
    value: Any = inputs
    for key in path:
        value = unwrap(unwrap(value)[key])
    return unwrap(value)
