"""Superset's bootstrap on the host: run twice against a database of its own on the PostgreSQL server
TEST_DATABASE_URL names, it leaves one connection, dataset, chart and dashboard, and the chart's query through
Superset's API (its Flask test client, and query_mart.py against gunicorn as start-superset.sh runs it) answers with
the rows of a daily_orders mart the test writes into a DuckDB file of its own, opened read-only with external
access off. A warehouse file that does not exist yet at the first start does not stop the bootstrap."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg2
import pytest
from psycopg2 import sql

FOLDER = Path(__file__).resolve().parent.parent
PASSWORD = "test-admin-password"  # noqa: S105 - the test's own admin
ROWS = ["2026-01-02 orders=2 revenue=5365", "2026-01-03 orders=1 revenue=6705"]


def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql://"):
        pytest.fail(
            "TEST_DATABASE_URL is not a postgresql:// URL: these tests need a running PostgreSQL, e.g. "
            "TEST_DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:5432/postgres",
            pytrace=False,
        )
    return url


def write_mart(warehouse: Path) -> None:
    """The mart as dbt leaves it (models/marts/daily_orders.sql), written and closed: no writer holds the file."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE SCHEMA analytics")
        connection.execute(
            "CREATE TABLE analytics.daily_orders AS SELECT * FROM (VALUES "
            "(DATE '2026-01-02', 2, 5365::HUGEINT), (DATE '2026-01-03', 1, 6705::HUGEINT)) "
            "AS t(ordered_on, orders_placed, revenue_cents)"
        )


@contextlib.contextmanager
def superset_database(tmp: Path, warehouse: Path) -> Iterator[dict[str, str]]:
    """Superset's environment with a metadata database of its own, dropped after."""
    url = server_url()
    database = f"superset_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        yield {
            **os.environ,
            "PYTHONPATH": str(FOLDER),
            "SUPERSET_CONFIG_PATH": str(FOLDER / "superset_config.py"),
            "SUPERSET_HOME": str(tmp),
            "HOME": str(tmp),
            "OWN_DATABASE_URL": url.rsplit("/", 1)[0] + "/" + database,
            "SUPERSET_SECRET_KEY": "test-secret-key-" + "x" * 32,
            "SUPERSET_ADMIN_PASSWORD": PASSWORD,
            "WAREHOUSE_DIALECT": "duckdb",
            "WAREHOUSE_READER_URL": str(warehouse),
            "MARTS_SCHEMA": "analytics",
        }
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.close()


@pytest.fixture(scope="module")
def superset_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("superset")
    warehouse = tmp / "warehouse.duckdb"
    write_mart(warehouse)
    with superset_database(tmp, warehouse) as environment:
        yield environment


def bootstrap(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FOLDER / "bootstrap.py")], env=environment, capture_output=True, text=True, timeout=900
    )


def probe(script: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=600)


def counts(environment: dict[str, str]) -> dict[str, int]:
    found = {}
    with psycopg2.connect(environment["OWN_DATABASE_URL"]) as connection, connection.cursor() as cursor:
        for table in ("dbs", "tables", "slices", "dashboards"):
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            found[table] = cursor.fetchone()[0]
    connection.close()
    return found


def test_bootstrap_twice_leaves_one_of_each_and_the_chart_answers(superset_env: dict[str, str]) -> None:
    for run in range(2):
        result = bootstrap(superset_env)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        # roles and permissions are synced at the first start only (the version is recorded)
        assert ("roles synced for 6.1.0" in result.stdout) == (run == 0), result.stdout
    assert counts(superset_env) == {"dbs": 1, "tables": 1, "slices": 1, "dashboards": 1}
    # the chart's query through the API, as query_mart.py sends it, in a process with Superset's settings
    answer = probe(CHART_DATA, superset_env)
    assert answer.returncode == 0, (answer.stdout + answer.stderr)[-5000:]
    assert [line for line in answer.stdout.splitlines() if line.startswith("2026-")] == ROWS, answer.stdout


def test_the_warehouse_is_read_only_without_external_access_and_unlocked_after_a_query(
    superset_env: dict[str, str],
) -> None:
    answer = probe(WAREHOUSE_SETTINGS, superset_env)
    assert answer.returncode == 0, (answer.stdout + answer.stderr)[-5000:]
    lines = answer.stdout.splitlines()
    for expected in (
        "pool NullPool",
        "access_mode read_only",
        "enable_external_access False",
        "lock_configuration True",
        "read daily_orders 2",
        "refused CREATE TABLE analytics.scratch (a INT)",
        "refused INSERT INTO analytics.daily_orders VALUES (DATE '2026-01-04', 1, 1)",
        "refused SELECT * FROM read_csv('/etc/passwd')",
        "refused SET enable_external_access = true",
        "refused INSTALL httpfs",
        # DuckDB's locking: a writer while a query holds the file fails
        "writer while a query runs: locked",
    ):
        assert any(line == expected or line.startswith(expected + " #") for line in lines), answer.stdout
    # NullPool: the file is closed after the query, a job can write it again
    with duckdb.connect(superset_env["WAREHOUSE_READER_URL"]) as writer:
        writer.execute("CHECKPOINT")


def test_query_mart_through_gunicorn_as_start_superset_runs_it(superset_env: dict[str, str]) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    environment = {
        **superset_env,
        "SUPERSET_PORT": str(port),
        "SUPERSET_API_URL": f"http://127.0.0.1:{port}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    log = Path(superset_env["HOME"]) / "start-superset.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            ["/bin/sh", str(FOLDER / "start-superset.sh")],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, log.read_text()[-5000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as health:
                    if health.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-5000:]
            time.sleep(1)
        # the login page is served over plain HTTP (no redirect to HTTPS), with Superset's content security policy
        # less the telemetry pixel's host (superset_config.py)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=30) as page:
            policy = page.headers.get("Content-Security-Policy", "")
            assert page.status == 200 and page.url.startswith("http://"), page.url
        assert "default-src 'self'" in policy and "scarf" not in policy, policy
        answer = subprocess.run(
            [sys.executable, str(FOLDER / "query_mart.py")],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert answer.stdout.splitlines() == ["daily_orders: 2 days", *ROWS], answer.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert counts(superset_env) == {"dbs": 1, "tables": 1, "slices": 1, "dashboards": 1}


def test_a_wrong_password_is_refused_and_a_changed_one_takes_effect(superset_env: dict[str, str]) -> None:
    changed = {**superset_env, "SUPERSET_ADMIN_PASSWORD": "changed-" + PASSWORD}
    result = bootstrap(changed)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    answer = probe(LOGIN, changed)
    # superset/config.py print()s "Loaded your LOCAL configuration at [...]" to stdout first: the probe's answer is
    # its last line (the wrong password, the previous one, the changed one)
    assert answer.stdout.splitlines()[-1:] == ["login 401 401 200"], answer.stdout + answer.stderr


def test_a_warehouse_file_made_after_the_first_start_is_read_without_another_bootstrap(tmp_path: Path) -> None:
    """make up starts Superset before make pipeline has written the DuckDB file: the bootstrap must not fail on it,
    must not create it (DuckDB's read-only open of a missing file), and the chart must answer once the jobs made it."""
    warehouse = tmp_path / "warehouse.duckdb"
    with superset_database(tmp_path, warehouse) as environment:
        result = bootstrap(environment)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        assert not warehouse.exists()
        assert counts(environment) == {"dbs": 1, "tables": 1, "slices": 1, "dashboards": 1}
        write_mart(warehouse)
        answer = probe(CHART_DATA, environment)
        assert answer.returncode == 0, (answer.stdout + answer.stderr)[-5000:]
        assert [line for line in answer.stdout.splitlines() if line.startswith("2026-")] == ROWS, answer.stdout


CLIENT = """
import os
from superset.app import create_app
app = create_app()
client = app.test_client()
def login(password):
    return client.post("/api/v1/security/login", json={"username": "admin", "password": password, "provider": "db"})
"""
LOGIN = (
    CLIENT
    + f"""
print("login", login("wrong").status_code, login({PASSWORD!r}).status_code,
      login(os.environ["SUPERSET_ADMIN_PASSWORD"]).status_code)
"""
)
CHART_DATA = (
    CLIENT
    + """
import datetime
token = login(os.environ["SUPERSET_ADMIN_PASSWORD"]).json["access_token"]
headers = {"Authorization": f"Bearer {token}"}
found = client.get("/api/v1/dataset/?q=(filters:!((col:table_name,opr:eq,value:daily_orders)))", headers=headers)
answer = client.post("/api/v1/chart/data", headers=headers, json={
    "datasource": {"id": found.json["result"][0]["id"], "type": "table"},
    "queries": [{"columns": ["ordered_on"], "metrics": ["orders", "revenue"], "orderby": [["ordered_on", True]]}],
    "result_format": "json", "result_type": "full"})
assert answer.status_code == 200, answer.get_data(as_text=True)
for row in answer.json["result"][0]["data"]:
    day = datetime.datetime.fromtimestamp(row["ordered_on"] / 1000, tz=datetime.timezone.utc).date()
    print(f"{day} orders={row['orders']} revenue={row['revenue']}")
"""
)
# The connection as Superset opens it for a query (Database.get_sqla_engine: the engine spec's extra params, NullPool)
WAREHOUSE_SETTINGS = """
import os, subprocess, sys
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import db
    from superset.models.core import Database
    database = db.session.query(Database).filter_by(database_name="warehouse").one()
    with database.get_sqla_engine() as engine:
        print("pool", type(engine.pool).__name__)
        with engine.connect() as connection:
            for name in ("access_mode", "enable_external_access", "lock_configuration"):
                value = connection.exec_driver_sql(f"SELECT current_setting('{name}')").scalar()
                print(name, value)
            print("read daily_orders", connection.exec_driver_sql(
                "SELECT count(*) FROM analytics.daily_orders").scalar())
            for statement in ("CREATE TABLE analytics.scratch (a INT)",
                              "INSERT INTO analytics.daily_orders VALUES (DATE '2026-01-04', 1, 1)",
                              "SELECT * FROM read_csv('/etc/passwd')", "SET enable_external_access = true",
                              "INSTALL httpfs"):
                try:
                    connection.exec_driver_sql(statement).fetchall()
                    print("allowed", statement)
                except Exception as error:
                    print("refused", statement, "#", str(error).splitlines()[0][:200])
            writer = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])",
                                     os.environ["WAREHOUSE_READER_URL"]], capture_output=True, text=True)
            print("writer while a query runs:", "locked" if "lock" in writer.stderr.lower() else writer.stderr)
"""
