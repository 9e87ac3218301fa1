"""Gateway teams and their service keys as code (`kiva:teams`), reconciled through LiteLLM's management API.

Each team gets a budget, so that no service can spend without limit; each of its service keys may
narrow the team's models and limits further. The field names follow LiteLLM 1.108.7's request bodies
(`TeamBase`, `litellm/models/team.py:63`; `GenerateRequestBase`,
`litellm/types/proxy/management_endpoints/request_base.py:24`): `max_budget`, `budget_duration`,
`rpm_limit`, `tpm_limit`, `models`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from infra.settings.base import DnsLabel, KivaModel

#: The budget periods LiteLLM 1.108.7 accepts and can reset: a number and `s`, `m`, `h`, `d` or `w`, or `1mo`.
#: Every budget write checks the period (`validate_budget_duration`,
#: `litellm/proxy/management_endpoints/common_utils.py:28`, via `_is_persistable_budget_duration` in
#: `litellm/proxy/common_utils/timezone_utils.py`) and answers 400 where computing the next reset fails:
#: months other than 1 (`_handle_month_reset`, `litellm/litellm_core_utils/duration_parser.py:399`, "only
#: support 1 month intervals"), 0, a bare number, or a date past year 9999 (so at most five digits here).
#: LiteLLM also reads the words `hourly`/`daily`/`weekly`/`monthly` and ignores trailing text
#: (`_normalize_duration` and `_extract_from_regex` in duration_parser.py); this pattern takes neither.
BUDGET_DURATION_PATTERN = r"^([1-9][0-9]{0,4}(s|m|h|d|w)|1mo)$"

BudgetDuration = Annotated[str, Field(pattern=BUDGET_DURATION_PATTERN, examples=["30d"])]
"""A budget period as LiteLLM reads it, e.g. `30d`, `1mo`, `24h`."""


class ServiceKey(KivaModel):
    """One service's API key in a team: created once, delivered as a secret (Key Vault on Azure, else a
    Kubernetes Secret), never shown."""

    name: DnsLabel
    """The service, e.g. `bescheid-assistent`; the key's alias on the gateway is `<team>/<name>`."""
    models: list[str] = Field(default_factory=list)
    """Models the key may call, a subset of the team's; empty: all of the team's models."""
    max_budget: float | None = Field(default=None, gt=0)
    """Most the key may spend per `budgetDuration`, in the unit of the models' costs; unset: the team's budget alone."""
    budget_duration: BudgetDuration | None = None
    """Period after which the key's spend is reset, e.g. `30d`; needs `maxBudget`."""
    rpm_limit: int | None = Field(default=None, ge=1)
    """Requests per minute the key may make; unset: the team's limit."""
    tpm_limit: int | None = Field(default=None, ge=1)
    """Tokens per minute the key may use; unset: the team's limit."""


class Team(KivaModel):
    """A LiteLLM team: the models it may use, its budget per period, its rate limits and its service keys."""

    alias: DnsLabel
    """Team name on the gateway (`team_alias`; the team id is `kiva-<alias>`), e.g. `sozialamt`."""
    models: list[str] = Field(min_length=1)
    """Models the team may call: `servedName`s of `kiva:models` or names of `kiva:providers[].models`."""
    max_budget: float = Field(gt=0)
    """Most the team may spend per `budgetDuration`, in the unit of the models' costs (LiteLLM has no currency), e.g. 500."""
    budget_duration: BudgetDuration
    """Period after which the team's spend is reset, e.g. `30d` or `1mo` (LiteLLM resets months only as `1mo`)."""
    rpm_limit: int | None = Field(default=None, ge=1)
    """Requests per minute for the whole team; unset: no team limit."""
    tpm_limit: int | None = Field(default=None, ge=1)
    """Tokens per minute for the whole team; unset: no team limit."""
    keys: list[ServiceKey] = Field(default_factory=list)
    """One key per service that calls the gateway on the team's account."""


def check_teams(teams: list[Team], served: set[str]) -> tuple[str, str] | None:
    """The first problem of `kiva:teams` as `(key path, message)`, or `None`.

    Models must be ones the stack serves (a team allowed an unknown model would get errors at run time
    only), aliases and key names unique (the gateway requires unique key aliases,
    `_enforce_unique_key_alias` in `key_management_endpoints.py`), and a key's models within its team's.
    """
    known = ", ".join(sorted(served)) or "none"
    aliases: set[str] = set()
    for i, team in enumerate(teams):
        if team.alias in aliases:
            return f"teams[{i}].alias", f"duplicate team alias {team.alias!r}; e.g. {team.alias}-2"
        aliases.add(team.alias)
        for j, model in enumerate(team.models):
            if model not in served:
                return (
                    f"teams[{i}].models[{j}]",
                    f"{model!r} is not served by this stack; use a servedName of kiva:models or a name of "
                    f"kiva:providers[].models (served: {known})",
                )
        names: set[str] = set()
        for j, key in enumerate(team.keys):
            where = f"teams[{i}].keys[{j}]"
            if key.name in names:
                return f"{where}.name", f"duplicate key name {key.name!r} in team {team.alias!r}"
            names.add(key.name)
            for k, model in enumerate(key.models):
                if model not in team.models:
                    return (
                        f"{where}.models[{k}]",
                        f"{model!r} is not among the models of team {team.alias!r} ({', '.join(team.models)}); "
                        "a key may only narrow its team's models",
                    )
            if key.budget_duration is not None and key.max_budget is None:
                return (
                    f"{where}.budgetDuration",
                    "resets a budget the key does not have; set maxBudget as well (e.g. maxBudget: 50, "
                    "budgetDuration: 30d) or remove budgetDuration",
                )
            if key.max_budget is not None and key.max_budget > team.max_budget:
                return (
                    f"{where}.maxBudget",
                    f"{key.max_budget:g} is above the maxBudget of team {team.alias!r} ({team.max_budget:g}); the "
                    f"team's budget stops the key first (e.g. maxBudget: {team.max_budget:g})",
                )
    return None
