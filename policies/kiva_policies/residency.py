"""Data residency: every location, the declared region and every external LLM provider stay in the EU/EEA.

GDPR Art. 44 ff. (transfers to third countries) and the BSI C5 / IT-Grundschutz requirement to know
where data is processed (OPS.2.2 Cloud-Nutzung) are why these policies are mandatory on every stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from kiva_policies.base import (
    BLINDED_SECRET,
    CONFIG_MAP,
    LABEL_JURISDICTION,
    LABEL_REGION,
    MANDATORY,
    NAMESPACE,
    BlindedValueError,
    as_list,
    declared_location,
    normalize_location,
    settings,
    string_list,
)
from kiva_policies.litellm import litellm_config
from kiva_policies.regions import (
    AZURE_REGIONS,
    EU_EEA_COUNTRIES,
    KUBERNETES_REGIONS,
    S3_REGIONS,
    eu_regions,
)

#: Azure resource types that are global by nature (DNS metadata, no customer data) and use `global`.
GLOBAL_AZURE_TYPES = [
    "azure-native:privatedns:PrivateZone",
    "azure-native:privatedns:VirtualNetworkLink",
    "azure-native:network:PrivateZone",
    "azure-native:network:VirtualNetworkLink",
]


def default_jurisdictions() -> list[str]:
    return [*sorted(EU_EEA_COUNTRIES), "EU"]


def default_declared_regions() -> list[str]:
    return sorted(
        {*eu_regions(AZURE_REGIONS), *eu_regions(KUBERNETES_REGIONS), *eu_regions(S3_REGIONS)} | {"on-prem"}
    )


# --- every resource with a location ------------------------------------------------------------

LOCATION_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedLocations": string_list(
            "Azure regions (ARM names) resources may be placed in, e.g. only the German ones.",
            eu_regions(AZURE_REGIONS),
        ),
        "globalResourceTypes": string_list(
            "Resource types that may use the location `global` (DNS metadata only).", GLOBAL_AZURE_TYPES
        ),
    }
)


def _check_location(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if "location" not in args.props:
        return
    location = args.props["location"]
    if location == BLINDED_SECRET:
        raise BlindedValueError("location")
    if not isinstance(location, str):
        return
    config = settings(args, LOCATION_SCHEMA)
    normalized = normalize_location(location)
    if normalized == "global" and args.resource_type in config["globalResourceTypes"]:
        return
    allowed = [normalize_location(a) for a in config["allowedLocations"]]
    if normalized not in allowed:
        region = AZURE_REGIONS.get(normalized)
        where = (
            f" (data centres in {region.country})" if region and region.country else " (an unknown region)"
        )
        report(
            f"{args.resource_type} '{args.name}' is placed in '{location}'{where}, which is not in the "
            f"allow-list {', '.join(allowed)}. Set `kiva:region` (and `azure-native:location`) to an allowed "
            "EU region, or have the reviewer add the region to `allowedLocations`.",
            None,
        )


location_in_allow_list = ResourceValidationPolicy(
    name="kiva-residency-location-in-allow-list",
    description=(
        "Every resource that has a location is placed in an allow-listed EU/EEA region, so that no data "
        "is stored or processed outside the permitted jurisdiction."
    ),
    validate=_check_location,
    enforcement_level=MANDATORY,
    config_schema=LOCATION_SCHEMA,
)


# --- the declared region and jurisdiction (non-Azure stacks) --------------------------------------

DECLARED_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedRegions": string_list(
            "Regions a stack may declare (Azure, S3 and Kubernetes provider region names).",
            default_declared_regions(),
        ),
        "allowedJurisdictions": string_list(
            "ISO country codes (or `EU`) a stack may declare as its jurisdiction.", default_jurisdictions()
        ),
        "declaredRegion": {
            "type": "string",
            "description": "The region the reviewer expects; the platform's declaration must match it.",
        },
        "declaredJurisdiction": {
            "type": "string",
            "description": "The jurisdiction the reviewer expects; the platform's declaration must match it.",
        },
    }
)

_KNOWN_REGIONS = {**S3_REGIONS, **KUBERNETES_REGIONS, **AZURE_REGIONS}


def _check_declaration(args: StackValidationArgs, report: ReportViolation) -> None:
    config = settings(args, DECLARED_SCHEMA)
    declarations = []
    has_location = False
    for resource in args.resources:
        if any(key == "location" for key in resource.props):  # `in` would read (and raise on) unknowns
            has_location = True
        if resource.resource_type != NAMESPACE:
            continue
        declared = declared_location(resource.props)
        if declared is not None:
            declarations.append((resource.urn, *declared))
    expected_region = config.get("declaredRegion")
    expected_jurisdiction = config.get("declaredJurisdiction")
    if not declarations:
        if expected_region or expected_jurisdiction:
            declarations.append(("", expected_region, expected_jurisdiction))
        elif not has_location:
            report(
                "The stack declares no region: no resource has a location and no Namespace carries the "
                "annotations "
                f"`{LABEL_REGION}` and `{LABEL_JURISDICTION}`. The platform namespace must carry them "
                "(from `kiva:region` and `kiva:jurisdiction`), or the policy config must set "
                "`declaredRegion` and `declaredJurisdiction`.",
                None,
            )
            return
    for urn, region, jurisdiction in declarations:
        _check_one_declaration(config, urn, region, jurisdiction, report)


def _check_one_declaration(
    config: dict[str, Any], urn: str, region: Any, jurisdiction: Any, report: ReportViolation
) -> None:
    where = f"Namespace {urn.rsplit('::', 1)[-1]}" if urn else "The policy config"
    if not isinstance(region, str) or not region:
        report(
            f"{where} declares no region (annotation `{LABEL_REGION}`); set it from `kiva:region`.",
            urn or None,
        )
    elif region not in config["allowedRegions"]:
        report(
            f"{where} declares region '{region}', which is not in the allow-list "
            f"{', '.join(config['allowedRegions'])}. Choose an EU/EEA region or have the reviewer allow it.",
            urn or None,
        )
    if not isinstance(jurisdiction, str) or not jurisdiction:
        report(
            f"{where} declares no jurisdiction (annotation `{LABEL_JURISDICTION}`); "
            "set it from `kiva:jurisdiction`.",
            urn or None,
        )
    elif jurisdiction not in config["allowedJurisdictions"]:
        report(
            f"{where} declares jurisdiction '{jurisdiction}', which is not in the allow-list "
            f"{', '.join(config['allowedJurisdictions'])}.",
            urn or None,
        )
    known = _KNOWN_REGIONS.get(region) if isinstance(region, str) else None
    if (
        known
        and known.country
        and isinstance(jurisdiction, str)
        and jurisdiction not in ("EU", known.country)
    ):
        report(
            f"{where} declares region '{region}' (in {known.country}) with jurisdiction '{jurisdiction}'; "
            "the two must agree.",
            urn or None,
        )
    for key, declared in (("declaredRegion", region), ("declaredJurisdiction", jurisdiction)):
        expected = config.get(key)
        if urn and expected and declared != expected:
            report(
                f"{where} declares '{declared}' but the reviewer's policy config expects {key} '{expected}'.",
                urn,
            )


declared_region_in_allow_list = StackValidationPolicy(
    name="kiva-residency-declared-region-in-allow-list",
    description=(
        "The stack declares its region and jurisdiction, and both are in the EU/EEA allow-list, so that "
        "stacks on clusters without cloud locations (STACKIT, IONOS, OTC, on-premises) are checked too."
    ),
    validate=_check_declaration,
    enforcement_level=MANDATORY,
    config_schema=DECLARED_SCHEMA,
)


# --- external LLM providers -----------------------------------------------------------------------

#: Keys of a LiteLLM `model_list[].model_info` the platform layer sets for external providers.
MODEL_INFO_PROVIDER = "kiva_provider"
MODEL_INFO_JURISDICTION = "kiva_processing_jurisdiction"

PROVIDER_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedJurisdictions": string_list(
            "Processing jurisdictions an external provider may have without an exception.",
            default_jurisdictions(),
        ),
        "allowedProviders": string_list(
            "External providers (`kiva:providers[].name`) accepted outside the EU.", []
        ),
        "internalHostSuffixes": string_list(
            "Host name suffixes of in-cluster model servers (not external providers).",
            [".svc", ".svc.cluster.local", ".cluster.local"],
        ),
    }
)


def external_models(document: Mapping[str, Any], internal_suffixes: list[str]) -> list[dict[str, Any]]:
    """The `model_list` entries served outside the cluster, with provider name and jurisdiction."""
    result = []
    for entry in as_list(document.get("model_list")):
        if not isinstance(entry, Mapping):
            continue
        params = entry.get("litellm_params") or {}
        info = entry.get("model_info") or {}
        model = str(params.get("model") or "")
        api_base = str(params.get("api_base") or "")
        host = (urlparse(api_base).hostname or "") if api_base else ""
        internal = bool(host) and ("." not in host or any(host.endswith(s) for s in internal_suffixes))
        if internal:
            continue
        result.append(
            {
                "model_name": str(entry.get("model_name") or model),
                "model": model,
                "api_base": api_base,
                "provider": str(info.get(MODEL_INFO_PROVIDER) or model.split("/", 1)[0] or "unknown"),
                "jurisdiction": info.get(MODEL_INFO_JURISDICTION),
            }
        )
    return result


def _check_providers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CONFIG_MAP:
        return
    document = litellm_config(args.props)
    if document is None:
        return
    config = settings(args, PROVIDER_SCHEMA)
    for model in external_models(document, config["internalHostSuffixes"]):
        if model["provider"] in config["allowedProviders"]:
            continue
        jurisdiction = model["jurisdiction"]
        target = f"model '{model['model_name']}' ({model['model']}) of provider '{model['provider']}'"
        if not jurisdiction:
            report(
                f"LiteLLM config '{args.name}' routes {target} to an external endpoint without a declared "
                f"processing jurisdiction (`model_info.{MODEL_INFO_JURISDICTION}`); it counts as outside the "
                "EU. Declare `processingJurisdiction` for the provider, or have the reviewer add the "
                "provider "
                "to `allowedProviders`.",
                None,
            )
        elif str(jurisdiction) not in config["allowedJurisdictions"]:
            report(
                f"LiteLLM config '{args.name}' routes {target} to processing in '{jurisdiction}', "
                "outside the "
                "EU/EEA. Use an EU deployment of the provider, remove it, or have the reviewer add the "
                "provider "
                "to `allowedProviders` after a transfer impact assessment (GDPR Art. 44 ff.).",
                None,
            )


external_providers_in_eu = ResourceValidationPolicy(
    name="kiva-residency-external-providers-in-eu",
    description=(
        "Every external LLM provider the gateway routes to processes data in the EU/EEA, unless the reviewer "
        "has allow-listed that provider by name."
    ),
    validate=_check_providers,
    enforcement_level=MANDATORY,
    config_schema=PROVIDER_SCHEMA,
)

POLICIES = [location_in_allow_list, declared_region_in_allow_list, external_providers_in_eu]
