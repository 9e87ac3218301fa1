"""The `kiva` command line: offline plan and policy check, and the state-backend tools.

Exit codes (DESIGN.md): 0 no mandatory violation, 1 mandatory policy violations,
2 invalid configuration or usage. Errors are one message on stderr, never a traceback
(set KIVA_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from infra.offline.engine import Plan

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """A user-facing error: printed as is, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


def _no_traceback(command: F) -> F:
    """Turn anything unexpected into one line and exit 2, unless KIVA_DEBUG asks for the traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception as error:
            if os.environ.get("KIVA_DEBUG"):
                raise
            raise Failure(
                f"kiva: internal error: {type(error).__name__}: {error} (KIVA_DEBUG=1 shows details)"
            ) from None

    return wrapper  # type: ignore[return-value]


class _KivaGroup(click.Group):
    """Loads the `backend` commands (and boto3) only when they run, so `kiva plan` starts faster."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "backend"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "backend":
            from infra.backend.cli import backend

            return backend
        return super().get_command(ctx, cmd_name)


_project_dir_option = click.option(
    "--project-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory with Pulumi.yaml and the stack files.",
)


def _run_plan(project_dir: Path, stack: str) -> Plan:
    """The real program for `stack` under the mock engine; a configuration error is a usage error."""
    import pulumi

    from infra.offline.engine import run_program
    from infra.offline.stackfile import read_stack_file
    from infra.settings import ConfigError

    try:
        return run_program(read_stack_file(project_dir, stack))
    except (ConfigError, pulumi.RunError) as error:
        raise Failure(str(error)) from None


@click.group(cls=_KivaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kiva-platform")
def main() -> None:
    """KIVA: plan and check the sovereign LLM platform without a cloud account."""


@main.command()
@click.argument("stack", default="dev")
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan in `pulumi preview --json` shape (secrets blinded).",
)
@click.option(
    "--manifests",
    "manifest_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every Kubernetes object as YAML, one file per object (Secret data redacted).",
)
@click.option(
    "--policy-config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Policy pack config (default: policies/config/<stack>.json).",
)
@_project_dir_option
@_no_traceback
def plan(
    stack: str,
    json_file: Path | None,
    manifest_dir: Path | None,
    policy_config: Path | None,
    project_dir: Path,
) -> None:
    """Run the real program for STACK under Pulumi's mock engine, then the policy pack over it."""
    from infra.offline.digest import preview_digest
    from infra.offline.manifests import write_manifests
    from infra.offline.preview_file import planned_resources

    result = _run_plan(project_dir, stack)
    digest = preview_digest(result)
    if json_file:
        json_file.write_text(json.dumps(digest, indent=2) + "\n", encoding="utf-8")
    if manifest_dir:
        try:
            written = write_manifests(result, manifest_dir)
        except (FileExistsError, NotADirectoryError) as error:
            raise Failure(f"--manifests {manifest_dir}: {error}") from None
        click.echo(f"Wrote {len(written)} manifests to {manifest_dir}")
    _check_and_exit(
        planned_resources(digest),
        stack,
        policy_config,
        None,
        header=f"Plan of stack {stack} (project {result.project}): "
        f"{sum(r.custom for r in result.resources)} resources",
        declared=_declared(result.config),
        environment=result.config.get("kiva:environment"),
        footer=[_cost_line(digest, stack, project_dir)],
    )


def _cost_line(digest: dict[str, Any], stack: str, project_dir: Path) -> str:
    """`kiva plan`'s one cost line; a price table problem does not fail the plan, it is said instead."""
    from infra.cost.assumptions import CostFileError
    from infra.cost.prices import PriceError
    from infra.cost.render import summary_line
    from infra.cost.stack_cost import cost_of

    try:
        return summary_line(cost_of(digest, stack, project_dir))
    except (PriceError, CostFileError) as error:
        return f"Cost: not estimated: {error}"


@main.command()
@click.argument("stack", default="dev")
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the estimate as JSON.",
)
@_project_dir_option
@_no_traceback
def cost(stack: str, json_file: Path | None, project_dir: Path) -> None:
    """Estimate STACK's monthly cost in EUR from its offline plan and the price tables in the repository.

    Min/expected/max per component where autoscaling makes the bill uncertain; prices nobody could
    verify are marked. No network call: see docs/cost.md for the formulas and how to refresh prices.
    """
    from infra.cost.assumptions import CostFileError
    from infra.cost.prices import PriceError
    from infra.cost.render import as_json, text
    from infra.cost.stack_cost import cost_of
    from infra.offline.digest import preview_digest

    digest = preview_digest(_run_plan(project_dir, stack))
    try:
        estimate = cost_of(digest, stack, project_dir)
    except (PriceError, CostFileError) as error:
        raise Failure(str(error)) from None
    for line in text(estimate):
        click.echo(line)
    if json_file:
        json_file.write_text(json.dumps(as_json(estimate), indent=2) + "\n", encoding="utf-8")
        click.echo(f"Wrote estimate to {json_file}")


def _declared(config: dict[str, Any]) -> tuple[str, str] | None:
    """The stack's own `kiva:region` and `kiva:jurisdiction` (validated by the program before it ran)."""
    region, jurisdiction = config.get("kiva:region"), config.get("kiva:jurisdiction")
    return (str(region), str(jurisdiction)) if region and jurisdiction else None


@main.command("policy-config")
@click.argument("stack")
@_project_dir_option
@_no_traceback
def policy_config_command(stack: str, project_dir: Path) -> None:
    """Print the policy config STACK gets without a file of its own, as JSON.

    Residency comes from the stack's `kiva:region` and `kiva:jurisdiction`; every other policy is
    mandatory with the strictest settings of the shipped stages of the stack's `kiva:environment`
    (dev and local for development, prod for production). Write it, review it, and commit it:

    \b
    kiva policy-config stackit-prod > policies/config/stackit-prod.json
    pulumi preview -s stackit-prod --policy-pack policies --policy-pack-config policies/config/stackit-prod.json
    """
    from kiva_policies.runner import CONFIG_DIR, derive_policy_config

    from infra.offline.stackfile import read_stack_file
    from infra.settings import ConfigError, load_settings
    from infra.settings.loader import NAMESPACE

    try:
        stack_file = read_stack_file(project_dir, stack)
        prefix = f"{NAMESPACE}:"
        raw = {k.removeprefix(prefix): v for k, v in stack_file.config.items() if k.startswith(prefix)}
        secrets = {k.removeprefix(prefix) for k in stack_file.secret_keys if k.startswith(prefix)}
        settings = load_settings(raw, secrets, source=stack_file.path.name)
    except ConfigError as error:
        raise Failure(str(error)) from None
    config, notes = derive_policy_config(settings.region, settings.jurisdiction, settings.environment)
    existing = CONFIG_DIR / f"{stack}.json"
    if existing.is_file():
        click.echo(f"note: {existing} exists and is what `kiva plan {stack}` uses", err=True)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(json.dumps(config, indent=2))


@main.command()
@click.argument("preview_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--policy-config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Policy pack config (default: policies/config/<stack of the URNs>.json, else strictest).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a reviewer-facing Markdown report (evidence for the security officer).",
)
@click.option(
    "--exceptions",
    "exceptions_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Reviewed exceptions (default: policies/exceptions/<stack of the URNs>.yaml when present).",
)
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the findings as SARIF 2.1.0 (GitHub/GitLab code scanning).",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the verdict, findings and exceptions as JSON.",
)
@click.option(
    "--third-party-scan",
    "scan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The checkov gate's summary (scripts/checkov_gate.py --summary) for the report's "
    "'Third-party scan (checkov)' section.",
)
@_no_traceback
def check(
    preview_file: Path,
    policy_config: Path | None,
    report_file: Path | None,
    exceptions_file: Path | None = None,
    sarif_file: Path | None = None,
    json_file: Path | None = None,
    scan_file: Path | None = None,
) -> None:
    """Run the policy pack over PREVIEW_FILE (`pulumi preview --json` output or `kiva plan --json`)."""
    from kiva_policies.report import ScanSummaryError, load_scan_summary

    from infra.offline.preview_file import PreviewFileError, load_preview, planned_resources, stack_of

    if scan_file is not None and report_file is None:
        raise Failure("--third-party-scan is shown in the report: give --report REPORT.md as well")
    try:
        scan = load_scan_summary(scan_file) if scan_file is not None else None
    except ScanSummaryError as error:
        raise Failure(f"--third-party-scan {error}") from None
    try:
        digest = load_preview(preview_file)
    except PreviewFileError as error:
        raise Failure(str(error)) from None
    resources = planned_resources(digest)
    _check_and_exit(
        resources,
        stack_of(digest),
        policy_config,
        report_file,
        header=f"Check of {preview_file}: {len(resources)} resources",
        report_sections=_cost_section(digest, stack_of(digest)) if report_file else (),
        exceptions_file=exceptions_file,
        outputs=_MachineOutputs(sarif_file, json_file, _stack_file(Path("."), stack_of(digest))),
        third_party_scan=scan,
    )


def _cost_section(digest: dict[str, Any], stack: str | None) -> list[tuple[str, list[str]]]:
    """The reviewer report's cost section, priced from the checked plan (cost file from the current folder)."""
    from infra.cost.assumptions import CostFileError
    from infra.cost.prices import PriceError
    from infra.cost.render import markdown
    from infra.cost.stack_cost import cost_of

    try:
        body = markdown(cost_of(digest, stack or "unknown", Path(".")))
    except (PriceError, CostFileError, KeyError, ValueError, TypeError) as error:
        body = [f"Not estimated: {error}"]
    return [("Estimated monthly cost", body)]


@main.command()
@click.argument("stack", default="dev")
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the verdict as Markdown.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Use this throw-away cluster (kind, say) instead of starting one from KIVA_K8S_TOOLS or KUBEBUILDER_ASSETS.",
)
@click.option(
    "--charts",
    "charts_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Chart cache folder (default: $KIVA_CHARTS_DIR, `:`-separated, else ~/.cache/kiva/charts; then the "
    "repository's charts/; missing charts are pulled into the first).",
)
@_project_dir_option
@click.option("--timeout", type=click.FloatRange(min=10), default=300, show_default=True, help="Seconds.")
@_no_traceback
def twin(
    stack: str,
    report_file: Path | None,
    kubeconfig: Path | None,
    charts_dir: Path | None,
    project_dir: Path,
    timeout: float,
) -> None:
    """Apply STACK's plan to a real Kubernetes control plane with fake nodes and report what Kubernetes says.

    Exit 0 when every object is accepted and every pod placed, 1 otherwise, 2 for usage or setup errors.
    """
    from infra.twin.api import TwinError
    from infra.twin.run import twin as run_twin

    result = _run_plan(project_dir, stack)
    try:
        verdict = run_twin(
            result,
            kubeconfig=kubeconfig,
            charts=charts_dir,
            timeout=timeout,
            progress=lambda line: click.echo(f"kiva twin: {line}", err=True),
        )
    except TwinError as error:
        raise Failure(str(error)) from None
    except KeyboardInterrupt:
        raise Failure("kiva twin: interrupted; the control plane was stopped") from None
    click.echo(verdict.text())
    if report_file:
        report_file.write_text(verdict.markdown(), encoding="utf-8")
        click.echo(f"Wrote report to {report_file}")
    sys.exit(EXIT_OK if verdict.ok else EXIT_VIOLATIONS)


class _MachineOutputs:
    """Where `kiva check` writes SARIF and JSON, and the stack file SARIF results point at (if any)."""

    def __init__(self, sarif: Path | None, json_file: Path | None, stack_file: str | None) -> None:
        self.sarif, self.json, self.stack_file = sarif, json_file, stack_file

    def write(self, report: Any) -> None:
        from kiva_policies.pack import POLICIES
        from kiva_policies.sarif import to_json, to_sarif

        if self.sarif:
            descriptions = {p.name: p.description or "" for p in POLICIES}
            document = to_sarif(report, descriptions, self.stack_file)
            self.sarif.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            click.echo(f"Wrote SARIF to {self.sarif}")
        if self.json:
            self.json.write_text(json.dumps(to_json(report), indent=2) + "\n", encoding="utf-8")
            click.echo(f"Wrote JSON to {self.json}")


def _stack_file(project_dir: Path, stack: str | None) -> str | None:
    """`Pulumi.<stack>.yaml` when it exists in `project_dir` (the physical location of SARIF results)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    return path.as_posix() if stack and path.is_file() else None


def _exceptions(stack: str | None, explicit: Path | None) -> Any:
    """The exceptions in force (`--exceptions`, else `policies/exceptions/<stack>.yaml`), or `None`."""
    from datetime import date

    from kiva_policies.exceptions import ExceptionsFileError, load_exceptions
    from kiva_policies.pack import POLICIES
    from kiva_policies.runner import exceptions_path

    path = exceptions_path(stack, explicit)
    if path is None:
        return None
    try:
        return load_exceptions(path, date.today(), {p.name for p in POLICIES})
    except ExceptionsFileError as error:
        raise Failure(f"exceptions: {error}") from None


def _check_and_exit(
    resources: list[Any],
    stack: str | None,
    policy_config: Path | None,
    report_file: Path | None,
    header: str,
    declared: tuple[str, str] | None = None,
    environment: str | None = None,
    footer: list[str] | tuple[str, ...] = (),
    report_sections: list[tuple[str, list[str]]] | tuple[()] = (),
    exceptions_file: Path | None = None,
    outputs: _MachineOutputs | None = None,
    third_party_scan: dict[str, Any] | None = None,
) -> None:
    from kiva_policies.runner import apply_exceptions, choose_policy_config, run_pack

    from infra.offline.display import component_tree, policy_lines

    try:
        choice = choose_policy_config(stack, policy_config, resources, declared, environment)
    except (OSError, ValueError) as error:
        raise Failure(f"policy config: {error}") from None
    from kiva_policies.day_one import summary as day_one_summary

    exceptions = _exceptions(stack, exceptions_file)
    report = run_pack(resources, choice.config)
    report.config_source = choice.describe()
    if exceptions is not None:
        apply_exceptions(report, exceptions)
    click.echo(header)
    for line in component_tree(resources):
        click.echo(line)
    click.echo("Day one (would it come up?):")
    for line in day_one_summary(resources):
        click.echo(f"  {line}")
    click.echo(f"Policy config: {report.config_source}")
    for line in policy_lines(report):
        click.echo(line)
    for line in footer:
        click.echo(line)
    if report_file:
        from kiva_policies.report import write_report

        write_report(
            report, resources, report_file, sections=report_sections, third_party_scan=third_party_scan
        )
        click.echo(f"Wrote report to {report_file}")
    if outputs is not None:
        outputs.write(report)
    sys.exit(EXIT_VIOLATIONS if report.mandatory_violations else EXIT_OK)


if __name__ == "__main__":
    main()
