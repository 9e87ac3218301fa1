"""The issue-15 hardening policies: the compliant plan passes, each mutation fails with its exact message."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.harness import compliant_plan, container, mutate, run, violations


def _pod(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]


CASES = [
    ("kiva-prod-kv", lambda p: p["properties"].update(publicNetworkAccess="Enabled"),
     "kiva-hardening-key-vault-public-access-disabled",
     "Key Vault 'kiva-prod-kv' keeps a public endpoint (`properties.publicNetworkAccess` is 'Enabled'). Set "
     "`kiva:cluster.keyVault.privateEndpoint: true`, which disables public access and reaches the vault through "
     "a private endpoint."),
    ("kivaprodbackups", lambda p: p.update(minimumTlsVersion="TLS1_1"), "kiva-hardening-storage-account-tls12",
     "Storage account 'kivaprodbackups' accepts old TLS: `minimumTlsVersion` is 'TLS1_1'. Set "
     "`minimumTlsVersion: TLS1_2`."),
    ("kiva-gateway", lambda p: _pod(p).update(hostNetwork=True), "kiva-hardening-no-host-access",
     "kiva/kiva-gateway reaches into its node: it sets `hostNetwork: true`. Remove host namespaces, `hostPath` "
     "volumes and `capabilities.add`."),
    ("kiva-gateway", lambda p: _pod(p).update(volumes=[{"name": "h", "hostPath": {"path": "/var"}}]),
     "kiva-hardening-no-host-access",
     "kiva/kiva-gateway reaches into its node: it mounts the node's path '/var' (volume 'h'). Remove host "
     "namespaces, `hostPath` volumes and `capabilities.add`."),
    ("kiva-gateway", lambda p: container(p)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
     "kiva-hardening-no-host-access",
     "kiva/kiva-gateway reaches into its node: it adds capabilities NET_ADMIN to container 'kiva-gateway'. "
     "Remove host namespaces, `hostPath` volumes and `capabilities.add`."),
    ("llama-3-1-8b", lambda p: _pod(p).pop("automountServiceAccountToken"),
     "kiva-hardening-service-account-token-not-mounted",
     "kiva/llama-3-1-8b mounts a service-account token it does not need (`automountServiceAccountToken` is not "
     "false in its pod spec). Set `automountServiceAccountToken: false`."),
    ("kiva-gateway", lambda p: container(p)["securityContext"].update(runAsUser=1000),
     "kiva-hardening-container-uid-high",
     "Container 'kiva-gateway' of kiva/kiva-gateway runs as user 1000; set `runAsUser` to 10000 or more so that "
     "it shares no user ID with the node."),
    ("llama-3-1-8b",
     lambda p: container(p)["env"].append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "kiva-hf", "key": "t"}}}),
     "kiva-hardening-tokens-as-files",
     "Container 'llama-3-1-8b' of kiva/llama-3-1-8b gets its token in the env var `HF_TOKEN`; mount the Secret "
     "as a file and point `HF_TOKEN_PATH` at it."),
]  # fmt: skip


def test_the_compliant_plan_passes_every_new_policy() -> None:
    report = run(compliant_plan())
    assert [f.message for f in violations(report) if f.policy in {c[2] for c in CASES}] == []


@pytest.mark.parametrize(("resource", "mutation", "policy", "message"), CASES)
def test_each_mutation_fails_with_its_message(
    resource: str, mutation: Any, policy: str, message: str
) -> None:
    report = run(mutate(compliant_plan(), resource, mutation))
    assert [f.message for f in violations(report, policy)] == [message]
