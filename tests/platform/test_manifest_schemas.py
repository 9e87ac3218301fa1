"""Every Kubernetes object of dev, prod and local is valid for the configured Kubernetes version.

Built-in kinds: the official JSON schemas in strict mode (`kubernetes-validate`, unknown fields are
errors). Custom resources: the `openAPIV3Schema` of their CRD in `tests/schemas/crds/` (copied
unchanged from upstream, see its README), made strict the same way. Plain JSON Schema does not run
the CRDs' CEL rules; `x-kubernetes-int-or-string` is mapped to "integer or string".
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import STACKS, _committed_plan
from tests.platform.conftest import _azure_plan, objects_of

CRD_DIR = Path(__file__).resolve().parent.parent / "schemas" / "crds"


def kubernetes_version(stack: str) -> str:
    """`kiva:cluster.kubernetesVersion` as a full version (`1.34` -> `1.34.0`)."""
    plan = _committed_plan(stack)
    version = str(yaml.safe_load(plan.config["kiva:cluster"])["kubernetesVersion"])
    return version if version.count(".") == 2 else f"{version}.0"


@cache
def crd_schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> strict JSON schema, from every CRD file."""
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        for version in crd["spec"]["versions"]:
            key = (crd["spec"]["group"], version["name"], crd["spec"]["names"]["kind"])
            schemas[key] = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    return schemas


def _strict(node: Any) -> Any:
    """Unknown fields become errors (as with `kubectl --validate=strict`); int-or-string accepts both."""
    if isinstance(node, dict):
        if node.pop("x-kubernetes-int-or-string", False):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for item in node:
            _strict(item)
    return node


def _custom_schema(manifest: dict[str, Any]) -> dict[str, Any] | None:
    group, _, version = manifest["apiVersion"].rpartition("/")
    return crd_schemas().get((group, version, manifest["kind"]))


def _without_required(node: Any) -> Any:
    """A schema for a server-side-apply patch: the fields it sets must be valid, none is required."""
    if isinstance(node, dict):
        return {key: _without_required(value) for key, value in node.items() if key != "required"}
    if isinstance(node, list):
        return [_without_required(item) for item in node]
    return node


def patches_of(plan: Any) -> set[tuple[str, str]]:
    """(kind, name) of the plan's `…Patch` resources: partial objects, applied server-side onto existing ones."""
    return {
        (str(r.inputs.get("kind")), str((r.inputs.get("metadata") or {}).get("name")))
        for r in plan.resources
        if r.custom and r.type.startswith("kubernetes:") and r.type.endswith("Patch")
    }


def _object_id(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata'].get('name')}"


def _validate_all(
    objects: list[dict[str, Any]], version: str, patches: set[tuple[str, str]] | None = None
) -> list[str]:
    errors = []
    for manifest in objects:
        schema = _custom_schema(manifest)
        if schema is not None and (manifest["kind"], manifest["metadata"].get("name")) in (patches or set()):
            schema = _without_required(schema)
        try:
            if schema is not None:
                jsonschema.Draft7Validator(schema).validate(manifest)
            else:
                kubernetes_validate.validate(manifest, version, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as error:
            errors.append(f"{_object_id(manifest)}: {getattr(error, 'message', error)} at {list(error.path)}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{_object_id(manifest)}: no schema ({error.message}); add its CRD to {CRD_DIR}")
    return errors


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_is_valid_for_the_configured_kubernetes_version(stack):
    plan = _committed_plan(stack)
    objects = objects_of(plan)
    assert objects, "the platform registered no Kubernetes object"
    assert _validate_all(objects, kubernetes_version(stack), patches_of(plan)) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_azure_contract_objects_are_valid(stack):
    """Key Vault (ClusterSecretStore, ExternalSecrets) and Blob backups, whatever the foundation gives."""
    plan = _azure_plan(stack)
    objects = objects_of(plan)
    kinds = {o["kind"] for o in objects}
    assert {"ClusterSecretStore", "ExternalSecret", "ObjectStore"} <= kinds
    assert _validate_all(objects, kubernetes_version(stack), patches_of(plan)) == []


def test_custom_resources_are_checked_against_their_crd():
    """Every custom resource kind the platform creates has its CRD here, so none escapes validation."""
    plans = [_committed_plan(stack) for stack in STACKS] + [_azure_plan("prod")]
    kinds = {
        (o["apiVersion"], o["kind"])
        for plan in plans
        for o in objects_of(plan)
        if "." in o["apiVersion"].partition("/")[0]
        and not o["apiVersion"].partition("/")[0].endswith(".k8s.io")
    }
    assert kinds, "expected custom resources"
    for api_version, kind in kinds:
        assert _custom_schema({"apiVersion": api_version, "kind": kind}) is not None, (api_version, kind)


def test_strict_validation_rejects_unknown_fields():
    """The strict schemas catch a misspelt field (the failure mode typed Args cannot rule out in CRs)."""
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "x"},
        "spec": {"instances": 1, "storage": {"sise": "1Gi"}},
    }
    assert _validate_all([cluster], "1.34.0")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {}, "replicaz": 1},
    }
    assert _validate_all([deployment], "1.34.0")


def test_a_patch_may_leave_out_required_fields_but_not_misspell_one():
    """prod patches the AKS add-on's `NginxIngressController/default` (its log format) server-side."""
    plan = _committed_plan("prod")
    assert ("NginxIngressController", "default") in patches_of(plan)
    patch = {
        "apiVersion": "approuting.kubernetes.azure.com/v1alpha1",
        "kind": "NginxIngressController",
        "metadata": {"name": "default"},
        "spec": {"logFormat": "$time_iso8601"},
    }
    assert _validate_all([patch], "1.34.0") != []  # as a whole object, controllerNamePrefix is required
    assert _validate_all([patch], "1.34.0", {("NginxIngressController", "default")}) == []
    patch["spec"] = {"logFormatt": "$time_iso8601"}
    assert _validate_all([patch], "1.34.0", {("NginxIngressController", "default")}) != []
