"""Model servers on spot GPU pools tolerate the taint AKS puts on spot nodes."""

SPOT = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}


def _model_tolerations(plan):
    deployments = [
        r
        for kind in ("Deployment", "StatefulSet")
        for r in plan.of_type(f"kubernetes:apps/v1:{kind}")
        if "vllm" in str(r.inputs["spec"]["template"])
    ]
    assert deployments
    return [d.inputs["spec"]["template"]["spec"]["tolerations"] for d in deployments]


def test_model_on_a_spot_pool_tolerates_the_spot_taint(plan_of):
    # dev's T4 pool is a spot pool (Pulumi.dev.yaml: spot: true)
    assert all(SPOT in tolerations for tolerations in _model_tolerations(plan_of("dev")))


def test_model_on_a_regular_pool_does_not(plan_of):
    assert all(SPOT not in tolerations for tolerations in _model_tolerations(plan_of("prod")))
