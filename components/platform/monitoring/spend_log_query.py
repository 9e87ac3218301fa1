"""A CloudNativePG custom query that exports the age of the oldest LiteLLM spend log.

Whether LiteLLM's spend-log cleanup keeps up is a question about the data, so it is answered from the
data. LiteLLM 1.108.7 deletes rows whose `"startTime"` is older than `maximum_spend_logs_retention_period`
from a scheduled job (proxy/db/db_transaction_queue/spend_log_cleanup.py:368-375 and :505-514, batches of
1,000, at most 500 batches or 300 s per run, constants.py:1826-1832), every
`maximum_spend_logs_retention_interval` (default "1d", proxy/proxy_server.py:11147-11161), on the one pod
that wins its lock. Since the 1.108 line that job also has Prometheus instruments
(proxy/db/db_transaction_queue/spend_log_cleanup_metrics.py: `litellm_spend_log_cleanup_rows_remaining`,
`…_runs_total{outcome}`, …), but they exist only on the pod that ran the job, from its first run on, and
count expired rows only up to a cap: they say what a run did, not how old the data is. The narrowest
honest signal stays the age of the oldest row, read by the database's own metrics exporter:

- CloudNativePG 1.30 runs custom queries from `Cluster.spec.monitoring.customQueriesConfigMap` as the
  role `cnpg_metrics_exporter` (member of `pg_monitor`) against the main database, and names each
  column's metric `cnpg_<query>_<column>` (docs/src/monitoring.md, "User defined metrics").
- The role needs exactly one grant, on one column that holds no personal data:
  `GRANT SELECT ("startTime") ON "LiteLLM_SpendLogs" TO cnpg_metrics_exporter;` — after LiteLLM's
  migration has created the table. Until then the predicate keeps the query from running (and failing).
- `"startTime"` is still `TIMESTAMP(3) NOT NULL` (litellm_proxy_extras 0.4.110, migrations/
  20250326162113_baseline/migration.sql:198; no later migration changes it) and indexed
  (`@@index([startTime])`, schema.prisma:757), so `min` is an index read.
- The request-log indexes 1.108.7 builds after its migrations (`PrismaManager.build_request_log_indexes`,
  proxy/proxy_cli.py:1513-1516; litellm_proxy_extras/request_log_indexes.py:54-55, `(api_key,
  startTime)` and `(litellm_call_id)`, `CREATE INDEX CONCURRENTLY`) change no privilege and no column.
- A partitioned table (only after an operator runs LiteLLM's db_scripts/partition_spend_logs.sql and
  sets `use_spend_logs_partitioning`, which KIVA does not; proxy/_types.py:2862-2865) keeps the name
  `LiteLLM_SpendLogs` for its parent (spend_logs_partition_manager.py:39 and :233-238): the query and
  the grant work on the parent (PostgreSQL checks only the parent's privileges when a query names it),
  and a table the conversion recreated is granted again by the next CronJob run. Its cleanup drops a
  partition only once its whole range is past the cutoff, so with the default daily partitions
  (constants.py:1846) the oldest row may be one day older than with row deletes: within the alert's slack.

Wired where the database is monitored: `database.py` puts the document into the ConfigMap
`kiva-db-monitoring` (labelled `cnpg.io/reload`) that the Cluster names, and the CronJob of
`spend_log_grant.py` runs `GRANT` as the table's owner once the table exists (and again whenever it is
missing). `tests/platform/test_spend_log_grant_sql.py` runs both against a real PostgreSQL, on a plain
and on a partitioned table.
"""

from __future__ import annotations

from typing import Any

#: Name of the query and of its column: the metric is `cnpg_kiva_spend_logs_oldest_age_seconds`.
QUERY_NAME = "kiva_spend_logs"
COLUMN = "oldest_age_seconds"
METRIC = f"cnpg_{QUERY_NAME}_{COLUMN}"
#: ConfigMap key holding the queries (any key; named in `customQueriesConfigMap[].key`).
CONFIG_MAP_KEY = "queries.yaml"
#: The one grant the query needs (after LiteLLM created the table; `spend_log_grant.py` runs it).
GRANT = 'GRANT SELECT ("startTime") ON public."LiteLLM_SpendLogs" TO cnpg_metrics_exporter;'

_TABLE = "'public.\"LiteLLM_SpendLogs\"'"


def spend_log_queries() -> dict[str, Any]:
    """The custom-queries document (CloudNativePG "Structure of a user defined metric")."""
    return {
        QUERY_NAME: {
            "query": (
                # Prisma's DateTime is `timestamp(3)` holding UTC: compare with the UTC wall clock.
                "SELECT COALESCE(EXTRACT(EPOCH FROM ((pg_catalog.now() AT TIME ZONE 'UTC') "
                "OPERATOR(pg_catalog.-) "
                'pg_catalog.min("startTime"))), 0) AS oldest_age_seconds '
                'FROM public."LiteLLM_SpendLogs"'
            ),
            "primary": True,
            # CASE, not AND: has_column_privilege raises on a table that does not exist yet.
            "predicate_query": (
                f"SELECT CASE WHEN pg_catalog.to_regclass({_TABLE}) IS NULL THEN false "
                f"ELSE pg_catalog.has_column_privilege({_TABLE}, 'startTime', 'SELECT') END"
            ),
            "metrics": [
                {
                    COLUMN: {
                        "usage": "GAUGE",
                        "description": "Age in seconds of the oldest LiteLLM spend log (0 when there is none)",
                    }
                }
            ],
        }
    }
