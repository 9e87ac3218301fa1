"""Fixtures: run the real program for any stack configuration under the mock engine.

`plan_of("dev")` plans a committed stack; `plan_with("dev", {"kiva:gateway": {...}})` plans it with
top-level keys replaced (or removed with `None`). Both return `infra.offline.engine.Plan`, whose
`resources` hold every registration with its camelCase inputs.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from infra.offline.engine import Plan, run_program
from infra.offline.stackfile import StackFile, placeholder_secret, read_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod", "local")


@cache
def committed_stack_file(stack: str) -> StackFile:
    return read_stack_file(PROJECT_DIR, stack)


@cache
def _committed_plan(stack: str) -> Plan:
    return run_program(committed_stack_file(stack))


def stack_config(stack: str) -> dict[str, Any]:
    """The committed stack's `kiva:` values, parsed (a deep copy, safe to mutate)."""
    config = committed_stack_file(stack).config
    return {key: copy.deepcopy(_parse(value)) for key, value in config.items()}


def _parse(value: str) -> Any:
    return json.loads(value) if value[:1] in "{[" else value


def stack_file_with(
    stack: str, overrides: dict[str, Any] | None = None, secrets: tuple[str, ...] = ()
) -> StackFile:
    """The committed stack file with top-level keys replaced (value) or removed (None), secrets added."""
    base = committed_stack_file(stack)
    config = dict(base.config)
    secret_keys = set(base.secret_keys)
    for key, value in (overrides or {}).items():
        if value is None:
            config.pop(key, None)
            secret_keys.discard(key)
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    for key in secrets:
        config[key] = placeholder_secret(key)
        secret_keys.add(key)
    return replace(base, config=config, secret_keys=frozenset(secret_keys))


@pytest.fixture
def plan_of() -> Callable[[str], Plan]:
    """Plan of a committed stack (cached: treat it as read-only)."""
    return _committed_plan


@pytest.fixture
def plan_with() -> Callable[..., Plan]:
    """Plan of a committed stack with some top-level config keys replaced."""

    def plan(stack: str, overrides: dict[str, Any] | None = None, secrets: tuple[str, ...] = ()) -> Plan:
        return run_program(stack_file_with(stack, overrides, secrets))

    return plan
