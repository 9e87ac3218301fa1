"""A stack without `policies/config/<stack>.json` gets a config derived from its own declaration."""

from __future__ import annotations

import json

import pytest
from kiva_policies import runner
from kiva_policies.pack import POLICIES
from kiva_policies.report import render_report
from kiva_policies.runner import (
    PlannedResource,
    choose_policy_config,
    derive_policy_config,
    resolve_config,
    run_pack,
)

DECLARED = "kiva-residency-declared-region-in-allow-list"


def _namespace(region: str, jurisdiction: str, name: str = "kiva") -> PlannedResource:
    annotations = {"kiva.platform/region": region, "kiva.platform/jurisdiction": jurisdiction}
    return PlannedResource(
        urn=f"urn:pulumi:stackit-prod::kiva::kubernetes:core/v1:Namespace::{name}",
        type="kubernetes:core/v1:Namespace",
        name=name,
        props={"metadata": {"name": name, "annotations": annotations}},
    )


def test_residency_allows_only_the_declared_country() -> None:
    config, _ = derive_policy_config("eu01", "DE")
    declared = config[DECLARED]
    assert declared["allowedJurisdictions"] == ["DE"]
    assert declared["declaredRegion"] == "eu01"
    assert declared["declaredJurisdiction"] == "DE"
    assert "eu01" in declared["allowedRegions"] and "de/fra" in declared["allowedRegions"]
    assert not {"eu-nl", "westeurope", "francecentral", "eu-central-2"} & set(declared["allowedRegions"])
    assert config["kiva-residency-location-in-allow-list"]["allowedLocations"] == [
        "germanynorth",
        "germanywestcentral",
    ]
    assert config["kiva-residency-backup-destinations"]["allowedS3Regions"] == [
        "de", "eu-central-1", "eu-central-3", "eu-de", "eu01",
    ]  # fmt: skip


def test_on_prem_region_is_allowed_with_its_jurisdiction_only() -> None:
    declared = derive_policy_config("on-prem", "NL")[0][DECLARED]
    assert declared["allowedJurisdictions"] == ["NL"]
    assert "on-prem" in declared["allowedRegions"] and "eu-nl" in declared["allowedRegions"]
    assert "eu01" not in declared["allowedRegions"]


@pytest.mark.parametrize("jurisdiction", ["US", "CH", "EU"])
def test_a_jurisdiction_that_is_not_one_eu_country_keeps_the_eu_defaults(jurisdiction: str) -> None:
    config, notes = derive_policy_config("eu01", jurisdiction)
    schema_default = dict(DECLARED_DEFAULTS)
    assert (
        config[DECLARED].get("allowedJurisdictions", schema_default["allowedJurisdictions"])
        == (schema_default["allowedJurisdictions"])
    )
    allowed = resolve_config(config)[DECLARED][1]["allowedJurisdictions"]
    assert (jurisdiction in allowed) == (jurisdiction == "EU")  # the pack's default list has `EU` itself
    assert notes[-1] == (
        f"jurisdiction {jurisdiction!r} is not one EU/EEA country: residency keeps the pack's EU/EEA defaults"
    )


DECLARED_DEFAULTS = {
    key: spec["default"]
    for policy in POLICIES
    if policy.name == DECLARED and policy.config_schema
    for key, spec in policy.config_schema.properties.items()
    if "default" in spec
}


def test_never_looser_than_any_shipped_stage() -> None:
    """Every policy mandatory; every bound at least as strict as each stage's (where ranges overlap)."""
    config, notes = derive_policy_config("eu01", "DE")
    derived = resolve_config(config)
    stages = {
        stage: resolve_config(json.loads((runner.CONFIG_DIR / f"{stage}.json").read_text()))
        for stage in runner.SHIPPED_STAGES
    }
    assert {level for level, _ in derived.values()} == {"mandatory"}
    assert derived["kiva-retention-litellm-spend-logs"][1]["maxDays"] == 30  # dev/local 30, prod 90
    assert derived["kiva-retention-log-analytics-days"][1] == {"minDays": 90, "maxDays": 90}
    assert derived["kiva-retention-key-vault-soft-delete"][1]["minSoftDeleteDays"] == 90
    assert derived["kiva-retention-blob-soft-delete"][1]["minDays"] == 30
    for name, (_, props) in derived.items():
        for key, value in props.items():
            if key.startswith("min") and name != "kiva-retention-database-backups":
                assert all(value >= s[name][1][key] for s in stages.values()), (name, key)
            if key.startswith("max") and name != "kiva-retention-database-backups":
                assert all(value <= s[name][1][key] for s in stages.values()), (name, key)
    # dev 7..14 and prod 30..35 do not overlap: prod's range, and the choice is reported.
    assert derived["kiva-retention-database-backups"][1] == {"minDays": 30, "maxDays": 35}
    assert notes == [
        "kiva-retention-database-backups: the shipped stages' minDays/maxDays ranges do not overlap; "
        "prod's 30..35 is used"
    ]


def test_the_stage_environments_are_those_of_the_shipped_stack_files() -> None:
    import yaml

    project = runner.CONFIG_DIR.parent.parent
    for stage, environment in runner.STAGE_ENVIRONMENTS.items():
        stack_file = yaml.safe_load((project / f"Pulumi.{stage}.yaml").read_text())
        assert stack_file["config"]["kiva:environment"] == environment, stage


@pytest.mark.parametrize(
    ("environment", "stages", "backups"),
    [
        ("development", ("dev", "local"), {"minDays": 7, "maxDays": 14}),
        ("production", ("prod",), {"minDays": 30, "maxDays": 35}),
    ],
)
def test_a_fork_is_held_to_the_shipped_stages_of_its_own_environment(
    environment: str, stages: tuple[str, ...], backups: dict
) -> None:
    """A development fork may keep a week of backups like dev and local; a production fork may not."""
    config, notes = derive_policy_config("eu-de", "DE", environment)
    derived = resolve_config(config)
    assert derived["kiva-retention-database-backups"][1] == backups
    assert notes == []
    for stage in stages:
        shipped = resolve_config(json.loads((runner.CONFIG_DIR / f"{stage}.json").read_text()))
        for name, (_, props) in derived.items():
            for key, value in props.items():
                if key.startswith("min") and key in shipped[name][1]:
                    assert value >= shipped[name][1][key], (stage, name, key)
                if key.startswith("max") and key in shipped[name][1]:
                    assert value <= shipped[name][1][key], (stage, name, key)
    choice = runner.choose_policy_config("otc-dev", None, [], ("eu-de", "DE"), environment)
    assert f"strictest settings of the shipped stages ({', '.join(stages)})" in choice.describe()


def test_a_stack_file_wins_over_derivation() -> None:
    choice = choose_policy_config("prod", None, [_namespace("eu01", "DE")])
    assert choice.path == runner.CONFIG_DIR / "prod.json"
    assert choice.derived_from is None
    assert choice.describe() == str(runner.CONFIG_DIR / "prod.json")


def test_forked_stack_derives_from_the_plan_and_says_so() -> None:
    choice = choose_policy_config("stackit-prod", None, [_namespace("eu01", "DE")])
    assert choice.derived_from == ("eu01", "DE")
    text = choice.describe()
    assert text.startswith(
        "derived (no config file): residency from the declared region eu01 and jurisdiction DE"
    )
    assert (
        "policies/config/stackit-prod.json (write it with `kiva policy-config stackit-prod`) would override it"
        in text
    )


def test_the_caller_s_declaration_wins_over_the_plan() -> None:
    choice = choose_policy_config("stackit-prod", None, [_namespace("eu01", "DE")], ("eu-nl", "NL"))
    assert choice.derived_from == ("eu-nl", "NL")


def test_check_without_stack_and_without_declaration_says_what_it_used() -> None:
    choice = choose_policy_config(None, None, [])
    assert choice.config == {}
    assert choice.describe() == (
        "none (strictest settings): the pack defaults apply; --policy-config FILE would override it; "
        "not derived: the plan declares no region and jurisdiction"
    )


def test_conflicting_declarations_derive_nothing() -> None:
    resources = [_namespace("eu01", "DE", "a"), _namespace("eu-nl", "NL", "b")]
    choice = choose_policy_config(None, None, resources)
    assert choice.config == {}
    assert "not derived: the plan declares several locations (eu-nl/NL, eu01/DE)" in choice.describe()


def test_derived_config_judges_a_wrong_declaration_and_the_report_names_it() -> None:
    resources = [_namespace("eu-nl", "NL")]
    choice = choose_policy_config("stackit-prod", None, resources, ("eu01", "DE"))
    report = run_pack(resources, choice.config)
    report.config_source = choice.describe()
    messages = [f.message for f in report.findings_of(DECLARED)]
    assert "Namespace kiva declares jurisdiction 'NL', which is not in the allow-list DE." in messages
    assert "- Policy config: derived (no config file): residency from the declared region eu01" in (
        render_report(report, resources)
    )
