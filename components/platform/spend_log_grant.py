"""A CronJob that lets CloudNativePG's exporter read one column of LiteLLM's spend logs.

The custom query of `monitoring/spend_log_query.py` runs as `cnpg_metrics_exporter` and needs
`GRANT SELECT ("startTime") ON public."LiteLLM_SpendLogs"`. That table does not exist when the database
is bootstrapped: LiteLLM creates it when the gateway starts (its Prisma migration), as the application
role, which therefore owns it and may grant on it. So the grant cannot be part of `initdb`
(`postInitApplicationSQL` runs before the table exists), and a one-off Kubernetes Job would make
`pulumi up` wait for a table only the gateway's first start creates (pulumi-kubernetes awaits a
`batch/v1.Job` until its `Complete` condition, failing after 10 minutes, per its API docs; a CronJob is
registered without waiting). A CronJob is the robust choice:

- it needs no order: until the table exists it logs so and exits 0, the next run grants;
- it is idempotent: it grants only where the privilege is missing, so every other run changes nothing;
- it repairs: after a restore into a new cluster, a recreated role or table (a LiteLLM upgrade that
  rebuilds it), or a manual REVOKE, the next run grants again within the hour;
- it holds no more power than the application already has: it connects as the application role with
  that role's own credentials (the `kiva-db-app` Secret CloudNativePG bootstraps the owner from), not
  as a superuser (`enableSuperuserAccess: false`).

It connects to the cluster's `-rw` Service (the primary: a GRANT must run there), not the pooler, so it
works with and without PgBouncer; the network policies let only these pods reach the instances on
5432 (`network_policies.py`). The password is mounted as a file and written into a `PGPASSFILE` in a
memory-backed `emptyDir`, so it is in no container's environment (libpq reads `PGPASSFILE`,
PostgreSQL docs "The Password File": `hostname:port:database:username:password`, with `:` and `\\`
escaped by a backslash, and the file ignored unless its mode is 0600 or stricter).

The image is the Cluster's own pinned PostgreSQL image (`infra/versions.py`), which ships `psql`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE
from components.platform.common import (
    DATABASE_SECRET,
    child_opts,
    container_security,
    empty_dir,
    env,
    labels,
    pod_security,
    selector,
)
from components.platform.database_names import DATABASE_NAME
from components.platform.monitoring.spend_log_query import GRANT

NAME = "spend-log-grant"
COMPONENT = "database-grant"
RESOURCE_NAME = "kiva-spend-log-grant"
#: The labels selecting these pods (network policies).
POD_LABELS = selector(NAME, COMPONENT)
#: Hourly, off the full hour (LiteLLM's own jobs and backups start on it).
SCHEDULE = "17 * * * *"
#: Non-root and outside the image's own `postgres` user (26): nothing in the image needs to be owned.
UID = 10001
#: The primary, through CloudNativePG's read-write Service (same namespace).
HOST = f"{DATABASE_CLUSTER_NAME}-rw"
SECRET_DIR = "/etc/kiva/database"
TMP_DIR = "/tmp"

#: Idempotent: nothing before LiteLLM's migration or before the operator created the exporter's role,
#: nothing where the privilege is already there. Schema-qualified throughout, so no `search_path` matters.
GRANT_SQL = f"""\
DO $kiva$
BEGIN
  IF pg_catalog.to_regclass('public."LiteLLM_SpendLogs"') IS NULL THEN
    RAISE NOTICE 'kiva: public."LiteLLM_SpendLogs" does not exist yet (the gateway creates it); nothing to grant';
  ELSIF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'cnpg_metrics_exporter') THEN
    RAISE NOTICE 'kiva: the role cnpg_metrics_exporter does not exist yet (the operator creates it); nothing to grant';
  ELSIF pg_catalog.has_column_privilege(
      'cnpg_metrics_exporter', 'public."LiteLLM_SpendLogs"', 'startTime', 'SELECT') THEN
    RAISE NOTICE 'kiva: cnpg_metrics_exporter already reads "startTime"; nothing to do';
  ELSE
    {GRANT}
    RAISE NOTICE 'kiva: granted SELECT ("startTime") ON public."LiteLLM_SpendLogs" TO cnpg_metrics_exporter';
  END IF;
END
$kiva$;
"""


def grant_script(secret_dir: str = SECRET_DIR, tmp_dir: str = TMP_DIR) -> str:
    """The container's shell script: a password file from the mounted Secret, then `GRANT_SQL` via psql.

    Expects `PGHOST`, `PGPORT`, `PGDATABASE` in the environment; the user name and the password come
    from `secret_dir` (keys `username`, `password` of a `kubernetes.io/basic-auth` Secret).
    """
    return f"""\
set -eu
umask 077
PGUSER="$(cat {secret_dir}/username)"
# PGPASSFILE: any host, port and database, this user; ':' and '\\' escaped as libpq expects.
printf '*:*:*:%s:%s\\n' "$(printf '%s' "$PGUSER" | sed 's/[\\\\:]/\\\\&/g')" \\
  "$(sed 's/[\\\\:]/\\\\&/g' {secret_dir}/password)" > {tmp_dir}/pgpass
export PGUSER PGPASSFILE={tmp_dir}/pgpass
exec psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 <<'SQL'
{GRANT_SQL}SQL
"""


def cron_job(
    name: str, image: str, parent: pulumi.Resource, depends_on: list[pulumi.Resource]
) -> k8s.batch.v1.CronJob:
    """The hardened CronJob (Pod Security `restricted`, read-only root, no service-account token)."""
    container = k8s.core.v1.ContainerArgs(
        name="grant",
        image=image,
        image_pull_policy="IfNotPresent",
        command=["/bin/sh", "-c", grant_script()],
        env=[
            env("PGHOST", HOST),
            env("PGPORT", "5432"),
            env("PGDATABASE", DATABASE_NAME),
            # CloudNativePG's server certificate is signed by its own CA: encrypted, not verified.
            env("PGSSLMODE", "require"),
            env("PGCONNECT_TIMEOUT", "10"),
            env("PGAPPNAME", RESOURCE_NAME),
            env("HOME", TMP_DIR),
        ],
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="database", mount_path=SECRET_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path=TMP_DIR),
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "10m", "memory": "32Mi"},
            limits={"cpu": "100m", "memory": "64Mi"},
        ),
        security_context=container_security(),
    )
    pod = k8s.core.v1.PodSpecArgs(
        restart_policy="Never",
        automount_service_account_token=False,
        security_context=pod_security(UID),
        containers=[container],
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="database",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=DATABASE_SECRET,
                    items=[
                        k8s.core.v1.KeyToPathArgs(key="username", path="username"),
                        k8s.core.v1.KeyToPathArgs(key="password", path="password"),
                    ],
                    default_mode=0o440,
                ),
            ),
            empty_dir("tmp", "1Mi", medium="Memory"),
        ],
    )
    pod_labels = labels(NAME, COMPONENT)
    return k8s.batch.v1.CronJob(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=RESOURCE_NAME, namespace=PLATFORM_NAMESPACE, labels=pod_labels
        ),
        spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=SCHEDULE,
            concurrency_policy="Forbid",
            starting_deadline_seconds=600,
            successful_jobs_history_limit=1,
            failed_jobs_history_limit=3,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=pod_labels),
                spec=k8s.batch.v1.JobSpecArgs(
                    backoff_limit=2,
                    active_deadline_seconds=300,
                    ttl_seconds_after_finished=86400,
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels=pod_labels), spec=pod
                    ),
                ),
            ),
        ),
        opts=child_opts(parent, depends_on=depends_on),
    )
