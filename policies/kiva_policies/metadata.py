"""What each policy of the pack evidences, as data: severity, rationale and the controls it maps to.

Reviewers of a German public body check a stack against BSI IT-Grundschutz (APP.4.4 Kubernetes,
SYS.1.6 Containerisierung), BSI C5:2020 and the GDPR. This module is the one place that says which
policy is evidence for which requirement; the README's policy table, the report's APP.4.4 coverage
table and the SARIF rules are generated from it (`tests/policies/test_metadata.py` keeps them in sync
and fails when a policy of `pack.POLICIES` has no entry here). Enforcement per stage is *not* declared
here: it is read from `policies/config/<stage>.json` by the generators, so it cannot drift.

Sources (titles verified against the text of the requirements, Edition 2023):
- APP.4.4 Kubernetes and SYS.1.6 Containerisierung: BSI IT-Grundschutz-Kompendium Edition 2023,
  https://www.bsi.bund.de/SharedDocs/Downloads/DE/BSI/Grundschutz/IT-GS-Kompendium_Einzel_PDFs_2023/06_APP_Anwendungen/APP_4_4_Kubernetes_Edition_2023.pdf
  and .../07_SYS_IT_Systeme/SYS_1_6_Containerisierung_Edition_2023.pdf.
- C5:2020 criteria are named by their ids in the German edition (KRY = Kryptographie, RB = Regelbetrieb,
  KOS = Kommunikationssicherheit, IDM, PSS); the English edition names KRY, RB and KOS as CRY, OPS and COS.
- GDPR articles: Regulation (EU) 2016/679 (Art. 5 principles, 25 data protection by design and by
  default, 32 security of processing, 44 general principle for transfers).

A mapping states which requirement a policy *produces evidence for*; it is not a claim that the policy
alone fulfils the requirement (see the coverage table for what remains organisational).
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("critical", "high", "medium", "low")

#: APP.4.4 Kubernetes (Edition 2023): id → (title, level: B basic, S standard, H high protection needs).
APP_4_4: dict[str, tuple[str, str]] = {
    "APP.4.4.A1": ("Planung der Separierung der Anwendungen", "B"),
    "APP.4.4.A2": ("Planung der Automatisierung mit CI/CD", "B"),
    "APP.4.4.A3": ("Identitäts- und Berechtigungsmanagement bei Kubernetes", "B"),
    "APP.4.4.A4": ("Separierung von Pods", "B"),
    "APP.4.4.A5": ("Datensicherung im Cluster", "B"),
    "APP.4.4.A6": ("Initialisierung von Pods", "S"),
    "APP.4.4.A7": ("Separierung der Netze bei Kubernetes", "S"),
    "APP.4.4.A8": ("Absicherung von Konfigurationsdateien bei Kubernetes", "S"),
    "APP.4.4.A9": ("Nutzung von Kubernetes Service-Accounts", "S"),
    "APP.4.4.A10": ("Absicherung von Prozessen der Automatisierung", "S"),
    "APP.4.4.A11": ("Überwachung der Container", "S"),
    "APP.4.4.A12": ("Absicherung der Infrastruktur-Anwendungen", "S"),
    "APP.4.4.A13": ("Automatisierte Auditierung der Konfiguration", "H"),
    "APP.4.4.A14": ("Verwendung dedizierter Nodes", "H"),
    "APP.4.4.A15": ("Trennung von Anwendungen auf Node- und Cluster-Ebene", "H"),
    "APP.4.4.A16": ("Verwendung von Operatoren", "H"),
    "APP.4.4.A17": ("Attestierung von Nodes", "H"),
    "APP.4.4.A18": ("Verwendung von Mikro-Segmentierung", "H"),
    "APP.4.4.A19": ("Hochverfügbarkeit von Kubernetes", "H"),
    "APP.4.4.A20": ("Verschlüsselte Datenhaltung bei Pods", "H"),
    "APP.4.4.A21": ("Regelmäßiger Restart von Pods", "H"),
}

#: The SYS.1.6 Containerisierung requirements the pack maps to (Edition 2023 titles).
SYS_1_6: dict[str, str] = {
    "SYS.1.6.A5": "Separierung der Administrations- und Zugangsnetze bei Containern",
    "SYS.1.6.A6": "Verwendung sicherer Images",
    "SYS.1.6.A7": "Persistenz von Protokollierungsdaten der Container",
    "SYS.1.6.A8": "Sichere Speicherung von Zugangsdaten bei Containern",
    "SYS.1.6.A15": "Limitierung der Ressourcen pro Container",
    "SYS.1.6.A17": "Ausführung von Containern ohne Privilegien",
    "SYS.1.6.A18": "Accounts der Anwendungsdienste",
    "SYS.1.6.A19": "Einbinden von Datenspeichern in Container",
    "SYS.1.6.A25": "Hochverfügbarkeit von containerisierten Anwendungen",
    "SYS.1.6.A26": "Weitergehende Isolation und Kapselung von Containern",
}

#: The C5:2020 criteria the pack maps to (German ids; short English titles).
C5_2020: dict[str, str] = {
    "IDM-06": "Administrator authorisations",
    "IDM-08": "Secure login methods",
    "KOS-01": "Technical safeguards",
    "KOS-03": "Cross-network access",
    "KOS-04": "Networks for administration",
    "KRY-02": "Encryption of data for transmission (transport encryption)",
    "KRY-03": "Encryption of sensitive data for storage",
    "KRY-04": "Secure key management",
    "RB-06": "Data backup and restoration - concept",
    "RB-09": "Data backup and restoration - storage",
    "RB-10": "Logging and monitoring - concept",
    "RB-22": "Handling of vulnerabilities, malfunctions and errors - system hardening",
    "RB-23": "Segregation of stored and processed data of the cloud customers",
    "PSS-12": "Locations of data processing and storage",
}

GDPR: dict[str, str] = {
    "5": "Principles relating to processing of personal data",
    "25": "Data protection by design and by default",
    "32": "Security of processing",
    "44": "General principle for transfers",
}


@dataclass(frozen=True)
class PolicyMetadata:
    """One policy's review metadata; `id` is the policy name."""

    id: str
    severity: str
    rationale: str
    app_4_4: tuple[str, ...] = ()
    sys_1_6: tuple[str, ...] = ()
    c5: tuple[str, ...] = ()
    gdpr: tuple[str, ...] = ()

    @property
    def controls(self) -> tuple[str, ...]:
        """Every control id, e.g. for SARIF tags: `APP.4.4.A7`, `SYS.1.6.A8`, `C5:KRY-03`, `GDPR:Art.32`."""
        return (
            *self.app_4_4,
            *self.sys_1_6,
            *(f"C5:{c}" for c in self.c5),
            *(f"GDPR:Art.{a}" for a in self.gdpr),
        )


def _m(
    id: str,
    severity: str,
    rationale: str,
    app: tuple[str, ...] = (),
    sys: tuple[str, ...] = (),
    c5: tuple[str, ...] = (),
    gdpr: tuple[str, ...] = (),
) -> PolicyMetadata:
    return PolicyMetadata(id, severity, rationale, app, sys, c5, gdpr)


_ENTRIES = [
    # --- residency ---
    _m(
        "kiva-residency-location-in-allow-list",
        "critical",
        "Resources outside the allowed EU/EEA regions would transfer personal data to a third country.",
        c5=("PSS-12",),
        gdpr=("44", "32"),
    ),
    _m(
        "kiva-residency-declared-region-in-allow-list",
        "critical",
        "Clusters without cloud locations must declare where they run, or residency cannot be judged.",
        c5=("PSS-12",),
        gdpr=("44",),
    ),
    _m(
        "kiva-residency-external-providers-in-eu",
        "critical",
        "An external LLM provider outside the EU/EEA would receive prompts, i.e. personal data.",
        c5=("PSS-12",),
        gdpr=("44", "5"),
    ),
    _m(
        "kiva-residency-backup-destinations",
        "critical",
        "Backups hold the gateway's personal data and must stay in the EU/EEA like the data itself.",
        app=("APP.4.4.A5",),
        c5=("PSS-12", "RB-09"),
        gdpr=("44", "32"),
    ),
    # --- telemetry ---
    _m(
        "kiva-telemetry-switches-off",
        "high",
        "Telemetry of third-party products sends usage data to their vendors without a legal basis.",
        c5=("PSS-12",),
        gdpr=("5", "25"),
    ),
    _m(
        "kiva-telemetry-litellm-no-third-party-callbacks",
        "high",
        "Gateway callbacks forward request data, including prompts, to third-party services.",
        c5=("PSS-12",),
        gdpr=("5", "25", "44"),
    ),
    # --- retention ---
    _m(
        "kiva-retention-log-analytics-days",
        "medium",
        "Logs must be kept long enough for security analysis and no longer than the purpose requires.",
        sys=("SYS.1.6.A7",),
        c5=("RB-10",),
        gdpr=("5",),
    ),
    _m(
        "kiva-retention-litellm-spend-logs",
        "medium",
        "Spend logs name users and teams; storage limitation requires deleting them after a set period.",
        gdpr=("5",),
    ),
    _m(
        "kiva-retention-prompts-not-stored",
        "high",
        "Stored prompts and responses are personal data the platform has no purpose to keep.",
        gdpr=("5", "25"),
    ),
    _m(
        "kiva-retention-database-backups",
        "medium",
        "Backups must be kept long enough to restore and be deleted when their retention ends.",
        app=("APP.4.4.A5",),
        c5=("RB-06", "RB-09"),
        gdpr=("5", "32"),
    ),
    _m(
        "kiva-retention-database-backups-configured",
        "high",
        "A database without a declared backup cannot be restored after loss or corruption.",
        app=("APP.4.4.A5",),
        c5=("RB-06",),
        gdpr=("32",),
    ),
    _m(
        "kiva-retention-key-vault-soft-delete",
        "high",
        "A purged key or secret cannot be recovered; soft delete with purge protection prevents loss.",
        c5=("KRY-04",),
        gdpr=("32",),
    ),
    _m(
        "kiva-retention-blob-soft-delete",
        "medium",
        "Soft delete lets a deleted or overwritten backup be recovered within the retention window.",
        app=("APP.4.4.A5",),
        c5=("RB-06",),
        gdpr=("32",),
    ),
    _m(
        "kiva-retention-blob-soft-delete-configured",
        "medium",
        "A storage account without blob service settings silently lacks soft delete.",
        app=("APP.4.4.A5",),
        c5=("RB-06",),
        gdpr=("32",),
    ),
    # --- observability ---
    _m(
        "kiva-observability-grafana-phone-home-off",
        "high",
        "Grafana's usage reporting and external snapshots send data to the vendor and to the internet.",
        c5=("PSS-12",),
        gdpr=("5", "25"),
    ),
    _m(
        "kiva-observability-no-external-egress",
        "high",
        "Metrics and alerts leaving the cluster can carry personal data to third parties.",
        c5=("KOS-01", "PSS-12"),
        gdpr=("5", "44"),
    ),
    _m(
        "kiva-observability-no-prompt-logging",
        "high",
        "Request and debug logging writes prompts and outputs, i.e. personal data, into the logs.",
        gdpr=("5", "25"),
    ),
    _m(
        "kiva-observability-log-retention",
        "medium",
        "Logs and metrics must be kept within a stated retention, neither forever nor too short.",
        sys=("SYS.1.6.A7",),
        c5=("RB-10",),
        gdpr=("5",),
    ),
    # --- hardening ---
    _m(
        "kiva-hardening-aks-access-restricted",
        "critical",
        "An API server open to the internet with local accounts bypasses personal, audited access.",
        app=("APP.4.4.A3", "APP.4.4.A7"),
        c5=("IDM-06", "IDM-08", "KOS-04"),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-key-vault-access-restricted",
        "high",
        "A vault reachable from public networks or authorized by access policies widens who can read keys.",
        app=("APP.4.4.A3",),
        sys=("SYS.1.6.A8",),
        c5=("KRY-04", "IDM-06", "KOS-01"),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-container-security-context",
        "high",
        "Privileged or root containers can escape to the node and reach every other workload.",
        app=("APP.4.4.A4",),
        sys=("SYS.1.6.A17", "SYS.1.6.A18"),
        c5=("RB-22",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-container-image-pinned",
        "medium",
        "Moving tags make the deployed software unreviewable and irreproducible.",
        sys=("SYS.1.6.A6",),
        c5=("RB-22",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-container-resource-limits",
        "medium",
        "A container without limits can exhaust its node and take down its neighbours.",
        app=("APP.4.4.A1",),
        sys=("SYS.1.6.A15",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-internal-services-not-exposed",
        "critical",
        "An exposed database or model server bypasses the gateway's authentication and budgets.",
        app=("APP.4.4.A7",),
        sys=("SYS.1.6.A5",),
        c5=("KOS-01", "KOS-03"),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-no-secret-literals",
        "critical",
        "A secret in a ConfigMap or env value is readable by anyone who can read the manifest.",
        app=("APP.4.4.A2",),
        sys=("SYS.1.6.A8",),
        c5=("KRY-04",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-data-stores-protected",
        "high",
        "Deleting a data store by accident destroys personal data and its backups.",
        app=("APP.4.4.A5",),
        c5=("RB-06",),
        gdpr=("32",),
    ),
    _m(
        "kiva-secrets-table-by-reference",
        "critical",
        "Every secret of the platform must be read from a Kubernetes Secret, never inlined.",
        app=("APP.4.4.A2",),
        sys=("SYS.1.6.A8",),
        c5=("KRY-04",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-key-vault-public-access-disabled",
        "high",
        "A vault reachable from public networks exposes the platform's keys to the whole internet.",
        app=("APP.4.4.A12",),
        sys=("SYS.1.6.A8",),
        c5=("KOS-01", "KRY-04"),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-storage-account-public-access-disabled",
        "high",
        "A backup account reachable from public networks exposes the database's backups to the whole internet.",
        app=("APP.4.4.A5", "APP.4.4.A12"),
        c5=("KOS-01",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-storage-account-tls12",
        "high",
        "TLS below 1.2 lets backups and logs travel over broken transport encryption.",
        app=("APP.4.4.A12",),
        c5=("KRY-02",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-no-host-access",
        "critical",
        "Host namespaces, hostPath volumes and added capabilities break the isolation between pod and node.",
        app=("APP.4.4.A4",),
        sys=("SYS.1.6.A17", "SYS.1.6.A19"),
        c5=("RB-22",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-service-account-token-not-mounted",
        "medium",
        "A pod that never calls the Kubernetes API should hold no token an attacker could use.",
        app=("APP.4.4.A9",),
        c5=("IDM-06",),
        gdpr=("32",),
    ),
    _m(
        "kiva-hardening-container-uid-high",
        "medium",
        "User IDs below 10000 can collide with privileged accounts of the node.",
        app=("APP.4.4.A4",),
        sys=("SYS.1.6.A17", "SYS.1.6.A18"),
        c5=("RB-22",),
    ),
    _m(
        "kiva-hardening-tokens-as-files",
        "medium",
        "Tokens in environment variables leak through process listings, crash dumps and child processes.",
        sys=("SYS.1.6.A8",),
        c5=("KRY-04",),
        gdpr=("32",),
    ),
    _m(
        "kiva-images-pinned-by-digest",
        "medium",
        "A tag can be moved to other content; only a digest makes the reviewed plan what the cluster pulls.",
        app=("APP.4.4.A2",),
        sys=("SYS.1.6.A6",),
        c5=("RB-22",),
        gdpr=("32",),
    ),
    _m(
        "kiva-teams-have-budgets",
        "low",
        "A team without a budget can run up unbounded cost on external providers.",
    ),
    _m(
        "kiva-budgets-cover-local-models",
        "low",
        "A local model without a price is booked at 0, so no team or key budget ever stops its requests.",
    ),
    _m(
        "kiva-redis-private",
        "high",
        "An open Redis hands its counters, and with the response cache prompts and responses, to anyone who reaches it.",
        app=("APP.4.4.A7", "APP.4.4.A18"),
        c5=("KOS-01",),
        gdpr=("32",),
    ),
    # --- topology ---
    _m(
        "kiva-scheduling-gpu-workloads-on-gpu-pools",
        "low",
        "GPU workloads belong on dedicated GPU nodes, separated from the rest of the platform.",
        app=("APP.4.4.A14",),
        sys=("SYS.1.6.A26",),
    ),
    _m(
        "kiva-availability-disruption-budgets",
        "medium",
        "Without a disruption budget, node maintenance can take every replica down at once.",
        app=("APP.4.4.A19",),
        sys=("SYS.1.6.A25",),
        gdpr=("32",),
    ),
    _m(
        "kiva-network-default-deny",
        "high",
        "Without default deny, every pod can reach every other pod across namespaces.",
        app=("APP.4.4.A7", "APP.4.4.A18"),
        sys=("SYS.1.6.A5",),
        c5=("KOS-01", "KOS-03"),
        gdpr=("32",),
    ),
    # --- day one ---
    _m(
        "kiva-day-one-pods-placed",
        "high",
        "A pod no node admits never starts: the plan would not come up.",
        app=("APP.4.4.A14",),
    ),
    _m(
        "kiva-day-one-gpu-nodes-covered",
        "high",
        "Without a device plugin no GPU node advertises GPUs and no model server starts.",
    ),
    _m(
        "kiva-day-one-rwo-claims-single-node",
        "high",
        "A ReadWriteOnce volume shared by pods on different nodes blocks all but one of them.",
        sys=("SYS.1.6.A19",),
    ),
    _m(
        "kiva-day-one-crds-installed",
        "high",
        "A custom resource without its CRD is rejected by the API server.",
        app=("APP.4.4.A16",),
    ),
    _m(
        "kiva-day-one-controllers-present",
        "medium",
        "An object without its controller is accepted but never reconciled.",
    ),
    _m(
        "kiva-network-required-flows-allowed",
        "high",
        "Network policies that block a required flow break the platform on day one.",
        app=("APP.4.4.A7", "APP.4.4.A18"),
    ),
    _m(
        "kiva-network-nothing-else-open",
        "medium",
        "A network rule no required flow uses opens a path nobody reviewed.",
        app=("APP.4.4.A7", "APP.4.4.A18"),
        c5=("KOS-01",),
        gdpr=("32",),
    ),
    _m(
        "kiva-network-database-not-open-to-all",
        "critical",
        "A database open to all namespaces or addresses exposes every stored key and log.",
        app=("APP.4.4.A7", "APP.4.4.A18"),
        c5=("KOS-01", "KOS-03"),
        gdpr=("32",),
    ),
    _m(
        "kiva-reachability-cloud-firewalls",
        "high",
        "A vault or backup store its firewall closes to the cluster fails secrets and backups.",
        app=("APP.4.4.A5",),
        c5=("KOS-01",),
    ),
    _m(
        "kiva-names-kubernetes-syntax",
        "low",
        "Names the API server rejects stop the deployment half-way.",
    ),
]

#: Review metadata per policy name (every policy of `pack.POLICIES` has an entry; a test checks it).
METADATA: dict[str, PolicyMetadata] = {entry.id: entry for entry in _ENTRIES}

#: The pseudo-rule under which an expired or malformed exception is reported (not a pack policy).
EXCEPTIONS_RULE = PolicyMetadata(
    "kiva-exceptions-valid",
    "high",
    "An exception that has expired or lacks its reason, owner, ticket or expiry waives nothing.",
    app_4_4=("APP.4.4.A13",),
)

# --- APP.4.4 coverage ---------------------------------------------------------------------------------

AUTOMATED, PARTLY, ORGANISATIONAL, NOT_APPLICABLE = (
    "automated",
    "partly automated",
    "organisational",
    "not applicable",
)


@dataclass(frozen=True)
class Coverage:
    """How far the pack evidences one APP.4.4 requirement, and why no further."""

    status: str
    reason: str


#: Every APP.4.4 requirement (basic, standard and high): how the pack covers it. The policies that
#: evidence a requirement are the ones whose metadata names it (`policies_for`).
APP_4_4_COVERAGE: dict[str, Coverage] = {
    "APP.4.4.A1": Coverage(
        PARTLY,
        "The platform runs in its own namespace with resource limits per container (checked); the "
        "separation plan and the choice of clusters per protection need are organisational.",
    ),
    "APP.4.4.A2": Coverage(
        PARTLY,
        "Secrets are checked to be by reference and never literal; planning the CI/CD lifecycle and the "
        "role concept is organisational.",
    ),
    "APP.4.4.A3": Coverage(
        PARTLY,
        "AKS local accounts off and Entra ID RBAC on, Key Vault RBAC (checked); who gets which rights "
        "is organisational.",
    ),
    "APP.4.4.A4": Coverage(
        PARTLY,
        "Containers run non-root, unprivileged, without added capabilities and without host namespaces or hostPath (checked); kernel isolation "
        "(namespaces, cgroups) is a property of the node OS and the runtime.",
    ),
    "APP.4.4.A5": Coverage(
        PARTLY,
        "Database backups, their retention, blob soft delete and deletion protection are checked; "
        "backing up etcd, cluster state and registries is the provider's or operator's task.",
    ),
    "APP.4.4.A6": Coverage(
        ORGANISATIONAL,
        "Whether an application initialises in an init container is a property of its image; the plan "
        "cannot tell initialisation from normal start-up.",
    ),
    "APP.4.4.A7": Coverage(
        AUTOMATED,
        "Default-deny network policies, only required flows open, the database and model servers not "
        "exposed and the API server not open to the internet are checked.",
    ),
    "APP.4.4.A8": Coverage(
        ORGANISATIONAL,
        "The stack is versioned in Git and reviewed; access to the repository and to the state backend "
        "is granted outside the plan.",
    ),
    "APP.4.4.A9": Coverage(
        PARTLY,
        "Pods that never call the API mount no service-account token (checked); RBAC grants of the "
        "service accounts and of the default account are reviewed by the operator.",
    ),
    "APP.4.4.A10": Coverage(
        ORGANISATIONAL,
        "Rights of the CI/CD pipelines that run `pulumi up` are set in the CI system, not in the plan.",
    ),
    "APP.4.4.A11": Coverage(
        ORGANISATIONAL,
        "Health checks are set by the components, but the pack does not yet require them on every "
        "container; reviewed with the manifests.",
    ),
    "APP.4.4.A12": Coverage(
        PARTLY,
        "Key Vault and backup storage are checked for RBAC, public network access, TLS 1.2 and "
        "recoverability; "
        "registries and CI servers outside the stack are organisational.",
    ),
    "APP.4.4.A13": Coverage(
        AUTOMATED,
        "This pack is the automated audit of the configuration: it runs on every preview and offline "
        "plan, and exceptions expire.",
    ),
    "APP.4.4.A14": Coverage(
        PARTLY,
        "GPU workloads are pinned to dedicated GPU pools (checked); bastion and management nodes are "
        "the provider's design.",
    ),
    "APP.4.4.A15": Coverage(
        ORGANISATIONAL,
        "Whether very-high-protection applications get their own cluster is decided per deployment.",
    ),
    "APP.4.4.A16": Coverage(
        PARTLY,
        "The database runs under the CloudNativePG operator and its CRDs are checked to be installed; "
        "choosing operators is a design decision.",
    ),
    "APP.4.4.A17": Coverage(
        NOT_APPLICABLE,
        "Node attestation is a property of the managed node images and the provider, not of the stack.",
    ),
    "APP.4.4.A18": Coverage(
        AUTOMATED,
        "Network policies are evaluated flow by flow: every rule must carry a required flow and the "
        "database is not open to all.",
    ),
    "APP.4.4.A19": Coverage(
        PARTLY,
        "Disruption budgets for replicated workloads are checked; multi-site operation is the "
        "provider's and operator's design.",
    ),
    "APP.4.4.A20": Coverage(
        NOT_APPLICABLE,
        "Encryption at rest of etcd and disks is provided by the managed cloud service (platform keys) "
        "and not configurable in the plan today.",
    ),
    "APP.4.4.A21": Coverage(
        ORGANISATIONAL,
        "Restarting pods every 24 hours is an operational decision for very high protection needs.",
    ),
}


def policies_for(requirement: str, names: list[str] | None = None) -> list[str]:
    """The policies (of `names`, default every policy with metadata) whose metadata names `requirement`."""
    candidates = names if names is not None else list(METADATA)
    return [n for n in candidates if n in METADATA and requirement in METADATA[n].app_4_4]


__all__ = [
    "APP_4_4",
    "APP_4_4_COVERAGE",
    "C5_2020",
    "EXCEPTIONS_RULE",
    "GDPR",
    "METADATA",
    "SEVERITIES",
    "SYS_1_6",
    "Coverage",
    "PolicyMetadata",
    "policies_for",
]
