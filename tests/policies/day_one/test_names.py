"""Day-one names and labels: Kubernetes syntax the API server accepts."""

from __future__ import annotations

import pytest
from kiva_policies.day_one.names import label_value_error, port_name_error, qualified_name_error

from tests.policies.day_one.network_fixtures import committed, edit, messages, run

POLICY = "kiva-names-kubernetes-syntax"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_stacks_pass(stack: str) -> None:
    assert run(committed(stack), POLICY).findings == []


def test_a_region_with_a_slash_as_label_value_is_caught() -> None:
    """Issue 9 (14): an IONOS region `de/fra` put into a label value."""
    resources = edit(
        committed("dev"),
        "kiva-namespaces-kiva",
        lambda p: p["metadata"].setdefault("labels", {}).update({"kiva.platform/region": "de/fra"}),
    )
    found = messages(run(resources, POLICY))
    assert len(found) == 1 and found[0].startswith("kiva-namespaces-kiva: Namespace kiva-namespaces-kiva: ")
    assert "label value 'de/fra' of 'kiva.platform/region'" in found[0] and "no '/'" in found[0]


def test_pod_template_labels_and_selectors_are_checked() -> None:
    def bad(props: dict) -> None:
        props["spec"]["template"]["metadata"]["labels"]["kiva.platform/model"] = "x" * 64

    resources = edit(committed("dev"), "kiva-gateway-deployment", bad)
    found = messages(run(resources, POLICY))
    assert len(found) == 1 and "longer than 63 characters" in found[0]
    assert ".spec.template.metadata.labels" in found[0]


@pytest.mark.parametrize(
    "resource, change, expected",
    [
        ("kiva-gateway-service", lambda p: p["metadata"].update(name="1-gateway"), "not a DNS-1035 label"),
        (
            "kiva-namespaces-kiva",
            lambda p: p["metadata"].update(name="kiva.platform"),
            "not a DNS-1123 label",
        ),
        (
            "kiva-gateway-config",
            lambda p: p["metadata"].update(name="Kiva_Config"),
            "not a DNS-1123 subdomain",
        ),
        (
            "kiva-gateway-deployment",
            lambda p: p["metadata"].setdefault("annotations", {}).update({"a/b/c": "x"}),
            "annotation key 'a/b/c' at .metadata.annotations has more than one '/'",
        ),
        (
            "kiva-gateway-deployment",
            lambda p: p["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
                name="gateway-http-port"
            ),
            "port name 'gateway-http-port' of container 'litellm' longer than 15 characters",
        ),
    ],
)
def test_invalid_names_are_reported(resource: str, change, expected: str) -> None:
    found = messages(run(edit(committed("dev"), resource, change), POLICY))
    assert any(m.startswith(f"{resource}: ") and expected in m for m in found), found


def test_syntax_helpers_follow_apimachinery() -> None:
    assert label_value_error("") is None and label_value_error("eu-central-1") is None
    assert label_value_error("-x") and label_value_error("de/fra")
    assert qualified_name_error("app.kubernetes.io/name") is None
    assert qualified_name_error("/name") and qualified_name_error("Bad_Prefix/name")
    assert port_name_error("http") is None and port_name_error("8080") and port_name_error("a--b")
