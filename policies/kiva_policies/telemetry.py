"""Telemetry off: no component sends usage data, and the gateway forwards nothing to third parties.

Usage statistics and "phone home" checks transfer metadata about the platform to the vendor (GDPR
Art. 5(1)(c) data minimisation, Art. 44 ff. transfers; BSI IT-Grundschutz APP.4.4.A (Kubernetes) and
OPS.1.1.5 Protokollierung for what leaves the platform). The switch table below is the single place that
knows each product's kill switches: adding a component means adding a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from kiva_policies.base import (
    BLINDED_SECRET,
    CONFIG_MAP,
    MANDATORY,
    ContainerRef,
    as_list,
    containers,
    display_name,
    env_values,
    get,
    pod_spec,
    run_checks,
    settings,
    string_list,
)
from kiva_policies.litellm import litellm_config


@dataclass(frozen=True)
class Switch:
    """An environment variable that turns telemetry off only when it has exactly the value `off`.

    `read_by` names the file of the product's pinned version that reads the variable: a switch nothing
    reads would count as "off" while changing nothing, so a row without a reader does not belong here.
    """

    env: str
    off: str
    read_by: str


@dataclass(frozen=True)
class Product:
    """A product, how its containers are recognised (image substrings) and its telemetry switches."""

    name: str
    image_markers: tuple[str, ...]
    switches: tuple[Switch, ...] = ()
    args: tuple[str, ...] = ()
    """Command-line flags that must appear verbatim in the container's `command`/`args`."""

    def matches(self, image: str) -> bool:
        image = image.lower()
        return any(marker in image for marker in self.image_markers)


#: Known products and their kill switches (WORKLOADS.md section 6.1). A value other than `off` counts as on.
#: LiteLLM 1.108.7 and vLLM v0.28.0 are the versions `infra/versions.py` pins. LiteLLM's rows are the
#: GitHub downloads it makes at import or on request, and the veto of its usage telemetry (new since
#: 1.90.6: off until an admin opts in on the UI, recorded in the database or sent to a
#: `LITELLM_TELEMETRY_ENDPOINT`; `LITELLM_TELEMETRY_DISABLED` refuses the opt-in,
#: litellm/proxy/telemetry/runtime.py `TelemetryRuntime.start`). The admin UI's release banner asks
#: api.github.com with no switch (litellm/proxy/ui_crud_endpoints/latest_release_endpoints.py). The other
#: products are not deployed by the stack; their rows name the upstream file that defines each switch.
TELEMETRY_SWITCHES: tuple[Product, ...] = (
    Product(
        "LiteLLM",
        ("litellm",),
        (
            Switch(
                "LITELLM_LOCAL_MODEL_COST_MAP",
                "True",
                "litellm 1.108.7 litellm/litellm_core_utils/get_model_cost_map.py:676 (lower() == 'true')",
            ),
            Switch(
                "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
                "True",
                "litellm 1.108.7 litellm/anthropic_beta_headers_manager.py:148 (lower() == 'true')",
            ),
            Switch(
                "LITELLM_LOCAL_BLOG_POSTS",
                "True",
                "litellm 1.108.7 litellm/litellm_core_utils/get_blog_posts.py:132 (lower() == 'true')",
            ),
            Switch(
                "LITELLM_LOCAL_POLICY_TEMPLATES",
                "True",
                "litellm 1.108.7 litellm/proxy/management_endpoints/policy_endpoints/endpoints.py:660 "
                "(lower() in 'true', '1', 'yes')",
            ),
            Switch(
                "LITELLM_LOCAL_AUTOROUTER_PRESETS",
                "True",
                "litellm 1.108.7 litellm/proxy/public_endpoints/public_endpoints.py:571 (lower() == 'true')",
            ),
            Switch(
                "LITELLM_TELEMETRY_DISABLED",
                "True",
                "litellm 1.108.7 litellm/proxy/telemetry/settings.py:12, 34-39 (pydantic-settings bool)",
            ),
        ),
    ),
    Product(
        "vLLM",
        ("vllm",),
        (
            Switch(
                "VLLM_NO_USAGE_STATS",
                "1",
                'vllm v0.28.0 vllm/envs.py (== "1"), consulted by vllm/usage/usage_lib.py',
            ),
            Switch(
                "VLLM_DO_NOT_TRACK",
                "1",
                'vllm v0.28.0 vllm/envs.py (VLLM_DO_NOT_TRACK or DO_NOT_TRACK, == "1"), '
                "consulted by vllm/usage/usage_lib.py",
            ),
            Switch(
                "DO_NOT_TRACK",
                "1",
                "vllm v0.28.0 vllm/envs.py (fallback of VLLM_DO_NOT_TRACK); huggingface_hub "
                "src/huggingface_hub/constants.py",
            ),
        ),
    ),
    Product(
        "Hugging Face Hub",
        ("vllm", "text-generation-inference", "text-embeddings-inference", "huggingface"),
        (
            Switch(
                "HF_HUB_DISABLE_TELEMETRY",
                "1",
                "huggingface_hub src/huggingface_hub/constants.py (_is_true)",
            ),
        ),
    ),
    Product(
        "Open WebUI",
        ("open-webui",),
        (
            Switch("SCARF_NO_ANALYTICS", "true", "open-webui Dockerfile"),
            Switch("DO_NOT_TRACK", "true", "open-webui Dockerfile"),
            Switch("ANONYMIZED_TELEMETRY", "false", "open-webui Dockerfile (Chroma)"),
            Switch("ENABLE_VERSION_UPDATE_CHECK", "false", "open-webui env-configuration"),
        ),
    ),
    Product(
        "Grafana",
        ("grafana/grafana",),
        (
            Switch("GF_ANALYTICS_REPORTING_ENABLED", "false", "grafana conf/defaults.ini [analytics]"),
            Switch("GF_ANALYTICS_CHECK_FOR_UPDATES", "false", "grafana conf/defaults.ini [analytics]"),
            Switch("GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", "false", "grafana conf/defaults.ini [analytics]"),
        ),
    ),
    Product("Loki", ("grafana/loki",), args=("-reporting.enabled=false",)),
)


@dataclass(frozen=True)
class SwitchState:
    """What one container sets for one switch."""

    product: str
    switch: str
    expected: str
    found: str | None  # the literal value, None when unset
    note: str = ""  # "valueFrom", "secret", …

    @property
    def off(self) -> bool:
        return self.found == self.expected and not self.note


def switch_states(container: Mapping[str, Any], image: str) -> list[SwitchState]:
    """The telemetry switches of every product the container's image belongs to, as set on it."""
    env = env_values(container)
    command = [str(a) for a in (*as_list(get(container, "command")), *as_list(get(container, "args")))]
    states = []
    for product in TELEMETRY_SWITCHES:
        if not product.matches(image):
            continue
        for switch in product.switches:
            entry = env.get(switch.env)
            if entry is None:
                states.append(SwitchState(product.name, switch.env, switch.off, None))
            elif "valueFrom" in entry:
                states.append(SwitchState(product.name, switch.env, switch.off, None, "valueFrom"))
            else:
                value = entry.get("value")
                note = "secret" if value == BLINDED_SECRET else ""
                states.append(SwitchState(product.name, switch.env, switch.off, str(value or ""), note))
        for flag in product.args:
            states.append(SwitchState(product.name, flag, "present", "present" if flag in command else None))
    return states


SWITCH_SCHEMA = PolicyConfigSchema(
    properties={
        "exemptContainers": string_list(
            "Containers (`namespace/workload/container`) the reviewer exempts, on record.", []
        ),
    }
)


def _describe(state: SwitchState) -> str:
    if state.found is None and state.note == "valueFrom":
        return f"`{state.switch}` comes from `valueFrom` (not verifiable as a literal)"
    if state.found is None:
        return (
            f"`{state.switch}` is not set"
            if state.expected != "present"
            else f"flag `{state.switch}` is missing"
        )
    if state.note == "secret":
        return f"`{state.switch}` is a secret value"
    return f"`{state.switch}` is '{state.found}'"


def _check_switches(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    config = settings(args, SWITCH_SCHEMA)
    workload = display_name(args.props, args.name)

    def check(ref: ContainerRef) -> None:
        if f"{workload}/{ref.name}" in config["exemptContainers"]:
            return
        wrong = [s for s in switch_states(ref.container, ref.image) if not s.off]
        if wrong:
            fixes = ", ".join(
                f"`{s.switch}`" if s.expected == "present" else f"`{s.switch}={s.expected}`" for s in wrong
            )
            report(
                f"Container '{ref.name}' ({ref.image}) of {workload}: "
                + "; ".join(_describe(s) for s in wrong)
                + ". Telemetry counts as on unless the exact off value is set: "
                + f"set {fixes} as literal env values.",
                None,
            )

    run_checks([partial(check, ref) for ref in containers(spec)])


telemetry_switches_off = ResourceValidationPolicy(
    name="kiva-telemetry-switches-off",
    description=(
        "Every container of a known product (LiteLLM, vLLM, Hugging Face libraries, Open WebUI, Grafana, "
        "Loki) sets each of its telemetry kill switches to the exact value that turns usage reporting off."
    ),
    validate=_check_switches,
    enforcement_level=MANDATORY,
    config_schema=SWITCH_SCHEMA,
)


# --- LiteLLM callbacks ----------------------------------------------------------------------------

CALLBACK_KEYS = ("callbacks", "success_callback", "failure_callback", "service_callback", "input_callback")

CALLBACK_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedCallbacks": string_list(
            "LiteLLM callbacks that keep data inside the platform (e.g. Prometheus).", ["prometheus"]
        ),
    }
)


def litellm_callbacks(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`(setting, callback)` pairs of a LiteLLM config: callbacks and alerting integrations."""
    found = []
    litellm_settings = document.get("litellm_settings") or {}
    for key in CALLBACK_KEYS:
        value = litellm_settings.get(key) if isinstance(litellm_settings, Mapping) else None
        for item in value if isinstance(value, list) else [value] if value else []:
            found.append((f"litellm_settings.{key}", str(item)))
    general = document.get("general_settings") or {}
    alerting = general.get("alerting") if isinstance(general, Mapping) else None
    for item in alerting if isinstance(alerting, list) else [alerting] if alerting else []:
        found.append(("general_settings.alerting", str(item)))
    return found


def _check_callbacks(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CONFIG_MAP:
        return
    document = litellm_config(args.props)
    if document is None:
        return
    allowed = settings(args, CALLBACK_SCHEMA)["allowedCallbacks"]
    for setting, callback in litellm_callbacks(document):
        if callback not in allowed:
            report(
                f"LiteLLM config '{args.name}' enables the callback '{callback}' in `{setting}`, which sends "
                "request data to a third party. Remove it, or have the reviewer add it to "
                "`allowedCallbacks` "
                f"(allowed now: {', '.join(allowed) or 'none'}).",
                None,
            )


litellm_no_third_party_callbacks = ResourceValidationPolicy(
    name="kiva-telemetry-litellm-no-third-party-callbacks",
    description=(
        "The LiteLLM gateway configuration enables no callback or alerting integration that sends request "
        "data to a third party (Langfuse, Datadog, Slack, …) beyond those the reviewer allowed."
    ),
    validate=_check_callbacks,
    enforcement_level=MANDATORY,
    config_schema=CALLBACK_SCHEMA,
)

POLICIES = [telemetry_switches_off, litellm_no_third_party_callbacks]
