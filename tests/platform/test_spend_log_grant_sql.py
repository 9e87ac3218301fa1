"""The spend-log grant and the custom query against a real, throw-away PostgreSQL.

Runs the CronJob's own script (`spend_log_grant.grant_script`) as the application role, then the custom
query's predicate and query (`spend_log_query.spend_log_queries`) as `cnpg_metrics_exporter`, the way
CloudNativePG 1.30 runs them: one read-only transaction, `search_path` pinned to
`pg_catalog, public, pg_temp` (docs/src/monitoring.md, "Custom query privileges and safety"). The table
is LiteLLM 1.108.7's (litellm_proxy_extras 0.4.110: `"startTime" TIMESTAMP(3) NOT NULL`, migrations/
20250326162113_baseline/migration.sql:198, unchanged by later migrations; `DateTime` in schema.prisma:728),
plain as the migrations create it, and range-partitioned on `"startTime"` as LiteLLM's optional
partitioning leaves it: the parent keeps the name, daily partitions are `LiteLLM_SpendLogs_p<YYYYMMDD>`
created `PARTITION OF` it and dropped whole when expired
(litellm/proxy/db/db_transaction_queue/spend_logs_partition_manager.py:83-84, :233-238, :285).

Needs `initdb`, `pg_ctl` and `psql` on PATH (CI machines have only Python: the module skips there).
PostgreSQL refuses to run as root, so under root the server runs as `nobody` through `setpriv`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from components.platform.monitoring.spend_log_query import QUERY_NAME, spend_log_queries
from components.platform.spend_log_grant import grant_script

TOOLS = ("initdb", "pg_ctl", "psql")
pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason="PostgreSQL (initdb, pg_ctl, psql) not installed",
)

SUPERUSER_PASSWORD = "super-secret"
EXPORTER_PASSWORD = "exporter-secret"
#: A password with the characters a password file must escape.
APP_PASSWORD = "a:b\\c%d"
PORT = "54329"
DAYS = 86400
#: What the table looks like after LiteLLM's migration (the columns that matter, types as migrated).
CREATE_TABLE = (
    'CREATE TABLE public."LiteLLM_SpendLogs" ("request_id" TEXT NOT NULL PRIMARY KEY, '
    '"startTime" TIMESTAMP(3) NOT NULL, "endTime" TIMESTAMP(3) NOT NULL, "messages" JSONB DEFAULT \'{}\')'
)


@dataclass(frozen=True)
class Server:
    socket_dir: Path
    work: Path

    def psql(
        self, user: str, password: str, sql: str, database: str = "litellm"
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["psql", "--no-psqlrc", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env=self.env(database) | {"PGUSER": user, "PGPASSWORD": password},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def env(self, database: str = "litellm") -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "PGHOST": str(self.socket_dir),
            "PGPORT": PORT,
            "PGDATABASE": database,
            "PGSSLMODE": "require",  # as in the CronJob; libpq ignores it on a Unix socket
            "PGCONNECT_TIMEOUT": "10",
        }


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: PostgreSQL cannot start")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    work = Path(tempfile.mkdtemp(prefix="kiva-pg-"))
    run_as = _as_server_user()
    data, sockets = work / "data", work / "sockets"
    sockets.mkdir()
    (work / "pwfile").write_text(SUPERUSER_PASSWORD + "\n")
    if run_as:
        for path in (work, sockets, work / "pwfile"):
            os.chown(path, 65534, 65534)
    subprocess.run(
        [*run_as, "initdb", "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
         f"--pwfile={work / 'pwfile'}", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    options = f"-k {sockets} -p {PORT} -c listen_addresses='' -c fsync=off"
    subprocess.run(
        [*run_as, "pg_ctl", "-D", str(data), "-o", options, "-l", str(work / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        server = Server(sockets, work)
        _setup(server)
        yield server
    finally:
        subprocess.run([*run_as, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _setup(server: Server) -> None:
    app_password = APP_PASSWORD.replace("'", "''")
    for sql in (
        # As CloudNativePG 1.30 creates the exporter's role (docs/src/monitoring.md, "Manually creating
        # the metrics exporter role"), and the application role as initdb's owner.
        "CREATE ROLE cnpg_metrics_exporter WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        f"NOBYPASSRLS INHERIT PASSWORD '{EXPORTER_PASSWORD}'",
        "GRANT pg_monitor TO cnpg_metrics_exporter",
        f"CREATE ROLE litellm WITH LOGIN PASSWORD '{app_password}'",
        "CREATE DATABASE litellm OWNER litellm",
    ):
        done = server.psql("postgres", SUPERUSER_PASSWORD, sql, database="postgres")
        assert done.returncode == 0, done.stderr


def _grant(server: Server, database: str = "litellm") -> subprocess.CompletedProcess:
    """The CronJob's script, with the Secret's files in a directory of the test."""
    secret, tmp = server.work / "secret", server.work / "tmp"
    for path in (secret, tmp):
        path.mkdir(exist_ok=True)
    (secret / "username").write_text("litellm")
    (secret / "password").write_text(APP_PASSWORD)
    return subprocess.run(
        ["/bin/sh", "-c", grant_script(str(secret), str(tmp))],
        env=server.env(database) | {"HOME": str(tmp)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _scrape(server: Server, sql: str, database: str = "litellm") -> str:
    """`sql` as the exporter runs it: read-only, search_path pinned, as cnpg_metrics_exporter."""
    wrapped = f"BEGIN READ ONLY; SET LOCAL search_path TO pg_catalog, public, pg_temp; {sql}; COMMIT"
    done = server.psql("cnpg_metrics_exporter", EXPORTER_PASSWORD, wrapped, database=database)
    assert done.returncode == 0, done.stderr
    [value] = [line for line in done.stdout.splitlines() if line not in ("BEGIN", "SET", "COMMIT")]
    return value


def test_the_grant_and_the_custom_query_on_a_real_database(server: Server) -> None:
    query = spend_log_queries()[QUERY_NAME]
    predicate, age = query["predicate_query"], query["query"]

    # Before LiteLLM's migration: the script changes nothing and succeeds; the query does not run.
    before = _grant(server)
    assert before.returncode == 0, before.stderr
    assert 'public."LiteLLM_SpendLogs" does not exist yet' in before.stderr
    assert _scrape(server, predicate) == "f"

    # LiteLLM migrates as the application role, which therefore owns the table.
    created = server.psql("litellm", APP_PASSWORD, CREATE_TABLE)
    assert created.returncode == 0, created.stderr
    assert _scrape(server, predicate) == "f"  # the table exists, the privilege does not yet

    granted = _grant(server)
    assert granted.returncode == 0, granted.stderr
    assert 'kiva: granted SELECT ("startTime")' in granted.stderr
    assert _scrape(server, predicate) == "t"
    assert float(_scrape(server, age)) == 0  # no spend log yet

    rows = server.psql(
        "litellm",
        APP_PASSWORD,
        'INSERT INTO public."LiteLLM_SpendLogs" ("request_id", "startTime", "endTime") VALUES '
        "('old', (now() AT TIME ZONE 'UTC') - interval '40 days', now() AT TIME ZONE 'UTC'), "
        "('new', (now() AT TIME ZONE 'UTC') - interval '1 day', now() AT TIME ZONE 'UTC')",
    )
    assert rows.returncode == 0, rows.stderr
    assert 40 * DAYS <= float(_scrape(server, age)) < 40 * DAYS + 120

    # Idempotent: the next run finds the privilege and grants nothing.
    again = _grant(server)
    assert again.returncode == 0, again.stderr
    assert 'already reads "startTime"; nothing to do' in again.stderr

    # One column only: the exporter reads no prompt or response.
    denied = server.psql(
        "cnpg_metrics_exporter", EXPORTER_PASSWORD, 'SELECT "messages" FROM public."LiteLLM_SpendLogs"'
    )
    assert denied.returncode != 0
    assert "permission denied for table LiteLLM_SpendLogs" in denied.stderr


def _partition(day: date) -> str:
    """A daily partition as LiteLLM names and creates it (spend_logs_partition_manager.py:83-84, :235-237)."""
    name = f"LiteLLM_SpendLogs_p{day.strftime('%Y%m%d')}"
    return (
        f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "LiteLLM_SpendLogs" '
        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
    )


def test_the_grant_and_the_custom_query_on_a_partitioned_table(server: Server) -> None:
    """A table converted to range partitions is a new table: the grant is gone, the next run grants on
    the parent, the query reads every partition through it, and a dropped partition moves the age."""
    query = spend_log_queries()[QUERY_NAME]
    predicate, age = query["predicate_query"], query["query"]
    db = "litellm_partitioned"
    created = server.psql("postgres", SUPERUSER_PASSWORD, f"CREATE DATABASE {db} OWNER litellm", "postgres")
    assert created.returncode == 0, created.stderr

    def as_app(sql: str) -> None:
        done = server.psql("litellm", APP_PASSWORD, sql, database=db)
        assert done.returncode == 0, done.stderr

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    old, new = now - timedelta(days=40), now - timedelta(days=1)
    as_app(CREATE_TABLE)
    as_app(
        'INSERT INTO public."LiteLLM_SpendLogs" ("request_id", "startTime", "endTime") VALUES '
        f"('old', '{old}', '{now}'), ('new', '{new}', '{now}')"
    )
    assert 'kiva: granted SELECT ("startTime")' in _grant(server, db).stderr

    # The conversion: the plain table moves aside, a partitioned one takes its name, rows are copied.
    as_app('ALTER TABLE public."LiteLLM_SpendLogs" RENAME TO "LiteLLM_SpendLogs_legacy"')
    as_app(
        'CREATE TABLE public."LiteLLM_SpendLogs" ("request_id" TEXT NOT NULL, '
        '"startTime" TIMESTAMP(3) NOT NULL, "endTime" TIMESTAMP(3) NOT NULL, "messages" JSONB DEFAULT \'{}\', '
        'PRIMARY KEY ("request_id", "startTime")) PARTITION BY RANGE ("startTime")'
    )
    as_app('CREATE INDEX "LiteLLM_SpendLogs_startTime_idx" ON public."LiteLLM_SpendLogs" ("startTime")')
    for day in (old.date(), new.date(), now.date()):
        as_app(_partition(day))
    as_app('INSERT INTO public."LiteLLM_SpendLogs" SELECT * FROM public."LiteLLM_SpendLogs_legacy"')
    assert _scrape(server, predicate, db) == "f"  # the privilege stayed with the renamed table

    granted = _grant(server, db)
    assert granted.returncode == 0, granted.stderr
    assert 'kiva: granted SELECT ("startTime")' in granted.stderr
    assert _scrape(server, predicate, db) == "t"
    assert 40 * DAYS - 120 <= float(_scrape(server, age, db)) < 40 * DAYS + 120

    # Through the parent only: the exporter holds no privilege on a partition, nor on other columns.
    partition = f"LiteLLM_SpendLogs_p{old.date().strftime('%Y%m%d')}"
    direct = server.psql(
        "cnpg_metrics_exporter", EXPORTER_PASSWORD, f'SELECT "startTime" FROM public."{partition}"', db
    )
    assert f"permission denied for table {partition}" in direct.stderr
    denied = server.psql(
        "cnpg_metrics_exporter", EXPORTER_PASSWORD, 'SELECT "messages" FROM public."LiteLLM_SpendLogs"', db
    )
    assert "permission denied for table LiteLLM_SpendLogs" in denied.stderr

    # LiteLLM's partition cleanup drops the expired partition whole: the age follows.
    as_app(f'DROP TABLE IF EXISTS "{partition}"')
    assert DAYS - 120 <= float(_scrape(server, age, db)) < DAYS + 120
    again = _grant(server, db)
    assert 'already reads "startTime"; nothing to do' in again.stderr


def test_a_wrong_password_fails_the_job(server: Server) -> None:
    """The password really comes from the mounted file (a wrong one fails, so the Job shows as failed)."""
    secret, tmp = server.work / "wrong", server.work / "wrong-tmp"
    secret.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    (secret / "username").write_text("litellm")
    (secret / "password").write_text("not-the-password")
    done = subprocess.run(
        ["/bin/sh", "-c", grant_script(str(secret), str(tmp))],
        env=server.env() | {"HOME": str(tmp)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert 'password authentication failed for user "litellm"' in done.stderr
