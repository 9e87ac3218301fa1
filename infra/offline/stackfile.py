"""Read a `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to a program, minus decryption.

What only the file shows is checked here, with the line numbers a person needs: duplicate keys, keys
outside `config:`, a misspelt namespace, an ESC `environment:`, and the source text of scalars that
YAML 1.1 reads as booleans or numbers (the loader quotes it when such a value lands in a string field).
The values themselves are validated by `infra/settings/loader.py`, on this path and under `pulumi up`.

Upstream behaviour followed (pulumi/pulumi, sdk/go/common/workspace):
- `ProjectStack` (project.go) has exactly the keys `secretsprovider`, `encryptedkey`, `encryptionsalt`,
  `config` and `environment`; the CLI decodes the file with gopkg.in/yaml.v3, which ignores other keys
  (so a misplaced `kiva:region` or a `configuration:` block silently does nothing) and refuses duplicate
  mapping keys ("mapping key … already defined at line …", yaml.v3 decode.go `uniqueKeys`).
- A config key without a namespace is namespaced with the project name (loaders.go,
  `stackConfigNamespacedWithProject`): `region:` is `kiva:region`. Keys are `<namespace>:<name>`, or the
  old `<namespace>:config:<name>` (resource/config/key.go `ParseKey`).
- `environment:` needs a backend that implements ESC environments; any other backend fails with
  "does not support environments; Pulumi ESC environments require the Pulumi Cloud backend"
  (pkg/cmd/pulumi/config/io.go, `errBackendNoEnvironments`).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from infra.settings.loader import ConfigError, Loc, YamlScalar, yaml_surprises

#: The top-level keys of a stack file (pulumi/pulumi sdk/go/common/workspace/project.go `ProjectStack`).
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment")

_PLAIN_NON_STRING = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


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


class StackFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, made to refuse what the Pulumi CLI (Go yaml.v3) refuses and to remember
    what YAML 1.1 did to unquoted scalars.

    - Duplicate mapping keys are collected at construction (PyYAML would keep the last silently).
    - Every plain scalar resolved to a bool, int or float is recorded with its key path and source text.
    - Timestamps stay the text that was written (`apiVersion: 2024-10-21` is a string, not a date).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []
        self.scalars: dict[Loc, YamlScalar] = {}
        self._paths: dict[int, Loc] = {}

    def construct_document(self, node: Node) -> Any:
        self._index(node, ())
        return super().construct_document(node)

    def _index(self, node: Node, path: Loc) -> None:
        if id(node) in self._paths:
            return  # an alias: its node was indexed where the anchor is
        self._paths[id(node)] = path
        if isinstance(node, MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "?"
                self._index(value, (*path, name))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self._index(item, (*path, index))

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            line = key.start_mark.line + 1
            if key.value in seen:
                where = _dotted((*self._paths.get(id(node), ()), key.value))
                self.duplicates.append(
                    f"{where}: duplicate key (lines {seen[key.value]} and {line}); YAML would keep only the "
                    "last value and the Pulumi CLI refuses the file: remove one"
                )
            else:
                seen[key.value] = line
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if isinstance(node, ScalarNode) and node.style is None and node.tag == _TIMESTAMP:
            return node.value
        value = super().construct_object(node, deep=deep)
        if isinstance(node, ScalarNode) and node.style is None and node.tag in _PLAIN_NON_STRING:
            self.scalars[self._paths.get(id(node), ())] = YamlScalar(node.value, value)
        return value


def _dotted(path: Loc) -> str:
    """A path in the file, e.g. `config.kiva:cluster.systemPool.vmSize` or `config.kiva:models[0].name`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _engine_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _parse(text: str, source: str) -> tuple[Any, StackFileLoader]:
    loader = StackFileLoader(text)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        raise ConfigError(source, [f"not valid YAML: {error}"]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError(source, loader.duplicates)
    return document, loader


def _top_level_problems(document: dict[Any, Any]) -> list[str]:
    problems = []
    for key in document:
        name = str(key)
        if name == "environment":
            problems.append(
                "environment: Pulumi ESC environments are not supported: they need the Pulumi Cloud "
                "backend (`pulumi up` on a self-managed backend such as KIVA's EU state bucket fails with "
                "'does not support environments'), and `kiva plan` cannot open them either; put the "
                "values under config: (secrets with `pulumi config set --secret`)"
            )
        elif name not in STACK_FILE_KEYS:
            if ":" in name:
                hint = "indent it under config: (Pulumi ignores a config key at the top level)"
            else:
                close = difflib.get_close_matches(name, STACK_FILE_KEYS, n=1)
                hint = f"did you mean {close[0]}:? " if close else ""
                hint += f"Pulumi reads only {', '.join(STACK_FILE_KEYS)} and ignores the rest"
            problems.append(f"{name}: not a stack-file key; {hint}")
    return problems


def _full_key(key: str, project: str) -> str | None:
    """The `<namespace>:<name>` Pulumi makes of a config key, or None when it cannot parse it."""
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"  # stackConfigNamespacedWithProject
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"  # the old `<namespace>:config:<name>` form
    return None


def _config_key_problem(key: str, full_key: str | None, project: str) -> str | None:
    if full_key is None:
        return f"config.{key}: not a configuration key; write it as {project}:<name>, e.g. {project}:region"
    namespace = full_key.split(":", 1)[0]
    if namespace != project and (
        namespace.lower() == project.lower() or difflib.get_close_matches(namespace, [project], cutoff=0.75)
    ):
        name = full_key.split(":", 1)[1]
        return (
            f"config.{key}: unknown namespace {namespace!r}; did you mean {project}:{name}? "
            f"This project reads its settings only from {project}:"
        )
    return None


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
    document, loader = _parse(stack_file.read_text(encoding="utf-8"), source)
    document = document or {}
    if not isinstance(document, dict):
        raise ConfigError(source, ["must be a mapping with a config: block"])
    problems = _top_level_problems(document)
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        problems.append("config: must be a mapping of keys to values")
        raw = {}
    config: dict[str, str] = {}
    secrets: set[str] = set()
    scalars: dict[Loc, YamlScalar] = {}
    origin: dict[str, str] = {}
    for key, value in raw.items():
        full_key = _full_key(str(key), project)
        problem = _config_key_problem(str(key), full_key, project)
        if problem is not None or full_key is None:
            problems.append(problem or f"config.{key}: not a configuration key")
            continue
        if full_key in origin:
            problems.append(
                f"config.{key}: the same key as config.{origin[full_key]} ({full_key}); remove one"
            )
            continue
        origin[full_key] = str(key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.add(full_key)
            config[full_key] = placeholder_secret(full_key)
        else:
            config[full_key] = _engine_string(value)
        namespace, name = full_key.split(":", 1)
        if namespace == project:
            prefix: Loc = ("config", key)
            scalars.update({(name, *p[2:]): s for p, s in loader.scalars.items() if p[:2] == prefix})
    problems += yaml_surprises(scalars)
    if problems:
        raise ConfigError(source, problems)
    return StackFile(stack_file, stack, project, config, frozenset(secrets))
