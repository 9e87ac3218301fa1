"""Turn the raw `kiva:` config of a stack into `StackSettings`, or into messages a person can act on.

Every message names the stack file, the key path and what is allowed, e.g.
`Pulumi.prod.yaml: kiva:models[1].gpus: must be at least 1 (got 0)`.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from infra.settings.secrets_table import FIXED_SECRET_KEYS
from infra.settings.stack import StackSettings

NAMESPACE = "kiva"


class ConfigError(Exception):
    """The stack configuration is invalid; `str()` is the complete, user-facing message."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def parse_value(value: Any) -> Any:
    """Config values arrive as strings from the engine; structured ones are JSON."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_settings(raw: Mapping[str, Any], secret_keys: Iterable[str], source: str) -> StackSettings:
    """Validate the `kiva:` values (keys without the namespace) of one stack.

    `secret_keys` names the values that were set with `--secret`; their contents are never looked at
    here, only whether a secret the configuration needs is present and actually secret.
    """
    secrets = set(secret_keys)
    plain = {key: parse_value(value) for key, value in raw.items() if key not in secrets}
    problems = [
        f"{NAMESPACE}:{key}: holds a secret; set it with `pulumi config set --secret {NAMESPACE}:{key} …`"
        for key in plain
        if key in FIXED_SECRET_KEYS
    ]
    if problems:
        raise ConfigError(source, problems)
    try:
        settings = StackSettings.model_validate(plain, context={"secret_keys": frozenset(secrets)})
    except ValidationError as error:
        raise ConfigError(source, [_describe(e) for e in error.errors(include_url=False)]) from None
    unknown = sorted(secrets - settings.allowed_secret_keys)
    if unknown:
        raise ConfigError(
            source,
            [
                f"{NAMESPACE}:{key}: unknown secret; known: {', '.join(sorted(settings.allowed_secret_keys))}"
                for key in unknown
            ],
        )
    return settings


_MESSAGES: dict[str, str] = {
    "missing": "required key is missing",
    "greater_than_equal": "must be at least {ge} (got {input})",
    "less_than_equal": "must be at most {le} (got {input})",
    "greater_than": "must be greater than {gt} (got {input})",
    "less_than": "must be less than {lt} (got {input})",
    "literal_error": "must be one of {expected} (got {input!r})",
    "string_pattern_mismatch": "must match {pattern} (got {input!r})",
    "string_too_short": "must have at least {min_length} characters",
    "too_short": "must have at least {min_length} entries",
    "too_long": "must have at most {max_length} entries",
    "int_parsing": "must be a whole number (got {input!r})",
    "int_type": "must be a whole number (got {input!r})",
    "int_from_float": "must be a whole number (got {input!r})",
    "float_parsing": "must be a number (got {input!r})",
    "float_type": "must be a number (got {input!r})",
    "bool_parsing": "must be true or false (got {input!r})",
    "bool_type": "must be true or false (got {input!r})",
    "string_type": "must be a string (got {input!r}; quote it in YAML)",
    "list_type": "must be a list (got {input!r})",
    "dict_type": "must be a mapping of keys to values (got {input!r})",
    "model_type": "must be a mapping of keys (got {input!r})",
    "model_attributes_type": "must be a mapping of keys (got {input!r})",
    "union_tag_invalid": "provider must be one of {expected_tags} (got {tag})",
    "union_tag_not_found": "set provider: azure or existing",
    "url_parsing": "must be a URL such as https://s3.example.eu (got {input!r})",
    "url_scheme": "must be an http(s) URL (got {input!r})",
}


def _describe(error: Mapping[str, Any]) -> str:
    """One validation error as `kiva:<path>: <what is allowed>`."""
    loc = list(error["loc"])
    kind = error["type"]
    ctx = dict(error.get("ctx") or {})
    if kind == "kiva_rule":
        return f"{NAMESPACE}:{ctx['location']}: {ctx['message']}"
    tag = None
    if len(loc) > 1 and loc[0] == "cluster" and loc[1] in ("azure", "existing"):
        tag = loc.pop(1)  # the discriminator tag pydantic adds to the path
    path = _path(loc)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], tag)
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"{path}: unknown key{hint}"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    elif kind in _MESSAGES:
        message = _MESSAGES[kind].format(input=error.get("input"), **ctx)
    else:
        message = f"{error['msg']} (got {error.get('input')!r})"
    return f"{path}: {message}"


def _path(loc: list[Any]) -> str:
    text = NAMESPACE + ":"
    for index, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if index else "") + str(part)
    return text


def _allowed_keys(loc: list[Any], tag: str | None) -> list[str]:
    """The camelCase keys of the model at `loc`, by walking the model classes."""
    model: Any = StackSettings
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        model = _model_in(field.annotation, tag)
        if model is None:
            return []
    return sorted((f.alias or n) for n, f in model.model_fields.items() if not f.exclude)


def _model_in(annotation: Any, tag: str | None) -> type[BaseModel] | None:
    """The model class inside `list[X]`, `X | None`, `Annotated[...]`, or the cluster union member `tag`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0], tag)
    if origin in (list, typing.Union, types.UnionType):
        models = [m for a in typing.get_args(annotation) if (m := _model_in(a, tag))]
        if len(models) > 1:
            models = [m for m in models if typing.get_args(m.model_fields["provider"].annotation) == (tag,)]
        return models[0] if len(models) == 1 else None
    return None
