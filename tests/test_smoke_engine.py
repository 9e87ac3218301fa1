"""The offline engine runs the real program for every committed stack."""

import pytest

from tests.conftest import STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_registers_the_platform(plan_of, stack):
    plan = plan_of(stack)
    types = {r.type for r in plan.resources}
    assert "pulumi:pulumi:Stack" in types
    assert "kiva:platform:Platform" in types
    urns = [r.urn for r in plan.resources]
    assert len(urns) == len(set(urns)), "the mock engine does not reject duplicate URNs; the real one does"
