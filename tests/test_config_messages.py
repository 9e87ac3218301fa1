"""Messages of the loader, which `pulumi up` and `kiva plan` share: secrets in the wrong place, region and
jurisdiction, examples instead of regexes, and the keys each external provider kind needs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.platform.gateway_config import litellm_config
from infra.settings import ConfigError, StackSettings, load_settings
from infra.settings.loader import PATTERN_EXAMPLES, pattern_example, pattern_fields
from tests.conftest import committed_stack_file, stack_config


def _load(stack: str, secrets: set[str] | None = None, **overrides: Any) -> StackSettings:
    config = {k.removeprefix("kiva:"): v for k, v in stack_config(stack).items() if k.startswith("kiva:")}
    found = {k.removeprefix("kiva:") for k in committed_stack_file(stack).secret_keys}
    config.update(overrides)
    config = {k: v for k, v in config.items() if v is not None}
    return load_settings(config, found | (secrets or set()), f"Pulumi.{stack}.yaml")


def _error(stack: str, secrets: set[str] | None = None, **overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(stack, secrets, **overrides)
    return str(caught.value)


def _provider(**fields: Any) -> dict[str, Any]:
    return {
        "name": "ext",
        "apiKeySecret": "extApiKey",
        "processingJurisdiction": "EU",
        "models": [{"name": "ext-model", "model": "openai/gpt-4o"}],
        **fields,
    }


# --- 3: secrets where plain values belong, and the reverse -------------------------------------------


def test_secret_where_a_plain_setting_belongs():
    assert _error("dev", secrets={"region"}) == (
        "Pulumi.dev.yaml: kiva:region: is a secret, but region is a plain setting; set it without --secret: "
        "`pulumi config set kiva:region …`"
    )


def test_provider_api_key_given_in_plain_text():
    message = _error(
        "prod", secrets=set(), providers=[_provider(kind="openai")], extApiKey="sk-not-a-real-key"
    )
    assert message == (
        "Pulumi.prod.yaml: kiva:extApiKey: holds the API key of providers[0] (apiKeySecret), but is a plain "
        "value; set it with `pulumi config set --secret kiva:extApiKey …`"
    )
    assert "sk-not-a-real-key" not in message


# --- 5: region and jurisdiction -----------------------------------------------------------------------


def test_region_in_another_country_names_both_keys():
    assert _error("dev", region="swedencentral") == (
        "Pulumi.dev.yaml: kiva:jurisdiction: DE, but kiva:region swedencentral is an Azure region in SE; set "
        "kiva:jurisdiction: SE, or kiva:region to a region in DE (germanynorth, germanywestcentral)"
    )


def test_jurisdiction_without_azure_region_says_so():
    assert _error("dev", jurisdiction="AT") == (
        "Pulumi.dev.yaml: kiva:jurisdiction: AT, but kiva:region germanywestcentral is an Azure region in DE; "
        "set kiva:jurisdiction: DE, or kiva:region to another region"
    )


# --- 7: examples, never a regex ----------------------------------------------------------------------


def test_every_pattern_has_an_example_that_matches_it():
    fields = list(pattern_fields())
    assert len(fields) >= 20
    for pattern, _ in fields:
        example = pattern_example(pattern)
        assert example is not None, f"no example for {pattern}: add Field(examples=[…]) or PATTERN_EXAMPLES"
        assert re.search(pattern, example.strip('"')), (pattern, example)


def test_field_examples_match_their_own_pattern():
    for pattern, examples in pattern_fields():
        for example in examples:
            assert re.search(pattern, str(example).strip('"')), (pattern, example)


def test_table_has_no_stale_patterns():
    assert set(PATTERN_EXAMPLES) <= {pattern for pattern, _ in pattern_fields()}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jurisdiction": "Deutschland"}, "kiva:jurisdiction: must look like DE (got 'Deutschland')"),
        (
            {"providers": [_provider(kind="openai", processingJurisdiction="Schweden")]},
            "kiva:providers[0].processingJurisdiction: must look like SE (got 'Schweden')",
        ),
        (
            {"providers": [_provider(kind="openai", models=[{"name": "x", "model": "gpt-4o"}])]},
            "kiva:providers[0].models[0].model: must look like azure/gpt-4o (got 'gpt-4o')",
        ),
    ],
    ids=["table-example", "field-example", "nested-field-example"],
)
def test_pattern_mismatch_shows_an_example(overrides, message):
    assert _error("prod", secrets={"extApiKey"}, **overrides).startswith(f"Pulumi.prod.yaml: {message}")


def test_pattern_message_never_shows_the_regex():
    message = _error("dev", cluster={**stack_config("dev")["kiva:cluster"], "kubernetesVersion": "latest"})
    assert (
        message == "Pulumi.dev.yaml: kiva:cluster.kubernetesVersion: must look like \"1.34\" (got 'latest')"
    )
    assert "^" not in message


# --- 8: the keys each provider kind needs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"kind": "azure"},
            "kind azure needs apiBase (e.g. apiBase: https://kiva-eu.openai.azure.com)",
        ),
        (
            {"kind": "vertex_ai", "vertexLocation": "europe-west3"},
            "kind vertex_ai needs vertexProject (e.g. vertexProject: kiva-prod-4711, vertexLocation: europe-west3)",
        ),
        ({"kind": "bedrock"}, "kind bedrock needs awsRegionName (e.g. awsRegionName: eu-central-1)"),
        (
            {"kind": "openai", "awsRegionName": "eu-central-1"},
            "awsRegionName only applies to kind bedrock, not openai; remove it",
        ),
    ],
    ids=["azure-apiBase", "vertex-project", "bedrock-region", "foreign-key"],
)
def test_provider_kind_needs_its_keys(fields, message):
    error = _error("prod", secrets={"extApiKey"}, providers=[_provider(**fields)])
    assert error == f"Pulumi.prod.yaml: kiva:providers[0]: {message}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"kind": "bedrock", "awsRegionName": "us-east-1"},
            "awsRegionName: must look like eu-central-1 (got 'us-east-1')",
        ),
        (
            {"kind": "vertex_ai", "vertexProject": "kiva-prod-4711", "vertexLocation": "us-central1"},
            "vertexLocation: must look like europe-west3 (got 'us-central1')",
        ),
        (
            {"kind": "azure", "apiBase": "https://kiva-eu.openai.azure.com", "apiVersion": "2024-10"},
            "apiVersion: must look like 2024-10-21 (got '2024-10')",
        ),
    ],
    ids=["bedrock-us", "vertex-us", "azure-version"],
)
def test_provider_regions_are_in_the_eu(fields, message):
    error = _error("prod", secrets={"extApiKey"}, providers=[_provider(**fields)])
    assert error == f"Pulumi.prod.yaml: kiva:providers[0].{message}"


def test_gateway_passes_each_kind_its_litellm_params():
    """Names as LiteLLM 1.108.7 reads them (litellm/types/router.py:359-395 `CredentialLiteLLMParams`)."""
    providers = [
        _provider(
            name="az",
            kind="azure",
            apiBase="https://kiva-eu.openai.azure.com",
            apiKeySecret="azureOpenaiApiKey",
        ),
        _provider(
            name="vx",
            kind="vertex_ai",
            vertexProject="kiva-prod-4711",
            vertexLocation="europe-west3",
            apiKeySecret="vxKey",
            models=[{"name": "gemini", "model": "vertex_ai/gemini-2.5-pro"}],
        ),
        _provider(
            name="br",
            kind="bedrock",
            awsRegionName="eu-central-1",
            apiKeySecret="brKey",
            models=[{"name": "claude", "model": "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"}],
        ),
    ]
    settings = _load("prod", secrets={"vxKey", "brKey"}, providers=providers)
    params = {
        e["model_name"]: e["litellm_params"]
        for e in litellm_config(settings)["model_list"]
        if "model_info" in e
    }
    assert params["ext-model"] == {
        "model": "openai/gpt-4o",
        "api_key": "os.environ/PROVIDER_AZ_API_KEY",
        "api_base": "https://kiva-eu.openai.azure.com",
        "api_version": "2024-10-21",
        # Issue 14: LiteLLM prices an Azure deployment by its base model (components/platform/gateway_config.py).
        "base_model": "openai/gpt-4o",
    }
    assert params["gemini"] == {
        "model": "vertex_ai/gemini-2.5-pro",
        "vertex_credentials": "os.environ/PROVIDER_VX_API_KEY",
        "vertex_project": "kiva-prod-4711",
        "vertex_location": "europe-west3",
    }
    assert params["claude"] == {
        "model": "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "api_key": "os.environ/PROVIDER_BR_API_KEY",
        "aws_region_name": "eu-central-1",
    }
