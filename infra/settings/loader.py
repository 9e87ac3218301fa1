"""Turn the raw `kiva:` config of a stack into `StackSettings`, or into messages a person can act on.

Every message names the stack file, the key path and what is allowed, e.g.
`Pulumi.prod.yaml: kiva:models[1].gpus: must be at least 1 (got 0)`. Everything that can be checked
on the values the engine hands to `pulumi up` is checked here (secrets in the right place, examples
for malformed values, the fields each provider kind needs); what only the file shows (duplicate keys,
keys outside `config:`, YAML 1.1 readings) is checked in `infra/offline/stackfile.py`, which hands the
source text of unquoted non-string scalars to `yaml_surprises` so messages quote what was written.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from infra.settings.secrets_table import FIXED_SECRET_KEYS
from infra.settings.stack import StackSettings

NAMESPACE = "kiva"

Loc = tuple[str | int, ...]
"""A key path below `kiva:`, e.g. `("models", 0, "servedName")`."""


class ConfigError(Exception):
    """The stack configuration is invalid; `str()` is the complete, user-facing message."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


@dataclass(frozen=True)
class YamlScalar:
    """A plain (unquoted) scalar that YAML 1.1 read as something other than a string."""

    text: str
    """What the file says, e.g. `NO`, `1:30`, `1.30`."""
    value: bool | int | float
    """What YAML made of it, e.g. `False`, `90`, `1.3`."""

    def problem(self) -> str:
        shown = json.dumps(self.value) if isinstance(self.value, bool) else repr(self.value)
        return f'YAML read `{self.text}` as {shown}; quote it: "{self.text}"'


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
    problems = _misplaced_secrets(plain, secrets)
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


def yaml_surprises(scalars: Mapping[Loc, YamlScalar]) -> list[str]:
    """The unquoted scalars YAML read as a boolean or number where the setting is a string.

    Where the setting is a boolean or number the reading is what was meant (`enabled: yes`), so only
    string fields are reported, quoting what the file says: `NO` (Norway) is not `false`.
    """
    return [
        f"{_path(list(loc))}: {scalar.problem()}" for loc, scalar in scalars.items() if _expects_string(loc)
    ]


def _misplaced_secrets(plain: Mapping[str, Any], secrets: set[str]) -> list[str]:
    """A secret where a plain setting belongs, and a plain value where a secret belongs.

    The secret's value is never part of a message. Provider API keys are named by
    `providers[].apiKeySecret`, read from the raw value so this works before validation.
    """
    settings_keys = {field.alias or name for name, field in StackSettings.model_fields.items()}
    problems = [
        f"{NAMESPACE}:{key}: is a secret, but {key} is a plain setting; set it without --secret: "
        f"`pulumi config set {NAMESPACE}:{key} …`"
        for key in sorted(secrets & settings_keys)
    ]
    problems += [
        f"{NAMESPACE}:{key}: holds a secret; set it with `pulumi config set --secret {NAMESPACE}:{key} …`"
        for key in plain
        if key in FIXED_SECRET_KEYS
    ]
    providers = plain.get("providers")
    for index, provider in enumerate(providers if isinstance(providers, list) else []):
        key = provider.get("apiKeySecret") if isinstance(provider, dict) else None
        if isinstance(key, str) and key in plain and key not in settings_keys:
            problems.append(
                f"{NAMESPACE}:{key}: holds the API key of providers[{index}] (apiKeySecret), but is a plain "
                f"value; set it with `pulumi config set --secret {NAMESPACE}:{key} …`"
            )
    return problems


_MESSAGES: dict[str, str] = {
    "missing": "required key is missing",
    "greater_than_equal": "must be at least {ge} (got {input})",
    "less_than_equal": "must be at most {le} (got {input})",
    "greater_than": "must be greater than {gt} (got {input})",
    "less_than": "must be less than {lt} (got {input})",
    "literal_error": "must be one of {expected} (got {input!r})",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
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

#: An example of a valid value for each `pattern=` in infra/settings whose field does not carry its
#: own (`Field(examples=[…])`). Messages show the example, never the regex; a test walks every model
#: and checks each pattern has an example that matches it.
PATTERN_EXAMPLES: dict[str, str] = {
    r"^[a-z0-9]([-a-z0-9./]{0,61}[a-z0-9])?$": "germanywestcentral",  # region
    r"^[A-Z]{2}$": "DE",  # jurisdiction
    r"^1\.[0-9]{2}(\.[0-9]+)?$": '"1.34"',  # Kubernetes version (quoted: 1.30 would be a number)
    r"^[+-][0-9]{2}:[0-9]{2}$": '"+01:00"',
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$": (
        "11111111-2222-3333-4444-555555555555"
    ),
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$": (
        "kiva.platform/gpu-pool"
    ),
    r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$": "a100",
    r"^[0-9]+(\.[0-9]+)?m?$": "500m",
    r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti)?$": "64Gi",
    r"^[a-z][a-z0-9]{0,11}$": "a100",
    r"^[0-9]{1,2}\.[0-9]$": '"8.0"',
    r"^[a-zA-Z][a-zA-Z0-9]{2,62}$": "azureOpenaiApiKey",
    r"^[A-Za-z0-9][\w.-]*/[\w.-]+$": "meta-llama/Llama-3.1-8B-Instruct",
    r"^[A-Za-z0-9][\w.:-]{0,127}$": "llama-3.1-8b-instruct",
    r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "kiva.example.de",
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$": "kiva-backups",
    r"^(\S+\s+){5}\S+$": '"0 0 2 * * *"',
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$": "podmonitors.monitoring.coreos.com",
    r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$": "s3-ca",  # Secret name
    r"^[-._a-zA-Z0-9]{1,253}$": "ca.crt",  # Secret key
}


def pattern_example(pattern: str) -> str | None:
    """The example shown for a value that does not match `pattern`: the field's own, else the table's."""
    for found, examples in pattern_fields():
        if found == pattern and examples:
            return str(examples[0])
    return PATTERN_EXAMPLES.get(pattern)


def pattern_fields(model: type[BaseModel] = StackSettings) -> Iterator[tuple[str, list[Any]]]:
    """`(pattern, examples)` of every constrained string in the configuration tree, nested ones included."""
    seen: set[type[BaseModel]] = set()

    def walk_annotation(annotation: Any, info: FieldInfo | None) -> Iterator[tuple[str, list[Any]]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from walk_model(annotation)
            return
        metadata = list(info.metadata) if info is not None else []
        examples = list(info.examples or []) if info is not None else []
        if typing.get_origin(annotation) is typing.Annotated:
            inner, *extra = typing.get_args(annotation)
            for item in extra:
                if isinstance(item, FieldInfo):
                    examples = list(item.examples or []) or examples
                    metadata += item.metadata
            yield from walk_annotation(inner, None)
        for item in metadata:
            pattern = getattr(item, "pattern", None)
            if isinstance(pattern, str):
                yield pattern, examples
        for arg in (
            typing.get_args(annotation) if typing.get_origin(annotation) is not typing.Annotated else ()
        ):
            yield from walk_annotation(arg, None)

    def walk_model(current: type[BaseModel]) -> Iterator[tuple[str, list[Any]]]:
        if current in seen:
            return
        seen.add(current)
        for field in current.model_fields.values():
            yield from walk_annotation(field.annotation, field)

    yield from walk_model(model)


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
    elif kind == "string_pattern_mismatch":
        example = _example_at(tuple(loc)) or pattern_example(str(ctx.get("pattern")))
        message = f"must look like {example} (got {error.get('input')!r})"
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


def _field(model: type[BaseModel], key: str) -> FieldInfo | None:
    return next((f for n, f in model.model_fields.items() if (f.alias or n) == key), None)


def _example_at(loc: Loc) -> str | None:
    """The `examples` of the field at `loc` (on the field, or on an `Annotated` string inside it)."""
    parent: list[Any] = [StackSettings]
    for part in loc[:-1]:
        parent = [a for annotation in parent for a in _step(annotation, part)]
    last = loc[-1] if loc else None
    for annotation in parent:
        candidates: list[Any] = []
        if isinstance(last, str) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = _field(annotation, last)
            if field is not None and field.examples:
                return str(field.examples[0])
        if last is not None:
            candidates = _step(annotation, last)
        for candidate in candidates:
            if (found := _annotated_example(candidate)) is not None:
                return found
    return None


def _annotated_example(annotation: Any) -> str | None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        for item in args[1:]:
            if isinstance(item, FieldInfo) and item.examples:
                return str(item.examples[0])
        return _annotated_example(args[0])
    if origin in (typing.Union, types.UnionType):
        return next((e for a in args if (e := _annotated_example(a)) is not None), None)
    return None


def _expects_string(loc: Loc) -> bool:
    """Whether the value at `loc` is a string (or one of some strings) in every model that has it."""
    annotations: list[Any] = [StackSettings]
    for part in loc:
        following: list[Any] = []
        for annotation in annotations:
            following += _step(annotation, part)
        annotations = following
    return bool(annotations) and all(_is_string(a) for a in annotations)


def _step(annotation: Any, part: str | int) -> list[Any]:
    """The annotations one key (or list index) below `annotation`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _step(args[0], part)
    if origin in (typing.Union, types.UnionType):
        return [a for arg in args for a in _step(arg, part)]
    if isinstance(part, int):
        return [args[0]] if origin is list else []
    if origin is dict:
        return [args[1]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = _field(annotation, part)
        return [field.annotation] if field is not None else []
    return []


def _is_string(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _is_string(args[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in args if a is not type(None)]
        return bool(kinds) and all(_is_string(a) for a in kinds)
    if origin is typing.Literal:
        return all(isinstance(a, str) for a in args)
    return annotation is str


def _allowed_keys(loc: list[Any], tag: str | None) -> list[str]:
    """The camelCase keys of the model at `loc`, by walking the model classes."""
    model: Any = StackSettings
    for part in loc:
        if isinstance(part, int):
            continue
        field = _field(model, part)
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
