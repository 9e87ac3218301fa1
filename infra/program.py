"""The Pulumi program: read the stack's `kiva:` config, validate it, build the stack, export outputs."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from infra.settings import StackSettings, load_settings
from infra.settings.loader import NAMESPACE, ConfigError
from infra.stack import build_stack


def read_runtime_config() -> tuple[dict[str, Any], set[str]]:
    """The `kiva:` values the engine handed to this program (keys without namespace) and the secret ones."""
    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    raw = {key.removeprefix(prefix): value for key, value in everything.items() if key.startswith(prefix)}
    secrets = {key for key in raw if runtime_config.is_config_secret(prefix + key)}
    return raw, secrets


def settings_from_engine() -> StackSettings:
    raw, secrets = read_runtime_config()
    return load_settings(raw, secrets, source=f"Pulumi.{pulumi.get_stack()}.yaml")


def run() -> None:
    """Entry point for `pulumi up` and `kiva plan`. A configuration error ends the run without a traceback."""
    try:
        settings = settings_from_engine()
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    for name, value in build_stack(settings).items():
        pulumi.export(name, value)
