"""Secrets: Key Vault through External Secrets on Azure, plain Secrets otherwise; never in plain text."""

from __future__ import annotations

import json

import pytest

from components.contracts import EXTERNAL_SECRETS_NAMESPACE, EXTERNAL_SECRETS_SERVICE_ACCOUNT
from infra.offline.digest import SECRET, blind, is_secret
from tests.conftest import STACKS, _committed_plan
from tests.platform.conftest import VAULT_URL, _azure_plan, find, objects_of, one

PLACEHOLDER_FRAGMENTS = ("set-me", "sk-")


def _walk(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


def test_inline_secrets_are_pulumi_secrets():
    plan = _committed_plan("local")
    secrets = [r for r in plan.resources if r.type == "kubernetes:core/v1:Secret"]
    assert {r.inputs["metadata"]["name"] for r in secrets} == {
        "kiva-db-app",
        "kiva-gateway",
        "kiva-db-backup",
    }
    for secret in secrets:
        data = secret.inputs["stringData"]
        assert is_secret(data) or all(is_secret(v) or k in ("username", "REGION") for k, v in data.items())


def test_database_secret_is_basic_auth():
    plan = _committed_plan("local")
    secret = next(r for r in plan.resources if r.name == "kiva-secrets-kiva-db-app")
    assert secret.inputs["type"] == "kubernetes.io/basic-auth"
    assert secret.inputs["metadata"]["name"] == "kiva-db-app"
    assert is_secret(secret.inputs["stringData"]) or set(secret.inputs["stringData"]) == {
        "username",
        "password",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_in_plain_text(stack):
    """No secret value appears in any input other than a Secret's data, nor in an output."""
    plan = _committed_plan(stack)
    values = []
    for resource in plan.resources:
        if resource.type == "random:index/randomPassword:RandomPassword":
            values.append(resource.outputs.get("result", ""))
    values = [v for v in values if v]
    assert values, "expected generated secrets to look for"
    for resource in plan.resources:
        if resource.type == "kubernetes:core/v1:Secret":
            continue
        text = json.dumps(blind(resource.inputs))
        for value in values:
            assert value not in text, f"a secret value appears in {resource.type} {resource.name}"
    outputs = json.dumps(blind(plan.stack_outputs))
    assert not any(value in outputs for value in values)


@pytest.mark.parametrize("stack", STACKS)
def test_no_env_literal_looks_like_a_secret(stack):
    for deployment in find(objects_of(_committed_plan(stack)), "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if any(word in env["name"] for word in ("KEY", "TOKEN", "PASSWORD", "DATABASE_URL")):
                    assert "valueFrom" in env and "value" not in env, env["name"]
    for config_map in find(objects_of(_committed_plan(stack)), "ConfigMap"):
        assert SECRET not in json.dumps(config_map)


def test_key_vault_store_uses_workload_identity():
    objects = objects_of(_azure_plan("prod"))
    store = one(objects, "ClusterSecretStore", "kiva-keyvault")["spec"]
    azurekv = store["provider"]["azurekv"]
    assert azurekv["authType"] == "WorkloadIdentity"
    assert azurekv["vaultUrl"] == VAULT_URL
    assert azurekv["serviceAccountRef"] == {
        "name": EXTERNAL_SECRETS_SERVICE_ACCOUNT,
        "namespace": EXTERNAL_SECRETS_NAMESPACE,
    }
    account = one(objects, "ServiceAccount", EXTERNAL_SECRETS_SERVICE_ACCOUNT)
    assert "azure.workload.identity/client-id" in account["metadata"]["annotations"]


def test_external_secrets_create_what_the_workloads_read():
    objects = objects_of(_azure_plan("prod"))
    assert not find(objects, "Secret")
    external = {o["metadata"]["name"]: o["spec"] for o in find(objects, "ExternalSecret")}
    assert set(external) == {"kiva-db-app", "kiva-gateway", "kiva-huggingface", "kiva-redis"}
    database = external["kiva-db-app"]["target"]["template"]
    assert database["type"] == "kubernetes.io/basic-auth" and database["data"]["username"] == "litellm"
    gateway = external["kiva-gateway"]
    remote = {d["secretKey"]: d["remoteRef"]["key"] for d in gateway["data"]}
    assert remote["LITELLM_MASTER_KEY"] == "litellm-master-key"
    assert remote["PROVIDER_AZURE_OPENAI_EU_API_KEY"] == "provider-azure-openai-eu-api-key"
    url = gateway["target"]["template"]["data"]["DATABASE_URL"]
    assert url.startswith("postgresql://litellm:{{ .password | urlquery }}@kiva-db-pooler-rw.kiva.svc")


def test_database_url_quotes_the_password():
    from components.platform.secrets import _url_filler

    fill = _url_filler("postgresql://litellm:{password}@kiva-db-rw:5432/litellm")
    assert fill({"password": "a@b/c:d"}) == "postgresql://litellm:a%40b%2Fc%3Ad@kiva-db-rw:5432/litellm"
