"""Misconfigurations of the Azure cluster and GPU pools fail before any resource, with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings import ConfigError, load_settings
from tests.conftest import committed_stack_file, stack_config


def _load(stack: str, change) -> str:
    """Apply `change` to the stack's parsed `kiva:` config; return the loader's message (or '' if valid)."""
    config: dict[str, Any] = {key.removeprefix("kiva:"): value for key, value in stack_config(stack).items()
                              if key.startswith("kiva:")}  # fmt: skip
    change(config)
    secrets = {key.removeprefix("kiva:") for key in committed_stack_file(stack).secret_keys}
    try:
        load_settings(config, secrets, f"Pulumi.{stack}.yaml")
    except ConfigError as error:
        return str(error)
    return ""


def _set(path: str, value: Any):
    def change(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = config
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_stacks_are_valid(stack):
    assert _load(stack, lambda config: None) == ""


@pytest.mark.parametrize(
    ("stack", "path", "value", "message"),
    [
        ("dev", "gpuPools.0.vmSize", "Standard_NC6s_v3",
         "Pulumi.dev.yaml: kiva:gpuPools[0]: vmSize 'Standard_NC6s_v3' is not a known GPU size; known: "),
        ("dev", "gpuPools.0.minCount", 3,
         "Pulumi.dev.yaml: kiva:gpuPools[0]: minCount (3) must not exceed maxCount (2)"),
        ("dev", "gpuPools.0.maxCount", 0, "Pulumi.dev.yaml: kiva:gpuPools[0].maxCount: must be at least 1 (got 0)"),
        ("dev", "gpuPools.0.driver", "nouveau",
         "Pulumi.dev.yaml: kiva:gpuPools[0].driver: must be one of 'preinstalled' or 'operator' (got 'nouveau')"),
        ("dev", "gpuPools.0.name", "system",
         "Pulumi.dev.yaml: kiva:gpuPools[0]: the name 'system' is taken by the AKS system pool"),
        ("dev", "gpuPools.0.osDiskSizeGB", 64, "Pulumi.dev.yaml: kiva:gpuPools[0].osDiskSizeGB: unknown key"),
        ("dev", "gpuPools.0.osDiskSizeGb", 64,
         "Pulumi.dev.yaml: kiva:gpuPools[0].osDiskSizeGb: must be at least 128 (got 64)"),
        ("dev", "cluster.systemPool.minCount", 5,
         "Pulumi.dev.yaml: kiva:cluster.systemPool: minCount (5) must not exceed maxCount (3)"),
        ("prod", "region", "germanynorth",
         "Pulumi.prod.yaml: kiva:cluster.zones: region germanynorth has no availability zones; remove the zones"),
        ("dev", "region", "eastus", "Pulumi.dev.yaml: kiva:jurisdiction: DE, but kiva:region eastus is an Azure region in US; set "
            "kiva:jurisdiction: US, or kiva:region to a region in DE (germanynorth, germanywestcentral)"),
        ("dev", "cluster.kubernetesVersion", "latest", "Pulumi.dev.yaml: kiva:cluster.kubernetesVersion: must look like \"1.34\" (got 'latest')"),
        ("dev", "cluster.networkPolicy", "calico",
         "Pulumi.dev.yaml: kiva:cluster.networkPolicy: must be one of 'cilium' or 'azure' (got 'calico')"),
        ("dev", "cluster.adminGroupObjectIds", ["platform-admins"],
         "Pulumi.dev.yaml: kiva:cluster.adminGroupObjectIds[0]: must look like "
         "11111111-2222-3333-4444-555555555555 (got 'platform-admins')"),
        ("dev", "cluster.apiServer.authorizedIpRanges", ["203.0.113.0/33"],
         "Pulumi.dev.yaml: kiva:cluster.apiServer.authorizedIpRanges: must be CIDR ranges"),
        ("prod", "cluster.apiServer", {"private": True, "authorizedIpRanges": ["198.51.100.0/24"]},
         "Pulumi.prod.yaml: kiva:cluster.apiServer: a private API server takes no authorizedIpRanges"),
        ("prod", "cluster.apiServer", {"private": False},
         "Pulumi.prod.yaml: kiva:cluster.apiServer: production needs a private API server or authorizedIpRanges"),
        ("prod", "cluster.apiServer.authorizedIpRanges", ["0.0.0.0/0"],
         "Pulumi.prod.yaml: kiva:cluster.apiServer.authorizedIpRanges: must not contain 0.0.0.0/0 in production"),
        ("prod", "cluster.skuTier", "Free", "Pulumi.prod.yaml: kiva:cluster.skuTier: production needs Standard"),
        ("prod", "cluster.zones", ["1"], "Pulumi.prod.yaml: kiva:cluster.zones: production spreads the system pool"),
        ("dev", "cluster.zones", ["4"], "Pulumi.dev.yaml: kiva:cluster.zones[0]: must be one of '1', '2' or '3'"),
        ("dev", "cluster.maintenance", {"durationHours": 2},
         "Pulumi.dev.yaml: kiva:cluster.maintenance.durationHours: must be at least 4 (got 2)"),
        ("dev", "cluster.maintenance", {"utcOffset": "CET"}, "Pulumi.dev.yaml: kiva:cluster.maintenance.utcOffset"),
        ("dev", "cluster.keyVault", {"privateEndpoint": True, "allowedIps": ["203.0.113.0/24"]},
         "Pulumi.dev.yaml: kiva:cluster.keyVault: with privateEndpoint: true public access is disabled"),
        ("dev", "cluster.keyVault.allowedIps", ["my-laptop"],
         "Pulumi.dev.yaml: kiva:cluster.keyVault.allowedIps: must be CIDR ranges"),
        ("dev", "retention.keyVaultSoftDeleteDays", 3,
         "Pulumi.dev.yaml: kiva:retention.keyVaultSoftDeleteDays: must be at least 7 (got 3)"),
        ("dev", "retention.logAnalyticsDays", 7,
         "Pulumi.dev.yaml: kiva:retention.logAnalyticsDays: must be at least 30 (got 7)"),
        ("dev", "cluster.network", {"nodeSubnetCidr": "10.1.0.0/20"},
         "Pulumi.dev.yaml: kiva:cluster.network: nodeSubnetCidr 10.1.0.0/20 must lie inside vnetCidr 10.240.0.0/16"),
        ("dev", "cluster.network", {"privateEndpointSubnetCidr": "10.240.1.0/24"},
         "Pulumi.dev.yaml: kiva:cluster.network: nodeSubnetCidr 10.240.0.0/20 and privateEndpointSubnetCidr "
         "10.240.1.0/24 overlap"),
        ("dev", "cluster.network", {"podCidr": "10.240.128.0/17"},
         "Pulumi.dev.yaml: kiva:cluster.network: podCidr 10.240.128.0/17 must not overlap vnetCidr"),
        ("dev", "cluster.network", {"dnsServiceIp": "10.1.0.10"},
         "Pulumi.dev.yaml: kiva:cluster.network: dnsServiceIp 10.1.0.10 must be a host address inside serviceCidr"),
        ("dev", "cluster.network", {"vnetCidr": "10.240.0.1/16"},
         "Pulumi.dev.yaml: kiva:cluster.network.vnetCidr: must be an IPv4 CIDR range with no host bits set"),
    ],
)  # fmt: skip
def test_misconfiguration_is_reported_with_file_and_key(stack, path, value, message):
    assert message in _load(stack, _set(path, value))


def test_zones_on_a_gpu_pool_in_a_region_without_zones():
    def change(config: dict[str, Any]) -> None:
        config["region"] = "germanynorth"
        config["gpuPools"][0]["zones"] = ["1"]

    assert _load("dev", change) == (
        "Pulumi.dev.yaml: kiva:gpuPools[0].zones: region germanynorth has no availability zones; remove the zones"
    )


def test_gpu_pool_without_vm_size_on_azure():
    def change(config: dict[str, Any]) -> None:
        pool = config["gpuPools"][0]
        del pool["vmSize"]
        pool.update(gpuType="t4", gpusPerNode=1)

    assert _load("dev", change) == (
        "Pulumi.dev.yaml: kiva:gpuPools[0].vmSize: required on Azure: the pool is created with this VM size"
    )


def test_secret_config_values_must_be_secure():
    def change(config: dict[str, Any]) -> None:
        config["kubeconfig"] = "apiVersion: v1"

    assert (
        "kiva:kubeconfig: holds a secret; set it with `pulumi config set --secret kiva:kubeconfig …`"
        in _load("local", change)
    )


def test_network_defaults_are_a_valid_layout():
    assert _load("dev", _set("cluster.network", {})) == ""
