"""Issue 9, defect 6 (Azure): the AKS application routing add-on is on iff the ingress class asks for it."""

from __future__ import annotations

from infra.settings.workloads import AKS_APP_ROUTING_CLASS
from tests.azure.helpers import one
from tests.conftest import stack_config

CLUSTER = "azure-native:containerservice:ManagedCluster"


def _routing(plan):
    return one(plan, CLUSTER).inputs.get("ingressProfile")


def test_prod_ingress_of_the_aks_class_enables_app_routing(plan_of):
    assert stack_config("prod")["kiva:gateway"]["ingress"]["className"] == AKS_APP_ROUTING_CLASS
    assert _routing(plan_of("prod")) == {"webAppRouting": {"enabled": True}}


def test_dev_without_ingress_leaves_app_routing_off(plan_of):
    assert "ingress" not in stack_config("dev")["kiva:gateway"]
    assert _routing(plan_of("dev")) is None


def test_dev_with_an_aks_class_ingress_turns_it_on(plan_with):
    gateway = stack_config("dev")["kiva:gateway"]
    gateway["ingress"] = {"host": "llm.dev.example.de", "clusterIssuer": "kiva-ca", "internalCa": True}
    assert _routing(plan_with("dev", {"kiva:gateway": gateway})) == {"webAppRouting": {"enabled": True}}


def test_another_ingress_class_does_not_enable_app_routing(plan_with):
    gateway = stack_config("prod")["kiva:gateway"]
    gateway["ingress"].update(className="nginx", controllerNamespace="ingress-nginx")
    # anonymiseIps patches only the add-on's controller: another class must anonymise in its own log format
    monitoring = {**stack_config("prod")["kiva:monitoring"], "logs": {"anonymiseIps": False}}
    plan = plan_with(
        "prod",
        {
            "kiva:gateway": gateway,
            "kiva:prerequisites": {"ingressClasses": ["nginx"]},
            "kiva:monitoring": monitoring,
        },
    )
    assert _routing(plan) is None
