"""A private CA in cert-manager, for an Ingress whose TLS certificate no public CA should issue.

With `ingress.internalCa: true` the ClusterIssuer the Ingress names (`ingress.clusterIssuer`) is made
here, in cert-manager's documented bootstrap: a self-signed ClusterIssuer signs a CA `Certificate`
(`isCA: true`), and a CA ClusterIssuer of the configured name signs with that CA's key pair. A
ClusterIssuer reads its secret from cert-manager's cluster resource namespace, which the chart
sets to the release's namespace (`--cluster-resource-namespace=$(POD_NAMESPACE)` unless
`clusterResourceNamespace` is set), so the CA Certificate and its Secret live there.

The CA's key never leaves the cluster; clients must trust the CA's certificate (`ca.crt` of the
Secret), which is what "internal" means here. Fields are those of the cert-manager v1.21 CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.platform.common import child_opts, labels
from components.platform.namespaces import CERT_MANAGER_NAMESPACE

API_VERSION = "cert-manager.io/v1"
#: The self-signed issuer that signs the CA certificate only.
ROOT_ISSUER = "kiva-selfsigned-root"
#: ECDSA P-256: cert-manager accepts RSA 2048/4096/8192 or ECDSA 256/384/521 (`privateKey.size`).
CA_KEY = {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
#: Ten years, renewed a year ahead, so clients that pinned the CA have time to take the new one.
CA_DURATION = "87600h"
CA_RENEW_BEFORE = "8760h"


def ca_secret(issuer: str) -> str:
    """The Secret (in cert-manager's namespace) holding the CA key pair the issuer signs with."""
    return f"{issuer}-key-pair"


@dataclass(frozen=True)
class CertificateIssuerArgs:
    issuer: str
    """Name of the CA ClusterIssuer the gateway's Ingress names (`ingress.clusterIssuer`)."""


class CertificateIssuer(pulumi.ComponentResource):
    """Self-signed root issuer, the CA Certificate, and the CA ClusterIssuer named `issuer`.

    `issuer_resource` is the ClusterIssuer to depend on.
    """

    root_issuer: k8s.apiextensions.CustomResource
    ca_certificate: k8s.apiextensions.CustomResource
    issuer_resource: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        args: CertificateIssuerArgs,
        cert_manager: pulumi.Resource | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:CertificateIssuer", name, None, opts)
        issuer = args.issuer
        meta_labels = labels("kiva", "certificate-issuer")
        # The CRDs and the admission webhook come with the release; Helm waits until it is ready. A
        # cluster that runs its own cert-manager (`operators.certManager.install: false`) has them.
        after_cert_manager = [cert_manager] if cert_manager is not None else []
        self.root_issuer = k8s.apiextensions.CustomResource(
            f"{name}-root",
            api_version=API_VERSION,
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ROOT_ISSUER, labels=meta_labels),
            spec={"selfSigned": {}},
            opts=child_opts(self, depends_on=after_cert_manager),
        )
        self.ca_certificate = k8s.apiextensions.CustomResource(
            f"{name}-ca",
            api_version=API_VERSION,
            kind="Certificate",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ca_secret(issuer), namespace=CERT_MANAGER_NAMESPACE, labels=meta_labels
            ),
            spec={
                "isCA": True,
                "commonName": f"{issuer} (KIVA internal CA)",
                "secretName": ca_secret(issuer),
                "privateKey": CA_KEY,
                "duration": CA_DURATION,
                "renewBefore": CA_RENEW_BEFORE,
                "issuerRef": {"name": ROOT_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"},
            },
            opts=child_opts(self, depends_on=[*after_cert_manager, self.root_issuer]),
        )
        self.issuer_resource = k8s.apiextensions.CustomResource(
            f"{name}-issuer",
            api_version=API_VERSION,
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=issuer, labels=meta_labels),
            spec={"ca": {"secretName": ca_secret(issuer)}},
            opts=child_opts(self, depends_on=[*after_cert_manager, self.ca_certificate]),
        )
        self.register_outputs({"clusterIssuer": issuer})
