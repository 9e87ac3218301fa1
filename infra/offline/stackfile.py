"""Read a `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to a program, minus decryption."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.settings.loader import ConfigError


@dataclass(frozen=True)
class StackFile:
    """The config of one stack as the engine would pass it: every value a string, secrets marked."""

    path: Path
    stack: str
    project: str
    config: dict[str, str]
    """Full keys (`kiva:models`) to engine-style string values (structured values as JSON)."""
    secret_keys: frozenset[str]
    """Full keys that were `{secure: …}` in the file; their values are placeholders."""


def placeholder_secret(key: str) -> str:
    """What stands in for a secure value offline: recognisable, and never a real credential."""
    return f"offline-placeholder-{key.split(':', 1)[-1]}"


def _engine_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def read_stack_file(project_dir: Path, stack: str) -> StackFile:
    """Parse `Pulumi.yaml` and `Pulumi.<stack>.yaml`; raise `ConfigError` when either is unusable."""
    source = f"Pulumi.{stack}.yaml"
    project_file = project_dir / "Pulumi.yaml"
    stack_file = project_dir / source
    try:
        project = yaml.safe_load(project_file.read_text(encoding="utf-8"))["name"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise ConfigError("Pulumi.yaml", [f"cannot read the project file: {error}"]) from None
    if not stack_file.is_file():
        stacks = sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml")
        )
        raise ConfigError(source, [f"no such stack file; stacks here: {', '.join(stacks) or 'none'}"])
    try:
        document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(source, [f"not valid YAML: {error}"]) from None
    raw = document.get("config") or {} if isinstance(document, dict) else None
    if not isinstance(raw, dict):
        raise ConfigError(source, ["`config:` must be a mapping of keys to values"])
    config: dict[str, str] = {}
    secrets: set[str] = set()
    for key, value in raw.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.add(full_key)
            config[full_key] = placeholder_secret(full_key)
        else:
            config[full_key] = _engine_string(value)
    return StackFile(stack_file, stack, project, config, frozenset(secrets))
