"""`kiva-secrets-table-by-reference`: the secrets table's keys are produced and only read by reference.

The committed plans pass; copies with one resource changed (a literal env value, a ConfigMap key, a
Secret nothing produces) fail with the exact message. The annotation the policy reads lists exactly
the Secret keys of the table's rows stored on the stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kiva_policies.runner import PlannedResource
from kiva_policies.secret_references import EXTERNAL_SECRET, SECRET, SECRET_KEYS_ANNOTATION

from components.platform.assembly import declared_secret_keys
from infra.offline.engine import Plan
from infra.settings import StackSettings, load_settings
from infra.settings.secrets_table import stored_secrets
from tests.conftest import STACKS, stack_config, stack_file_with
from tests.policies.day_one.plans import (
    DEPLOYMENT,
    by_type_and_name,
    find,
    findings,
    mutate,
    resources_of,
    without,
)

POLICY = "kiva-secrets-table-by-reference"
NAMESPACE = "kubernetes:core/v1:Namespace"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
GATEWAY = by_type_and_name(DEPLOYMENT, "kiva-gateway")


def messages(resources: list[PlannedResource]) -> list[str]:
    return [f.message for f in findings(resources, POLICY)]


def declared(resources: list[PlannedResource]) -> list[dict[str, str]]:
    namespace = find(resources, by_type_and_name(NAMESPACE, "kiva"))
    return json.loads(namespace.props["metadata"]["annotations"][SECRET_KEYS_ANNOTATION])


def set_env(name: str, entry: dict[str, Any]) -> Callable[[dict], None]:
    """Replace the gateway container's env var `name` with `{"name": name, **entry}`."""

    def change(props: dict) -> None:
        env = props["spec"]["template"]["spec"]["containers"][0]["env"]
        index = next(i for i, e in enumerate(env) if e["name"] == name)
        env[index] = {"name": name, **entry}

    return change


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_plans_pass(stack: str) -> None:
    resources = resources_of(stack)
    assert declared(resources), "the platform namespace declares no secret keys: the check would be vacuous"
    assert findings(resources, POLICY) == []


def test_a_literal_env_value_for_a_declared_key_is_a_violation() -> None:
    plan = mutate(resources_of("dev"), GATEWAY, set_env("LITELLM_MASTER_KEY", {"value": "sk-1234"}))
    assert messages(plan) == [
        "Container 'litellm' of Deployment kiva/kiva-gateway: env `LITELLM_MASTER_KEY` holds a secret of the "
        "secrets table but is set from a literal value; read it with `valueFrom.secretKeyRef` from "
        "kiva-gateway/LITELLM_MASTER_KEY."
    ]


def test_a_pulumi_secret_inlined_as_env_value_is_still_a_literal() -> None:
    plan = mutate(resources_of("local"), GATEWAY, set_env("LITELLM_SALT_KEY", {"value": "[secret]"}))
    assert [m.split(": env ")[1] for m in messages(plan)] == [
        "`LITELLM_SALT_KEY` holds a secret of the secrets table but is set from a literal value; read it with "
        "`valueFrom.secretKeyRef` from kiva-gateway/LITELLM_SALT_KEY."
    ]


@pytest.mark.parametrize(
    ("source", "how"),
    [
        (
            {"configMapKeyRef": {"name": "kiva-gateway-config", "key": "LITELLM_MASTER_KEY"}},
            "a ConfigMap key",
        ),
        (
            {"secretKeyRef": {"name": "kiva-gateway", "key": "LITELLM_SALT_KEY"}},
            "the Secret key kiva-gateway/LITELLM_SALT_KEY, which is not declared for it",
        ),
    ],
)
def test_a_declared_key_from_elsewhere_is_a_violation(source: dict, how: str) -> None:
    plan = mutate(resources_of("dev"), GATEWAY, set_env("LITELLM_MASTER_KEY", {"valueFrom": source}))
    assert messages(plan) == [
        "Container 'litellm' of Deployment kiva/kiva-gateway: env `LITELLM_MASTER_KEY` holds a secret of the "
        f"secrets table but is set from {how}; read it with `valueFrom.secretKeyRef` from "
        "kiva-gateway/LITELLM_MASTER_KEY."
    ]


def test_a_config_map_key_named_like_a_declared_key_is_a_violation() -> None:
    plan = mutate(
        resources_of("dev"),
        by_type_and_name(CONFIG_MAP, "kiva-gateway-config"),
        lambda props: props["data"].update(LITELLM_MASTER_KEY="sk-1234"),
    )
    assert messages(plan) == [
        "ConfigMap kiva/kiva-gateway-config has the data key `LITELLM_MASTER_KEY`, which holds a secret of the "
        "secrets table (kiva-gateway/LITELLM_MASTER_KEY); keep it only in that Secret and read it with "
        "`secretKeyRef`."
    ]


def test_a_declared_secret_that_nothing_produces_is_a_violation() -> None:
    """dev (Key Vault): the ExternalSecret is gone; local (inline): the Secret is gone."""
    dev = without(resources_of("dev"), by_type_and_name(EXTERNAL_SECRET, "kiva-huggingface"))
    assert messages(dev) == [
        "The platform declares the Secret kiva/kiva-huggingface (keys HF_TOKEN) in `kiva.platform/secret-keys`, "
        "but the plan has neither a Secret of that name nor an ExternalSecret targeting it; the workloads "
        "reading it would not start."
    ]
    local = without(resources_of("local"), by_type_and_name(SECRET, "kiva-db-backup"))
    assert messages(local) == [
        "The platform declares the Secret kiva/kiva-db-backup (keys ACCESS_KEY_ID, ACCESS_SECRET_KEY) in "
        "`kiva.platform/secret-keys`, but the plan has neither a Secret of that name nor an ExternalSecret "
        "targeting it; the workloads reading it would not start."
    ]


def test_an_external_secret_without_a_declared_key_is_a_violation() -> None:
    def drop_salt(props: dict) -> None:
        del props["spec"]["target"]["template"]["data"]["LITELLM_SALT_KEY"]

    plan = mutate(resources_of("dev"), by_type_and_name(EXTERNAL_SECRET, "kiva-gateway"), drop_salt)
    assert messages(plan) == [
        "The platform declares the keys LITELLM_SALT_KEY of the Secret kiva/kiva-gateway, but what produces it "
        "in the plan writes only DATABASE_URL, LITELLM_MASTER_KEY, REDIS_PASSWORD, password."
    ]


def test_an_external_secret_targeting_a_config_map_does_not_produce_the_secret() -> None:
    def to_config_map(props: dict) -> None:
        props["spec"]["target"]["manifest"] = {"apiVersion": "v1", "kind": "ConfigMap"}

    plan = mutate(resources_of("dev"), by_type_and_name(EXTERNAL_SECRET, "kiva-huggingface"), to_config_map)
    assert [m.split(" (keys")[0] for m in messages(plan)] == [
        "The platform declares the Secret kiva/kiva-huggingface"
    ]


def test_a_malformed_annotation_is_a_violation_with_an_example() -> None:
    def spoil(props: dict) -> None:
        props["metadata"]["annotations"][SECRET_KEYS_ANNOTATION] = '{"kiva-gateway": "LITELLM_MASTER_KEY"}'

    plan = mutate(resources_of("dev"), by_type_and_name(NAMESPACE, "kiva"), spoil)
    assert messages(plan) == [
        "Namespace kiva: the annotation `kiva.platform/secret-keys` must be a JSON list of {secret, key} "
        'objects, e.g. [{"secret":"kiva-gateway","key":"LITELLM_MASTER_KEY"}].'
    ]


# --- the annotation is the table -----------------------------------------------------------------------


def settings_of(stack: str, **overrides: Any) -> StackSettings:
    """A committed stack's settings, with its committed secure keys set."""
    stack_file = stack_file_with(stack)
    secure = {key.removeprefix("kiva:") for key in stack_file.secret_keys}
    config = {
        key.removeprefix("kiva:"): value
        for key, value in stack_config(stack).items()
        if key.startswith("kiva:") and key.removeprefix("kiva:") not in secure
    }
    config.update(overrides)
    return load_settings(config, secure, f"Pulumi.{stack}.yaml")


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (
            "dev",
            [
                ("kiva-gateway", "LITELLM_MASTER_KEY"),
                ("kiva-gateway", "LITELLM_SALT_KEY"),
                ("kiva-db-app", "password"),
                ("kiva-gateway", "password"),
                ("kiva-huggingface", "HF_TOKEN"),
                ("kiva-redis", "REDIS_PASSWORD"),  # dev's gateway scales to 2: it has Redis
                ("kiva-gateway", "REDIS_PASSWORD"),
            ],
        ),
        (
            "local",  # an existing cluster backing up to S3: the backup store's keys are secrets too
            [
                ("kiva-gateway", "LITELLM_MASTER_KEY"),
                ("kiva-gateway", "LITELLM_SALT_KEY"),
                ("kiva-db-app", "password"),
                ("kiva-gateway", "password"),
                ("kiva-db-backup", "ACCESS_KEY_ID"),
                ("kiva-db-backup", "ACCESS_SECRET_KEY"),
            ],
        ),
    ],
)
def test_the_annotation_lists_the_stored_rows_of_the_table(
    stack: str, expected: list[tuple[str, str]], plan_of: Callable[[str], Plan]
) -> None:
    from_table = [(w.secret, w.key) for row in stored_secrets(settings_of(stack)) for w in row.lands_in]
    assert from_table == expected
    namespace = next(r for r in plan_of(stack).of_type(NAMESPACE) if r.inputs["metadata"]["name"] == "kiva")
    annotation = json.loads(namespace.inputs["metadata"]["annotations"][SECRET_KEYS_ANNOTATION])
    assert [(item["secret"], item["key"]) for item in annotation] == expected


def test_a_stored_token_no_model_needs_is_not_declared() -> None:
    """A Hugging Face token without a gated model goes to the store but into no Kubernetes Secret."""
    models = [{**model, "gated": False} for model in stack_config("dev")["kiva:models"]]
    settings = settings_of("dev", models=models)
    assert "huggingface-token" in {row.name for row in stored_secrets(settings)}
    assert ("kiva-huggingface", "HF_TOKEN") not in [
        (k["secret"], k["key"]) for k in declared_secret_keys(settings)
    ]
