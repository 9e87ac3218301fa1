"""kiva-teams-have-budgets: every gateway team the stack creates has a budget and a period that resets it.

A LiteLLM team without `max_budget` may spend without limit; one without `budget_duration` spends its
budget once and is then blocked for good: LiteLLM 1.108.7 sets a team's `budget_reset_at`, which the reset
job reads, only where `budget_duration` is set (`new_team`, `proxy/management_endpoints/team_endpoints.py:1833`;
`/team/update` clears it with the period, `_set_budget_reset_at`, line 2824). The period must be one LiteLLM
can reset: a number and `s`, `m`, `h`, `d` or `w`, or `1mo`. Other month counts, 0 and bare numbers are
refused with 400 at `/team/new` (`validate_budget_duration`, `proxy/management_endpoints/common_utils.py:28`;
`_handle_month_reset` in `litellm_core_utils/duration_parser.py:399` resets months only as `1mo`). The
stack's settings use the same rule (`infra/settings/teams.py`, `BUDGET_DURATION_PATTERN`), which this
program does not import. Teams are the stack's dynamic resources `pulumi-python:dynamic/kiva:GatewayTeam`
(`components/platform/teams.py`), whose inputs carry LiteLLM's field names.
"""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY, get

GATEWAY_TEAM = "pulumi-python:dynamic/kiva:GatewayTeam"
DURATION = re.compile(r"^([1-9][0-9]{0,4}(s|m|h|d|w)|1mo)$")


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != GATEWAY_TEAM:
        return
    team = get(args.props, "team_alias") or args.name
    budget = get(args.props, "max_budget")
    duration = get(args.props, "budget_duration")
    problems = []
    if not isinstance(budget, int | float) or isinstance(budget, bool) or budget <= 0:
        problems.append(f"`max_budget` is {budget!r} (must be a number above 0, e.g. 500)")
    if not isinstance(duration, str) or not DURATION.match(duration):
        problems.append(f"`budget_duration` is {duration!r} (must be a period such as '30d' or '1mo')")
    if problems:
        report(f"Gateway team '{team}' has no working budget: {'; '.join(problems)}.", None)


teams_have_budgets = ResourceValidationPolicy(
    name="kiva-teams-have-budgets",
    description="Every gateway team has a budget above 0 and a period after which it resets.",
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [teams_have_budgets]
