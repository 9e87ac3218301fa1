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
    assert "kiva:models[0]: model 'llama-3-2-3b' needs 18.1 GB: 15.2 GB of 16-bit weights (7.6B" in message
    assert "1 × T4 (16 GB) at gpuMemoryUtilization 0.9 give 14.4 GB" in message


def test_max_model_len_counts_in_the_sizing_check():
    """A 3B model fits a T4 at 8192 tokens, but not with a 131072-token KV cache (issue: day one, 14)."""
    message = error_of("dev", models=models_with("dev", 0, maxModelLen=131072))
    assert "GB KV cache for one sequence of maxModelLen 131072" in message
    assert "Lower maxModelLen" in message


def test_gpus_are_summed_per_pool():
    """Two 1-GPU models on a pool of at most one 1-GPU node do not fit, though each alone does."""
    models = stack_config("dev")["kiva:models"]
    second = models[0] | {"name": "llama-b", "servedName": "llama-b"}
    pools = stack_config("dev")["kiva:gpuPools"]
    pools[0]["maxCount"] = 1
    message = error_of("dev", models=[*models, second], gpuPools=pools)
    assert "kiva:gpuPools[0].maxCount: pool 't4' needs 2 nodes of 1 GPU(s)" in message


def test_gpus_are_packed_per_node():
    """A 4-GPU and a 1-GPU replica need two 4-GPU nodes (5 GPUs), not one."""
    pools = [{"name": "big", "vmSize": "Standard_NC96ads_A100_v4", "minCount": 0, "maxCount": 1}]
    base = stack_config("prod")["kiva:models"][0] | {"pool": "big", "replicas": 1}
    models = [base | {"gpus": 4}, base | {"name": "small", "servedName": "small", "gpus": 1}]
    message = error_of("prod", models=models, gpuPools=pools)
    assert "pool 'big' needs 2 nodes of 4 GPU(s)" in message


def test_backup_region_must_be_in_the_eu():
    store = stack_config("local")["kiva:backups"]
    store["objectStore"]["region"] = "us-east-1"
    message = error_of("local", backups=store)
    assert "kiva:backups.objectStore.region: 'us-east-1' is in US, not an EU/EEA" in message


def test_monitoring_of_the_clusters_own_prometheus_needs_its_crds_declared():
    # The stack installs the Prometheus Operator's CRDs itself unless install: false (tests/monitoring).
    message = error_of("local", monitoring={"enabled": True, "install": False})
    assert "kiva:monitoring.install: the stack does not install the Prometheus Operator" in message


def test_ingress_class_without_controller_is_refused():
    gateway = stack_config("prod")["kiva:gateway"]
    gateway["ingress"] |= {"className": "nginx", "controllerNamespace": "ingress-nginx"}
    message = error_of("prod", gateway=gateway)
    assert "kiva:gateway.ingress.className: no controller serves ingress class 'nginx'" in message


def test_cluster_issuer_must_be_created_or_declared():
    gateway = stack_config("prod")["kiva:gateway"]
    gateway["ingress"]["internalCa"] = False
    message = error_of("prod", gateway=gateway)
    assert "kiva:gateway.ingress.clusterIssuer: no ClusterIssuer 'kiva-internal-ca'" in message


def test_region_with_a_space_is_refused():
    assert "kiva:region" in error_of("local", region="DE FRA")


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


def test_a_backup_schedule_cloudnative_pg_would_reject_is_refused_before_any_resource():
    """The schedule is parsed as CloudNativePG parses it (robfig/cron), not only counted in fields."""
    assert error_of("dev", backups={"schedule": "0 0 25 * * *"}) == (
        "Pulumi.dev.yaml: kiva:backups.schedule: '25' is outside the hour field's 0-23 in '0 0 25 * * *'; "
        'use a six-field cron such as "0 0 2 * * *" (every day at 02:00:00)'
    )
