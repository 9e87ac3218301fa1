"""Every configuration error path: the message names the stack file, the key path and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from infra.offline.engine import run_program
from infra.settings import ConfigError, StackSettings, load_settings
from tests.conftest import stack_config, stack_file_with


def settings_of(stack: str, **overrides: Any) -> StackSettings:
    """Validate a committed stack's config with top-level keys (without `kiva:`) replaced."""
    config = {
        key.removeprefix("kiva:"): value
        for key, value in stack_config(stack).items()
        if key.startswith("kiva:")
    }
    secrets = {key.removeprefix("kiva:") for key in stack_file_with(stack).secret_keys}
    config.update(overrides)
    for key in [k for k, v in config.items() if v is None]:
        del config[key]
    return load_settings(config, secrets, f"Pulumi.{stack}.yaml")


def error_of(stack: str, **overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_of(stack, **overrides)
    return str(caught.value)


def models_with(stack: str, index: int, **changes: Any) -> list[dict[str, Any]]:
    models = stack_config(stack)["kiva:models"]
    models[index].update(changes)
    return models


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_stacks_are_valid(stack):
    settings = settings_of(stack)
    assert settings.models


def test_issue_example_message_for_a_model_with_zero_gpus():
    message = error_of("prod", models=models_with("prod", 1, gpus=0))
    assert message == "Pulumi.prod.yaml: kiva:models[1].gpus: must be at least 1 (got 0)"


def test_unknown_top_level_key_lists_the_allowed_keys():
    message = error_of("dev", gatway={"minReplicas": 2})
    assert message.startswith("Pulumi.dev.yaml: kiva:gatway: unknown key; allowed here: ")
    assert "gateway" in message and "models" in message


def test_unknown_nested_key_names_its_path_and_the_allowed_keys():
    message = error_of("dev", gateway={"minReplica": 2})
    assert "kiva:gateway.minReplica: unknown key; allowed here: " in message
    assert "minReplicas" in message


def test_unknown_key_inside_the_cluster_union_drops_the_discriminator_from_the_path():
    cluster = stack_config("dev")["kiva:cluster"] | {"enableEverything": True}
    message = error_of("dev", cluster=cluster)
    assert "kiva:cluster.enableEverything: unknown key" in message
    assert "kubernetesVersion" in message


def test_wrong_type_is_named():
    message = error_of("dev", gateway={"minReplicas": "two"})
    assert "kiva:gateway.minReplicas: must be a whole number (got 'two')" in message


def test_unquoted_kubernetes_version_asks_for_quotes():
    cluster = stack_config("dev")["kiva:cluster"] | {"kubernetesVersion": 1.34}
    assert "kiva:cluster.kubernetesVersion: must be a string (got 1.34; quote it in YAML)" in error_of(
        "dev", cluster=cluster
    )


def test_wrong_literal_lists_the_choices():
    message = error_of("dev", environment="staging")
    assert "kiva:environment: must be one of 'development' or 'production' (got 'staging')" in message


def test_unknown_cluster_provider():
    cluster = stack_config("dev")["kiva:cluster"] | {"provider": "gcp"}
    assert "kiva:cluster: provider must be one of 'azure', 'existing' (got gcp)" in error_of(
        "dev", cluster=cluster
    )


def test_missing_retention_is_required():
    assert "Pulumi.dev.yaml: kiva:retention: required key is missing" in error_of("dev", retention=None)


def test_retention_value_out_of_range():
    retention = stack_config("dev")["kiva:retention"] | {"keyVaultSoftDeleteDays": 120}
    assert "kiva:retention.keyVaultSoftDeleteDays: must be at most 90 (got 120)" in error_of(
        "dev", retention=retention
    )


def test_model_pool_must_exist():
    message = error_of("dev", models=models_with("dev", 0, pool="a100"))
    assert "kiva:models[0].pool: no GPU pool named 'a100' (pools: t4)" in message


def test_model_needs_enough_gpus_per_node():
    message = error_of("dev", models=models_with("dev", 0, gpus=2))
    assert "kiva:models[0].gpus: needs 2 GPUs on one node but pool 't4' nodes have 1" in message


def test_model_that_does_not_fit_the_gpu_memory_names_the_numbers():
    message = error_of("dev", models=models_with("dev", 0, parametersBillion=7.6))
    assert "kiva:models[0]: model 'llama-3-2-3b' (7.6B parameters, 15.2 GB of 16-bit weights" in message
    assert "1 × T4 (16 GB)" in message


def test_production_needs_two_gateway_replicas():
    gateway = stack_config("prod")["kiva:gateway"] | {"minReplicas": 1}
    assert "kiva:gateway.minReplicas: production needs at least 2 (got 1)" in error_of(
        "prod", gateway=gateway
    )


def test_production_api_server_is_never_open_to_the_internet():
    cluster = stack_config("prod")["kiva:cluster"]
    cluster["apiServer"] = {"private": False, "authorizedIpRanges": ["0.0.0.0/0"]}
    assert "kiva:cluster.apiServer.authorizedIpRanges: must not contain 0.0.0.0/0" in error_of(
        "prod", cluster=cluster
    )


def test_telemetry_cannot_be_switched_on_without_a_justification():
    message = error_of("dev", telemetry={"enabled": True})
    assert "kiva:telemetry: telemetry stays off unless overrideJustification explains" in message


def test_gated_model_needs_the_hugging_face_token():
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                k.removeprefix("kiva:"): v
                for k, v in stack_config("dev").items()
                if k.startswith("kiva:") and k != "kiva:huggingFaceToken"
            },
            set(),
            "Pulumi.dev.yaml",
        )
    assert "kiva:models: a gated model needs `pulumi config set --secret kiva:huggingFaceToken …`" in str(
        caught.value
    )


def test_secret_given_in_plain_text_is_refused():
    message = error_of("local", kubeconfig="apiVersion: v1")
    assert (
        "kiva:kubeconfig: holds a secret; set it with `pulumi config set --secret kiva:kubeconfig …`"
        in message
    )


def test_existing_cluster_needs_a_backup_object_store():
    assert "kiva:backups.objectStore: required on existing clusters" in error_of(
        "local", backups={"schedule": "0 0 3 * * *"}
    )


def test_several_problems_are_reported_together():
    message = error_of("dev", environment="staging", gateway={"minReplicas": 0})
    assert message.count("Pulumi.dev.yaml: ") == 2


def test_invalid_config_registers_nothing():
    """The program validates before it registers: a bad file yields no resource at all."""
    import pulumi

    bad = stack_file_with("dev", {"kiva:gateway": {"minReplicas": 0}})
    with pytest.raises(pulumi.RunError, match=r"kiva:gateway.minReplicas: must be at least 1 \(got 0\)"):
        run_program(bad)
