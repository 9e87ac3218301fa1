"""`kiva backend …` commands (issue "Sovereign state backend").

Exit codes: 0 compliant, 1 not compliant, 2 bad URL, non-EU region, unreachable endpoint or bad stack.
Errors are one line on stderr. Credentials are read the standard way and never printed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from infra.backend.bucket import Check, Desired, bootstrap, bucket_exists, inspect
from infra.backend.client import make_client, make_session, resolve_region
from infra.backend.errors import BackendError
from infra.backend.region import allowed_regions, require_eu_region
from infra.backend.target import DEFAULT_STATE_NONCURRENT_DAYS, Target, resolve_target

_DAYS = click.IntRange(1, 3650)


def _one_line_errors(command: Callable[..., None]) -> Callable[..., None]:
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except BackendError as error:
            click.echo(f"error: {error}", err=True)
            raise SystemExit(error.exit_code) from None
        except Exception as error:  # anything else: still one line, never a traceback
            click.echo(f"error: {type(error).__name__}: {error}", err=True)
            raise SystemExit(2) from None

    return run


def _prepare(target: Target) -> tuple[Any, Desired]:
    """Region check first (local), then the client. Nothing is contacted before the region passed."""
    session = make_session(target.url)
    region = require_eu_region(resolve_region(target.url, session), target.url.endpoint_url)
    where = f"{target.url.endpoint_url or 'AWS S3'} ({region})"
    desired = Desired(
        target.url.bucket,
        region,
        target.noncurrent_days,
        where,
        tuple(allowed_regions(target.url.endpoint_url)),
    )
    return make_client(target.url, session, region), desired


def _print_checks(checks: list[Check]) -> None:
    width = max(len(check.setting) for check in checks)
    for check in checks:
        required = f" (required: {check.required})" if not check.ok and check.required else ""
        click.echo(f"  {check.setting:<{width}}  {'pass' if check.ok else 'FAIL'}  {check.detail}{required}")


@click.group()
def backend() -> None:
    """Create and verify the EU S3-compatible bucket for Pulumi state and database backups."""


@backend.command("bootstrap")
@click.argument("url", required=False)
@click.option(
    "--noncurrent-days",
    type=_DAYS,
    default=None,
    help="Expire noncurrent object versions after N days (default: the stack's "
    f"retention.backupDays with --for-backups, else {DEFAULT_STATE_NONCURRENT_DAYS}).",
)
@click.option(
    "--for-backups",
    "stack",
    metavar="STACK",
    default=None,
    help="Bootstrap the database backup bucket of Pulumi.STACK.yaml (kiva:backups.objectStore).",
)
@_one_line_errors
def bootstrap_command(url: str | None, noncurrent_days: int | None, stack: str | None) -> None:
    """Create or repair the bucket of URL, the exact s3:// URL you give `pulumi login`.

    \b
    kiva backend bootstrap 's3://kiva-state?endpoint=s3-eu-central-1.ionoscloud.com&region=de&s3ForcePathStyle=true'
    kiva backend bootstrap --for-backups local
    """
    target = resolve_target(
        url, stack, noncurrent_days, Path.cwd(), default_days=DEFAULT_STATE_NONCURRENT_DAYS
    )
    client, desired = _prepare(target)
    click.echo(f"{target.purpose}: bucket {desired.bucket} at {desired.where}")
    outcome = bootstrap(client, desired)
    if outcome.created:
        click.echo(f"  created bucket {desired.bucket} in {desired.region}")
    for repair in outcome.repairs:
        click.echo(f"  {'set' if outcome.created else 'repaired'} {repair}")
    for failure in outcome.failed:
        click.echo(f"  could not set {failure}")
    _print_checks(outcome.checks)
    if not outcome.compliant:
        failing = ", ".join(check.setting for check in outcome.checks if not check.ok)
        click.echo(f"bucket {desired.bucket} is NOT compliant: {failing}")
        raise SystemExit(1)
    if outcome.created or outcome.repairs:
        click.echo(f"bucket {desired.bucket} is compliant")
    else:
        click.echo(f"bucket {desired.bucket} is already compliant; nothing changed")


@backend.command("verify")
@click.argument("url", required=False)
@click.option(
    "--noncurrent-days",
    type=_DAYS,
    default=None,
    help="Also require that noncurrent versions expire after exactly N days.",
)
@click.option(
    "--for-backups",
    "stack",
    metavar="STACK",
    default=None,
    help="Verify the database backup bucket of Pulumi.STACK.yaml (against its retention.backupDays).",
)
@_one_line_errors
def verify_command(url: str | None, noncurrent_days: int | None, stack: str | None) -> None:
    """Report region, versioning, encryption, public access block and lifecycle of URL's bucket.

    Exit 0 when compliant, 1 when not, 2 on a bad URL or an unreachable endpoint. Changes nothing.
    """
    target = resolve_target(url, stack, noncurrent_days, Path.cwd(), default_days=None)
    client, desired = _prepare(target)
    click.echo(f"{target.purpose}: bucket {desired.bucket} at {desired.where}")
    if not bucket_exists(client, desired):
        click.echo(f"  bucket  FAIL  {desired.bucket} does not exist (run `kiva backend bootstrap`)")
        raise SystemExit(1)
    checks = inspect(client, desired)
    _print_checks(checks)
    failing = [check.setting for check in checks if not check.ok]
    if failing:
        click.echo(f"bucket {desired.bucket} is NOT compliant: {', '.join(failing)}")
        raise SystemExit(1)
    click.echo(f"bucket {desired.bucket} is compliant")
