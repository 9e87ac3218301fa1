"""The hardened AKS cluster, its resource group, network, Log Analytics workspace and upgrade windows.

Hardening follows the AKS baseline and what a German security review asks for:
- Entra ID with Azure RBAC only: local accounts (and thus the static admin kubeconfig) are disabled;
- OIDC issuer and workload identity on, so pods reach Key Vault and storage without any stored secret;
- Azure CNI overlay with a network policy engine, the system pool tainted `CriticalAddonsOnly`;
- the API server private or limited to authorised ranges, never open to the internet in prod;
- patch and node-image upgrades applied automatically, but only inside the configured window;
- API server audit logs and Container Insights in a Log Analytics workspace with explicit retention.

Two things `az aks create` does that ARM (and so Pulumi) does not, done here explicitly:
- the cluster's identity gets Network Contributor on the bring-your-own node subnet, without which the
  cloud provider cannot join LoadBalancer frontends to it (`LinkedAuthorizationFailed`);
- with an ingress of class `webapprouting.kubernetes.azure.com`, the application routing add-on
  (managed NGINX in `app-routing-system`) is enabled, so that the Ingress has a controller.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, monitor, operationalinsights, resources
from pulumi_azure_native import containerservice as cs

from components.azure.common import AzureContext, BuiltInRole, resource_prefix, role_assignment
from components.azure.network import ClusterNetwork, ClusterNetworkArgs

#: Taint of the system pool: only critical add-ons (CoreDNS, konnectivity, metrics-server) run there.
SYSTEM_POOL_TAINT = "CriticalAddonsOnly=true:NoSchedule"
#: AKS control-plane log categories sent to Log Analytics: every API request, and Entra ID (guard) auth.
AUDIT_LOG_CATEGORIES = ("kube-audit", "guard")
#: Container Insights' default stream group (inventory, performance, ContainerLogV2, events).
CONTAINER_INSIGHTS_STREAM = "Microsoft-ContainerInsights-Group-Default"
#: The names AKS reserves for the two planned-maintenance configurations.
AUTO_UPGRADE_SCHEDULE = "aksManagedAutoUpgradeSchedule"
NODE_OS_UPGRADE_SCHEDULE = "aksManagedNodeOSUpgradeSchedule"


@dataclass(frozen=True)
class SystemPoolArgs:
    """The system pool (`kiva:cluster.systemPool`): autoscaled, tainted `CriticalAddonsOnly`."""

    vm_size: str
    os_disk_size_gb: int
    min_count: int
    max_count: int


@dataclass(frozen=True)
class MaintenanceArgs:
    """The weekly upgrade window (`kiva:cluster.maintenance`)."""

    day_of_week: str
    start_hour: int
    duration_hours: int
    utc_offset: str


@dataclass(frozen=True)
class AksClusterArgs:
    """Everything the cluster, its network and its workspace take from the stack's settings."""

    kubernetes_version: str
    sku_tier: str
    system_pool: SystemPoolArgs
    zones: tuple[str, ...]
    """Zones of the system pool."""
    admin_group_object_ids: tuple[str, ...]
    network_policy: str
    """Network policy engine and dataplane (`cilium` or `azure`)."""
    network: ClusterNetworkArgs
    pod_cidr: str
    service_cidr: str
    dns_service_ip: str
    private_api_server: bool
    authorized_ip_ranges: tuple[str, ...]
    """Ranges that may reach a public API server (ignored when it is private)."""
    maintenance: MaintenanceArgs
    log_retention_days: int
    """`retention.logAnalyticsDays` of the workspace."""
    app_routing: bool
    """Enable the application routing add-on: the gateway's Ingress uses its class."""
    protect: bool
    """Protect the cluster from deletion (production)."""


def _principal_id(identity: cs.outputs.ManagedClusterIdentityResponse | None) -> str:
    assert identity is not None and identity.principal_id, "a system-assigned identity has a principal id"
    return identity.principal_id


class AksCluster(pulumi.ComponentResource):
    """Resource group, VNet, Log Analytics workspace, ManagedCluster, diagnostics and upgrade windows."""

    resource_group: resources.ResourceGroup
    network: ClusterNetwork
    workspace: operationalinsights.Workspace
    cluster: cs.ManagedCluster
    diagnostics: monitor.DiagnosticSetting
    deployer_admin: authorization.RoleAssignment
    subnet_network_contributor: authorization.RoleAssignment
    insights_rule: monitor.DataCollectionRule
    insights_association: monitor.DataCollectionRuleAssociation
    maintenance: list[cs.MaintenanceConfiguration]
    kubeconfig: pulumi.Output[str]
    """The user kubeconfig in exec (kubelogin) form, as a Pulumi secret."""
    oidc_issuer_url: pulumi.Output[str]

    def __init__(
        self, name: str, ctx: AzureContext, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kiva:azure:AksCluster", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        prefix = resource_prefix(name)

        self.resource_group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=f"{prefix}-rg",
            location=ctx.location,
            tags=ctx.tags,
            opts=child_opts,
        )
        group = self.resource_group.name
        self.network = ClusterNetwork(prefix, ctx, group, args.network, opts=child_opts)
        self.workspace = operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=f"{prefix}-logs",
            resource_group_name=group,
            location=ctx.location,
            sku=operationalinsights.WorkspaceSkuArgs(
                name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018
            ),
            retention_in_days=args.log_retention_days,
            features=operationalinsights.WorkspaceFeaturesArgs(
                enable_log_access_using_only_resource_permissions=True,
                disable_local_auth=True,
            ),
            tags=ctx.tags,
            opts=child_opts,
        )
        self.cluster = cs.ManagedCluster(
            f"{name}-aks",
            resource_name_=f"{prefix}-aks",
            resource_group_name=group,
            location=ctx.location,
            dns_prefix=prefix,
            kubernetes_version=args.kubernetes_version,
            node_resource_group=f"{prefix}-aks-nodes",
            sku=cs.ManagedClusterSKUArgs(name=cs.ManagedClusterSKUName.BASE, tier=args.sku_tier),
            identity=cs.ManagedClusterIdentityArgs(type=cs.ResourceIdentityType.SYSTEM_ASSIGNED),
            agent_pool_profiles=[self._system_pool(args)],
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile=cs.ManagedClusterAADProfileArgs(
                managed=True,
                enable_azure_rbac=True,
                admin_group_object_ids=list(args.admin_group_object_ids),
                tenant_id=ctx.tenant_id,
            ),
            oidc_issuer_profile=cs.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=cs.ManagedClusterSecurityProfileArgs(
                workload_identity=cs.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
                image_cleaner=cs.ManagedClusterSecurityProfileImageCleanerArgs(
                    enabled=True, interval_hours=168
                ),
            ),
            network_profile=cs.ContainerServiceNetworkProfileArgs(
                network_plugin=cs.NetworkPlugin.AZURE,
                network_plugin_mode=cs.NetworkPluginMode.OVERLAY,
                network_policy=args.network_policy,
                network_dataplane=args.network_policy,
                pod_cidr=args.pod_cidr,
                service_cidr=args.service_cidr,
                dns_service_ip=args.dns_service_ip,
                load_balancer_sku=cs.LoadBalancerSku.STANDARD,
                outbound_type=cs.OutboundType.LOAD_BALANCER,
            ),
            api_server_access_profile=cs.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=True, enable_private_cluster_public_fqdn=False
            )
            if args.private_api_server
            else cs.ManagedClusterAPIServerAccessProfileArgs(
                authorized_ip_ranges=list(args.authorized_ip_ranges)
            ),
            auto_upgrade_profile=cs.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=cs.UpgradeChannel.PATCH,
                node_os_upgrade_channel=cs.NodeOSUpgradeChannel.NODE_IMAGE,
            ),
            addon_profiles={
                # Container Insights: container logs and inventory into the workspace, with Entra ID auth.
                "omsagent": cs.ManagedClusterAddonProfileArgs(
                    enabled=True,
                    config={"logAnalyticsWorkspaceResourceID": self.workspace.id, "useAADAuth": "true"},
                ),
                "azurepolicy": cs.ManagedClusterAddonProfileArgs(enabled=True),
            },
            ingress_profile=cs.ManagedClusterIngressProfileArgs(
                web_app_routing=cs.ManagedClusterIngressProfileWebAppRoutingArgs(enabled=True)
            )
            if args.app_routing
            else None,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions.merge(
                child_opts,
                pulumi.ResourceOptions(
                    protect=args.protect,
                    depends_on=[self.network.endpoint_subnet],
                    # The autoscaler owns the current node count.
                    ignore_changes=["agentPoolProfiles[0].count"],
                ),
            ),
        )
        self.diagnostics = monitor.DiagnosticSetting(
            f"{name}-audit",
            name=f"{prefix}-audit",
            resource_uri=self.cluster.id,
            workspace_id=self.workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True) for c in AUDIT_LOG_CATEGORIES],
            opts=child_opts,
        )
        # The deploying identity installs the platform through the Kubernetes API: with local accounts
        # disabled that needs an Azure RBAC role on the cluster (Entra ID groups are for people).
        self.deployer_admin = role_assignment(
            f"{name}-deployer-cluster-admin", ctx, self.cluster.id, BuiltInRole.AKS_RBAC_CLUSTER_ADMIN,
            ctx.deployer_object_id, service_principal=False, opts=child_opts,
        )  # fmt: skip
        # With a bring-your-own subnet the cluster identity needs Network Contributor on it, or the cloud
        # provider cannot put LoadBalancer frontends (the ingress controller's) into the subnet.
        self.subnet_network_contributor = role_assignment(
            f"{name}-subnet-network-contributor", ctx, self.network.node_subnet.id,
            BuiltInRole.NETWORK_CONTRIBUTOR, self.cluster.identity.apply(_principal_id),
            service_principal=True, opts=child_opts,
        )  # fmt: skip
        self.insights_rule, self.insights_association = self._container_insights(
            name, prefix, ctx, group, child_opts
        )
        self.maintenance = [
            self._window(f"{name}-{suffix}", config_name, group, args, child_opts)
            for suffix, config_name in (
                ("upgrades", AUTO_UPGRADE_SCHEDULE),
                ("node-os", NODE_OS_UPGRADE_SCHEDULE),
            )
        ]
        credentials = cs.list_managed_cluster_user_credentials_output(
            resource_group_name=group,
            resource_name=self.cluster.name,
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self.cluster]),
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs.apply(lambda configs: base64.b64decode(configs[0].value).decode())
        )
        self.oidc_issuer_url = self.cluster.oidc_issuer_profile.apply(
            lambda profile: (profile.issuer_url if profile else None) or ""
        )
        self.register_outputs(
            {
                "clusterId": self.cluster.id,
                "oidcIssuerUrl": self.oidc_issuer_url,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _system_pool(self, args: AksClusterArgs) -> cs.ManagedClusterAgentPoolProfileArgs:
        pool = args.system_pool
        return cs.ManagedClusterAgentPoolProfileArgs(
            name="system",
            mode=cs.AgentPoolMode.SYSTEM,
            type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
            vm_size=pool.vm_size,
            os_type=cs.OSType.LINUX,
            os_sku=cs.OSSKU.AZURE_LINUX,
            os_disk_size_gb=pool.os_disk_size_gb,
            count=pool.min_count,
            enable_auto_scaling=True,
            min_count=pool.min_count,
            max_count=pool.max_count,
            availability_zones=list(args.zones) or None,
            node_taints=[SYSTEM_POOL_TAINT],
            enable_node_public_ip=False,
            vnet_subnet_id=self.network.node_subnet.id,
            orchestrator_version=args.kubernetes_version,
            upgrade_settings=cs.AgentPoolUpgradeSettingsArgs(max_surge="33%"),
        )

    def _container_insights(
        self,
        name: str,
        prefix: str,
        ctx: AzureContext,
        group: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
    ) -> tuple[monitor.DataCollectionRule, monitor.DataCollectionRuleAssociation]:
        """The data collection rule the Container Insights agent needs with managed-identity auth.

        Without a rule associated with the cluster, the agent authenticates but collects nothing.
        """
        rule = monitor.DataCollectionRule(
            f"{name}-insights",
            data_collection_rule_name=f"MSCI-{ctx.location}-{prefix}-aks",
            resource_group_name=group,
            location=ctx.location,
            kind="Linux",
            data_sources=monitor.DataCollectionRuleDataSourcesArgs(
                extensions=[
                    monitor.ExtensionDataSourceArgs(
                        name="ContainerInsightsExtension",
                        extension_name="ContainerInsights",
                        streams=[CONTAINER_INSIGHTS_STREAM],
                        extension_settings={
                            "dataCollectionSettings": {
                                "interval": "1m",
                                "namespaceFilteringMode": "Off",
                                "enableContainerLogV2": True,
                            }
                        },
                    )
                ]
            ),
            destinations=monitor.DataCollectionRuleDestinationsArgs(
                log_analytics=[
                    monitor.LogAnalyticsDestinationArgs(
                        name="ciworkspace", workspace_resource_id=self.workspace.id
                    )
                ]
            ),
            data_flows=[
                monitor.DataFlowArgs(streams=[CONTAINER_INSIGHTS_STREAM], destinations=["ciworkspace"])
            ],
            tags=ctx.tags,
            opts=opts,
        )
        association = monitor.DataCollectionRuleAssociation(
            f"{name}-insights-association",
            association_name="ContainerInsightsExtension",
            resource_uri=self.cluster.id,
            data_collection_rule_id=rule.id,
            opts=opts,
        )
        return rule, association

    def _window(
        self,
        name: str,
        config_name: str,
        group: pulumi.Input[str],
        args: AksClusterArgs,
        opts: pulumi.ResourceOptions,
    ) -> cs.MaintenanceConfiguration:
        window = args.maintenance
        return cs.MaintenanceConfiguration(
            name,
            config_name=config_name,
            resource_group_name=group,
            resource_name_=self.cluster.name,
            maintenance_window=cs.MaintenanceWindowArgs(
                schedule=cs.ScheduleArgs(
                    weekly=cs.WeeklyScheduleArgs(day_of_week=window.day_of_week, interval_weeks=1)
                ),
                duration_hours=window.duration_hours,
                start_time=f"{window.start_hour:02d}:00",
                utc_offset=window.utc_offset,
            ),
            opts=opts,
        )
