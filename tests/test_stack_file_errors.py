"""What only the stack file shows: duplicate keys, keys outside `config:`, misspelt namespaces, ESC
environments and YAML 1.1 readings, each reported with the exact message `kiva plan` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.offline.stackfile import read_stack_file
from infra.settings import ConfigError
from tests.conftest import PROJECT_DIR

DEV = (PROJECT_DIR / "Pulumi.dev.yaml").read_text(encoding="utf-8")


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    (tmp_path / "Pulumi.t.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def _dev_with(old: str, new: str) -> str:
    assert old in DEV, old
    return DEV.replace(old, new, 1)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        read_stack_file(_project(tmp_path, text), "t")
    return str(caught.value)


def _line(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return lines[occurrence - 1]


def test_duplicate_top_level_config_key_names_both_lines(tmp_path):
    text = _dev_with("  kiva:jurisdiction: DE\n", "  kiva:jurisdiction: DE\n  kiva:region: westeurope\n")
    first, second = _line(text, "kiva:region:"), _line(text, "kiva:region:", 2)
    assert _error(tmp_path, text) == (
        f"Pulumi.t.yaml: config.kiva:region: duplicate key (lines {first} and {second}); YAML would keep "
        "only the last value and the Pulumi CLI refuses the file: remove one"
    )


def test_duplicate_nested_key_names_its_path(tmp_path):
    text = _dev_with("      minCount: 1\n", "      minCount: 1\n      minCount: 2\n")
    first = _line(text, "minCount: 1")
    assert _error(tmp_path, text) == (
        f"Pulumi.t.yaml: config.kiva:cluster.systemPool.minCount: duplicate key (lines {first} and {first + 1}); "
        "YAML would keep only the last value and the Pulumi CLI refuses the file: remove one"
    )


def test_merge_keys_are_not_duplicates(tmp_path):
    text = _dev_with(
        "  kiva:gateway:\n    minReplicas: 1\n    maxReplicas: 2\n",
        "  kiva:gateway:\n    <<: {minReplicas: 2}\n    minReplicas: 1\n    maxReplicas: 2\n",
    )
    stack = read_stack_file(_project(tmp_path, text), "t")
    gateway = json.loads(stack.config["kiva:gateway"])
    assert (gateway["minReplicas"], gateway["maxReplicas"]) == (1, 2)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "kiva:models:",
            "kivaa:models:",
            "config.kivaa:models: unknown namespace 'kivaa'; did you mean kiva:models? "
            "This project reads its settings only from kiva:",
        ),
        (
            "kiva:models:",
            "Kiva:models:",
            "config.Kiva:models: unknown namespace 'Kiva'; did you mean kiva:models? "
            "This project reads its settings only from kiva:",
        ),
        (
            "  kiva:jurisdiction: DE\n",
            "  kiva:jurisdiction: DE\n  jurisdiction: DE\n",
            "config.jurisdiction: the same key as config.kiva:jurisdiction (kiva:jurisdiction); remove one",
        ),
        (
            "  kiva:jurisdiction: DE\n",
            "  kiva:jurisdiction: DE\n  kiva:a:b: c\n",
            "config.kiva:a:b: not a configuration key; write it as kiva:<name>, e.g. kiva:region",
        ),
    ],
    ids=["kivaa", "Kiva", "bare-and-namespaced", "two-colons"],
)
def test_config_key_problems(tmp_path, old, new, message):
    assert _error(tmp_path, _dev_with(old, new)) == f"Pulumi.t.yaml: {message}"


def test_keys_outside_config_are_refused(tmp_path):
    text = DEV + "kiva:owner: platform\nconfiguration:\n  kiva:region: westeurope\n"
    assert _error(tmp_path, text) == (
        "Pulumi.t.yaml: kiva:owner: not a stack-file key; indent it under config: (Pulumi ignores a config "
        "key at the top level)\n"
        "Pulumi.t.yaml: configuration: not a stack-file key; did you mean config:? Pulumi reads only "
        "secretsprovider, encryptedkey, encryptionsalt, config, environment and ignores the rest"
    )


def test_esc_environment_is_refused_with_the_reason(tmp_path):
    assert _error(tmp_path, DEV + "environment:\n  - kiva/prod\n") == (
        "Pulumi.t.yaml: environment: Pulumi ESC environments are not supported: they need the Pulumi Cloud "
        "backend (`pulumi up` on a self-managed backend such as KIVA's EU state bucket fails with 'does not "
        "support environments'), and `kiva plan` cannot open them either; put the values under config: "
        "(secrets with `pulumi config set --secret`)"
    )


def test_known_stack_file_keys_are_accepted(tmp_path):
    text = "secretsprovider: passphrase\nencryptionsalt: v1:abc\n" + DEV
    assert read_stack_file(_project(tmp_path, text), "t").config["kiva:region"] == "germanywestcentral"


def test_bare_key_is_namespaced_with_the_project_like_pulumi(tmp_path):
    """pulumi/pulumi sdk/go/common/workspace/loaders.go `stackConfigNamespacedWithProject`."""
    text = _dev_with("kiva:jurisdiction: DE", "jurisdiction: DE")
    assert read_stack_file(_project(tmp_path, text), "t").config["kiva:jurisdiction"] == "DE"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "kiva:jurisdiction: DE",
            "kiva:jurisdiction: NO",
            'kiva:jurisdiction: YAML read `NO` as false; quote it: "NO"',
        ),
        (
            "kiva:region: germanywestcentral",
            "kiva:region: no",
            'kiva:region: YAML read `no` as false; quote it: "no"',
        ),
        (
            'kubernetesVersion: "1.34"',
            "kubernetesVersion: 1.30",
            'kiva:cluster.kubernetesVersion: YAML read `1.30` as 1.3; quote it: "1.30"',
        ),
        (
            'costCenter: "4711"',
            "costCenter: 1:30",
            'kiva:tags.costCenter: YAML read `1:30` as 90; quote it: "1:30"',
        ),
        (
            'costCenter: "4711"',
            "costCenter: 0777",
            'kiva:tags.costCenter: YAML read `0777` as 511; quote it: "0777"',
        ),
        (
            "    - name: llama-3-2-3b\n",
            "    - name: on\n",
            'kiva:models[0].name: YAML read `on` as true; quote it: "on"',
        ),
    ],
    ids=["NO-Norway", "region-no", "version-1.30", "sexagesimal", "octal", "name-on"],
)
def test_yaml_1_1_readings_of_string_settings_quote_what_was_written(tmp_path, old, new, message):
    assert _error(tmp_path, _dev_with(old, new)) == f"Pulumi.t.yaml: {message}"


def test_yaml_1_1_readings_of_boolean_and_number_settings_are_what_was_meant(tmp_path):
    text = _dev_with("  kiva:telemetry:\n    enabled: false", "  kiva:telemetry:\n    enabled: off")
    text = text.replace("      maxModelLen: 8192", "      maxModelLen: 0x2000")
    stack = read_stack_file(_project(tmp_path, text), "t")
    assert stack.config["kiva:telemetry"] == '{"enabled": false}'
    assert '"maxModelLen": 8192' in stack.config["kiva:models"]


def test_timestamp_like_scalar_stays_the_written_text(tmp_path):
    text = _dev_with('costCenter: "4711"', "costCenter: 2024-10-21")
    assert '"costCenter": "2024-10-21"' in read_stack_file(_project(tmp_path, text), "t").config["kiva:tags"]


def test_kiva_plan_prints_the_message_and_exits_2(tmp_path):
    project = _project(tmp_path, _dev_with("kiva:jurisdiction: DE", "kiva:jurisdiction: NO"))
    result = CliRunner().invoke(main, ["plan", "t", "--project-dir", str(project)])
    assert result.exit_code == 2
    assert 'Pulumi.t.yaml: kiva:jurisdiction: YAML read `NO` as false; quote it: "NO"' in result.output
    assert "Traceback" not in result.output
