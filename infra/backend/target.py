"""What bucket a command is about: a `pulumi login` URL (state) or a stack's backup object store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.backend.errors import BackendError
from infra.backend.url import S3Url, parse_s3_url

#: Noncurrent state versions are kept this long when neither the command nor a stack says otherwise.
DEFAULT_STATE_NONCURRENT_DAYS = 90


@dataclass(frozen=True)
class Target:
    url: S3Url
    purpose: str
    """`state` or `backups of STACK`."""
    noncurrent_days: int | None
    """From `--noncurrent-days`, the stack's `retention.backupDays`, or `None` (no expectation)."""


def backup_target(stack: str, project_dir: Path) -> tuple[S3Url, int]:
    """The object store and backup retention of `Pulumi.<stack>.yaml` (its `existing`-cluster path)."""
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
        # One line: the first problem, and how many more there are.
        more = f" (and {len(error.problems) - 1} more problems)" if len(error.problems) > 1 else ""
        first = error.problems[0] if error.problems else "invalid"
        raise BackendError(f"{error.source}: {first}{more}") from None
    store = settings.backups.object_store
    if store is None:
        raise BackendError(
            f"Pulumi.{stack}.yaml: kiva:backups.objectStore is not set; this stack backs up to its own "
            "Azure storage account, which the stack itself creates"
        )
    endpoint = str(store.endpoint).rstrip("/")
    url = S3Url(
        bucket=store.bucket,
        prefix=store.path.strip("/"),
        region=store.region,
        endpoint_url=endpoint,
        path_style=True,
        profile=None,
    )
    return url, settings.retention.backup_days


def resolve_target(url_text: str | None, for_backups: str | None, noncurrent_days: int | None,
                   project_dir: Path, *, default_days: int | None) -> Target:  # fmt: skip
    """Exactly one of URL and `--for-backups`; days from the option, else the stack, else `default_days`."""
    if (url_text is None) == (for_backups is None):
        raise BackendError("give either an s3:// URL or --for-backups STACK (exactly one)")
    if for_backups is not None:
        url, days = backup_target(for_backups, project_dir)
        return Target(url, f"backups of stack {for_backups}", noncurrent_days or days)
    assert url_text is not None
    return Target(parse_s3_url(url_text), "Pulumi state", noncurrent_days or default_days)
