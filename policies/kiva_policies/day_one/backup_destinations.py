"""Day-one check: every CloudNativePG backup destination (Barman Cloud `ObjectStore`) is in the EU.

The destination's region is not a field of the ObjectStore: for Azure Blob it is the storage account's
`location` (found in the plan by the account name in `destinationPath`); for S3 the region sits in a
Secret (`s3Credentials.region`), so the platform declares it on the ObjectStore as the annotation (or
label) `kiva.platform/region`; without that, a provider endpoint whose host names its region
(`s3.<region>.amazonaws.com`, STACKIT `object.storage.eu01.onstackit.cloud`, Open Telekom Cloud
`obs.<region>.otc.t-systems.com`, IONOS `s3.<region>.ionoscloud.com`) decides; an in-cluster endpoint
(`<svc>.<ns>.svc…`) keeps the data where the cluster is (its declared `kiva.platform/jurisdiction`).
Anything else is not verifiable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlparse

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from kiva_policies.base import (
    CNPG_OBJECT_STORE,
    LABEL_JURISDICTION,
    LABEL_REGION,
    MANDATORY,
    NAMESPACE,
    get,
    run_checks,
    settings,
    string_list,
)
from kiva_policies.day_one.flows import INTERNAL_SUFFIXES, Res, meta_name, meta_namespace, view
from kiva_policies.day_one.reachability import STORAGE_ACCOUNT, NotVerifiable
from kiva_policies.regions import AZURE_REGIONS, S3_REGIONS, eu_regions, is_eu

_AWS = re.compile(r"(?:^|\.)s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com$")
#: Provider endpoints that are not AWS: host pattern → country (these providers reuse AWS-like names).
_PROVIDER_HOSTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"(?:^|\.)object\.storage\.eu01\.onstackit\.cloud$"), "DE", "STACKIT eu01"),
    (re.compile(r"(?:^|\.)obs\.eu-de\.otc\.t-systems\.com$"), "DE", "Open Telekom Cloud eu-de"),
    (re.compile(r"(?:^|\.)obs\.eu-nl\.otc\.t-systems\.com$"), "NL", "Open Telekom Cloud eu-nl"),
    (re.compile(r"(?:^|\.)s3[.-]eu-central-[12]\.ionoscloud\.com$"), "DE", "IONOS Germany"),
    (re.compile(r"(?:^|\.)s3[.-]eu-south-2\.ionoscloud\.com$"), "ES", "IONOS Spain"),
)

SCHEMA = PolicyConfigSchema(
    properties={
        "allowedAzureRegions": string_list(
            "Azure regions a backup storage account may be in.", eu_regions(AZURE_REGIONS)
        ),
        "allowedS3Regions": string_list(
            "S3 regions (as declared by `kiva.platform/region`) a backup bucket may be in.",
            eu_regions(S3_REGIONS),
        ),
    }
)


def _declared(props: Mapping[str, Any], key: str) -> str | None:
    for where in ("annotations", "labels"):
        value = get(props, "metadata", where, key)
        if isinstance(value, str) and value:
            return value
    return None


def _check_store(
    store: Res, resources: Sequence[Res], config: Mapping[str, Any], report: ReportViolation
) -> None:
    what = f"ObjectStore {meta_namespace(store)}/{meta_name(store)}"
    configuration = get(store.props, "spec", "configuration", default={}) or {}
    destination = str(get(configuration, "destinationPath", default="") or "")
    endpoint = get(configuration, "endpointURL")
    url = endpoint if isinstance(endpoint, str) and endpoint else destination
    # s3://bucket/path and gs://bucket/path name a bucket, not a host: only http(s) URLs have one.
    host = (urlparse(url).hostname or "") if url.startswith(("https://", "http://")) else ""

    if host.endswith(".blob.core.windows.net") or get(configuration, "azureCredentials") is not None:
        account = host.split(".", 1)[0] if host else ""
        accounts = [
            r
            for r in resources
            if r.type == STORAGE_ACCOUNT
            and str(get(r.props, "accountName", default=None) or r.name) == account
        ]
        if not accounts:
            raise NotVerifiable(f"{what}: storage account '{account}' of {destination} is not in the plan")
        for r in accounts:
            location = str(get(r.props, "location", default="")).replace(" ", "").lower()
            if location not in config["allowedAzureRegions"]:
                report(
                    f"{what} backs up to storage account {account} in '{location or 'no location'}', which is not "
                    f"on the EU allow-list ({', '.join(config['allowedAzureRegions'])}).",
                    store.urn,
                )
        return

    evidence = False
    region = _declared(store.props, LABEL_REGION)
    if region is not None:
        evidence = True
        if region not in config["allowedS3Regions"]:
            report(
                f"{what} declares backup region '{region}' ({LABEL_REGION}), which is not on the EU allow-list "
                f"({', '.join(config['allowedS3Regions'])}).",
                store.urn,
            )
    aws = _AWS.search(host) if host else None
    aws_region = (
        aws.group(1) if aws else ("us-east-1" if re.search(r"(?:^|\.)s3\.amazonaws\.com$", host) else None)
    )
    if aws_region:
        evidence = True
        if aws_region not in config["allowedS3Regions"]:
            report(
                f"{what} backs up to {host}, an S3 endpoint in region '{aws_region}', which is not on the EU "
                "allow-list.",
                store.urn,
            )
    for pattern, country, provider in _PROVIDER_HOSTS:
        if host and pattern.search(host):
            evidence = True
            if not is_eu(country):
                report(f"{what} backs up to {host} ({provider}, {country}), outside the EU/EEA.", store.urn)
    if not evidence and host and (host.endswith(INTERNAL_SUFFIXES) or "." not in host):
        namespace = host.split(".")[1] if "." in host else meta_namespace(store)
        jurisdictions = {
            _declared(r.props, LABEL_JURISDICTION)
            for r in resources
            if r.type == NAMESPACE and meta_name(r) in (meta_namespace(store), namespace)
        } - {None}
        if jurisdictions:
            evidence = True
            for country in sorted(str(j) for j in jurisdictions):
                if not is_eu(country):
                    report(
                        f"{what} backs up in-cluster ({host}) and the cluster declares jurisdiction '{country}', "
                        "outside the EU/EEA.",
                        store.urn,
                    )
    if not evidence:
        raise NotVerifiable(
            f"{what}: the region of {endpoint or destination} can't be told from the plan; declare it with the "
            f"annotation `{LABEL_REGION}` on the ObjectStore"
        )


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    config = settings(args, SCHEMA)
    resources = view(args.resources)
    run_checks(
        [
            partial(_check_store, s, resources, config, report)
            for s in resources
            if s.type == CNPG_OBJECT_STORE
        ]
    )


backup_destinations_in_eu = StackValidationPolicy(
    name="kiva-residency-backup-destinations",
    description=(
        "Every CloudNativePG backup destination (Barman Cloud ObjectStore) is in an EU/EEA region: the storage "
        "account's location for Azure Blob, the declared or endpoint region for S3."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
    config_schema=SCHEMA,
)

POLICIES: list[Policy] = [backup_destinations_in_eu]
