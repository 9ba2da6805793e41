"""The BI tool: Superset charts the marts dbt builds, through a connection that can only read the warehouse (a user
that may only SELECT where PostgreSQL is the warehouse; the volume mounted, and the file opened, read-only where
DuckDB is), with its metadata in a database and user of its own on the stack's PostgreSQL. Natively: its bootstrap
and the chart's query (make test); the readers' provisioning against this machine's PostgreSQL. The engine harness
queries the chart through its API after the jobs built the mart."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from engine.run_stack import StackRun
from projects import (
    CATALOG, REPO, answers_for, compose_config, copy_project, make_test_in_kept_venv, read_env,
)
from test_catalog import _catalog_copy

from extensions.catalog import CatalogError, load_catalog
from extensions.kubernetes import KubernetesView
from extensions.stack import Stack

ON_DUCKDB = ["postgres", "duckdb", "dlt", "dbt", "superset"]
ON_POSTGRES = ["postgres", "dlt", "dbt", "superset"]
PROVISION = REPO / "template" / "services" / "postgres" / (
    "{% if stack.provided('postgres', 'warehouse') %}provision-warehouse.sh{% endif %}")
MISSING = "is not set. Run make env, or set it in .env}"


# The words that ask for it, and the traps, are cases of test_keywords.test_suggested_stack.


# --- wiring -----------------------------------------------------------------------------------------------------------

def test_superset_reads_a_duckdb_warehouse_through_a_read_only_mount() -> None:
    stack = Stack(CATALOG, answers_for(ON_DUCKDB))
    environment = stack.environment("superset")
    assert {k: environment[k] for k in ("WAREHOUSE_DIALECT", "WAREHOUSE_READER_URL", "MARTS_SCHEMA")} == {
        "WAREHOUSE_DIALECT": "duckdb", "WAREHOUSE_READER_URL": "/data/warehouse/warehouse.duckdb",
        "MARTS_SCHEMA": "analytics"}
    assert environment["OWN_DATABASE_URL"] == (
        f"postgresql://superset:${{SUPERSET_DATABASE_PASSWORD:?SUPERSET_DATABASE_PASSWORD {MISSING}@postgres:5432/superset")
    # never the writer's connection
    assert "WAREHOUSE_URL" not in environment and "WAREHOUSE_PASSWORD" not in environment
    assert stack.volumes("superset") == [("warehouse-data", "/data/warehouse")]
    assert stack.read_only_volumes("superset") == {"warehouse-data"}
    assert stack.read_only_volumes("dlt") == set() and stack.read_only_volumes("dbt") == set()
    assert stack.volumes_yaml("superset") == "\n    volumes:\n      - warehouse-data:/data/warehouse:ro"
    assert stack.volumes_yaml("dbt") == "\n    volumes:\n      - warehouse-data:/data/warehouse"
    # an orchestrator beside it mounts the warehouse read-write: it runs the jobs
    beside = Stack(CATALOG, answers_for([*ON_DUCKDB, "airflow"]))
    assert beside.read_only_volumes("airflow") == set() and beside.read_only_volumes("superset") == {"warehouse-data"}
    assert stack.depends_on("superset") == {"postgres": "service_healthy"}
    assert stack.tenants("postgres", "own-database") == ["superset"]
    assert stack.tenants("postgres", "warehouse-reader") == []
    assert "superset" not in KubernetesView(CATALOG, answers_for([*ON_DUCKDB, "fastapi"])).deployed_names


def test_superset_reads_a_postgresql_warehouse_as_a_user_that_may_only_read() -> None:
    stack = Stack(CATALOG, answers_for(ON_POSTGRES))
    environment = stack.environment("superset")
    assert environment["WAREHOUSE_DIALECT"] == "postgres"
    assert environment["WAREHOUSE_READER_URL"] == (
        f"postgresql://superset_reader:${{SUPERSET_WAREHOUSE_PASSWORD:?SUPERSET_WAREHOUSE_PASSWORD {MISSING}"
        "@postgres:5432/${POSTGRES_WAREHOUSE_DB:-warehouse}")
    assert "WAREHOUSE_URL" not in environment and stack.volumes("superset") == []
    assert stack.tenants("postgres", "warehouse-reader") == ["superset"]


def test_the_engine_runs_its_round_trips_after_the_jobs_that_build_the_mart() -> None:
    """Its trip queries the mart, so the engine harness runs it after the jobs' (and an orchestrator's, which runs
    them again), whatever the catalog's order."""
    stack = Stack(CATALOG, answers_for([*ON_DUCKDB, "airflow"]))
    rank = {c.name: StackRun.trip_rank(SimpleNamespace(stack=stack), c) for c in stack.components}
    assert rank["postgres"] < rank["dlt"] == rank["dbt"] < rank["airflow"] < rank["superset"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("bi") / "p", answers_for(ON_DUCKDB, project_name="Shop"))


@pytest.fixture(scope="module")
def on_postgres(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("bi-pg") / "p", answers_for(ON_POSTGRES, project_name="Shop"))


def test_the_compose_service_reads_the_warehouse_read_only_and_is_hardened(project: Path) -> None:
    model = compose_config(project)
    env = read_env(project / ".env")
    superset = model["services"]["superset"]
    assert superset["volumes"] == [{"type": "volume", "source": "warehouse-data", "target": "/data/warehouse",
                                    "read_only": True, "volume": {}}]
    assert all(not v.get("read_only") for s in ("dlt", "dbt") for v in model["services"][s]["volumes"])
    assert superset["environment"]["OWN_DATABASE_URL"] == (
        f"postgresql://superset:{env['SUPERSET_DATABASE_PASSWORD']}@postgres:5432/superset")
    assert superset["user"] == "1000:1000" and superset["read_only"] is True and superset["cap_drop"] == ["ALL"]
    assert "curl" in superset["healthcheck"]["test"] and superset["ports"][0]["target"] == 8088
    assert len({env[k] for k in ("SUPERSET_ADMIN_PASSWORD", "SUPERSET_SECRET_KEY", "SUPERSET_DATABASE_PASSWORD",
                                 "SUPERSET_WAREHOUSE_PASSWORD", "POSTGRES_PASSWORD")}) == 5
    # PostgreSQL makes Superset's database after each start; DuckDB's readers need no user
    assert model["services"]["postgres"]["post_start"] == [{"command": [
        "sh", "/provision/provision-own-databases.sh", "superset", env["SUPERSET_DATABASE_PASSWORD"]]}]
    # its CI job: Python 3.11, the image's, which its tag does not name
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["superset"]
    assert [s["with"]["python-version"] for s in ci["steps"] if "setup-python" in s.get("uses", "")] == ["3.11"]
    assert ci["env"]["TEST_DATABASE_URL"].startswith("postgresql://postgres:postgres@127.0.0.1:5432/")


def test_on_a_postgresql_warehouse_postgres_makes_the_reader_after_the_warehouse(on_postgres: Path) -> None:
    model = compose_config(on_postgres)
    env = read_env(on_postgres / ".env")
    assert model["services"]["postgres"]["post_start"] == [
        {"command": ["sh", "/provision/provision-warehouse.sh", "superset_reader", env["SUPERSET_WAREHOUSE_PASSWORD"]]},
        {"command": ["sh", "/provision/provision-own-databases.sh", "superset", env["SUPERSET_DATABASE_PASSWORD"]]}]
    superset = model["services"]["superset"]
    assert superset["environment"]["WAREHOUSE_READER_URL"] == (
        f"postgresql://superset_reader:{env['SUPERSET_WAREHOUSE_PASSWORD']}@postgres:5432/warehouse")
    assert "volumes" not in superset


def test_the_readmes_say_how_to_reach_superset_and_what_it_reads(project: Path, on_postgres: Path) -> None:
    readme = (project / "README.md").read_text()
    assert "http://localhost:8088/ (`SUPERSET_HOST_PORT`)" in readme and "services/superset/README.md" in readme
    own = (project / "services" / "superset" / "README.md").read_text()
    for text in ("query_mart.py", "SUPERSET_ADMIN_PASSWORD", "SUPERSET_SECRET_KEY", "read-only", "`analytics`"):
        assert text in own, text
    assert "superset_reader" in (on_postgres / "services" / "superset" / "README.md").read_text()
    architecture = (project / "ARCHITECTURE.md").read_text()
    assert 'superset --o|"warehouse-reader"| duckdb' in architecture and 'superset -->|"marts"| dbt' in architecture


# --- the warehouse's readers on PostgreSQL --------------------------------------------------------------------------

def psql(sql: str, user: str = "postgres", database: str = "postgres", check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", "--host=127.0.0.1", f"--username={user}", f"--dbname={database}", "--no-psqlrc",
                           "--tuples-only", "--no-align", "--set=ON_ERROR_STOP=1", "--command", sql],
                          capture_output=True, text=True, check=check, env={"PATH": "/usr/bin:/bin",
                                                                            "PGPASSWORD": "Reader1"})


def test_the_reader_may_read_what_the_warehouse_user_makes_later_and_nothing_else(tmp_path: Path) -> None:
    """provision-warehouse.sh with a reader, as compose's post_start runs it, twice (every start): the reader SELECTs
    a table the warehouse's user makes afterwards, in a schema made afterwards (dbt replaces its tables at each
    build), and may not write, create, or read the application's tables."""
    suffix = hashlib.sha256(str(tmp_path).encode()).hexdigest()[:10]
    db, owner, reader = f"stacks_wh_{suffix}", f"stacks_whu_{suffix}", f"stacks_whr_{suffix}"
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "unused",
           "POSTGRES_DB": "postgres", "POSTGRES_WAREHOUSE_DB": db, "POSTGRES_WAREHOUSE_USER": owner,
           "POSTGRES_WAREHOUSE_PASSWORD": "Owner1"}
    try:
        for _ in range(2):
            result = subprocess.run(["sh", str(PROVISION), reader, "Reader1"], env=env, capture_output=True,
                                    text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            assert f"reader {reader} of the warehouse database {db} is ready" in result.stdout
        # what the pipeline's jobs do after the script ran: a schema and a table of the warehouse's user
        psql(f"set role {owner}; create schema analytics; create table analytics.daily_orders as "
             "select date '2026-01-02' as ordered_on, 2 as orders", database=db)
        assert psql(f"set role {reader}; select orders from analytics.daily_orders", database=db).stdout.split() == ["SET", "2"]
        for forbidden in ("insert into analytics.daily_orders values (current_date, 1)",
                          "create table analytics.mine (x int)", "create schema mine",
                          "create table public.mine (x int)"):
            refused = psql(f"set role {reader}; {forbidden}", database=db, check=False)
            assert refused.returncode != 0 and "permission denied" in refused.stderr, forbidden
        # nor read the application's tables (its database keeps PostgreSQL's default: PUBLIC may connect)
        psql(f"create table public.{db}_app (x int)")
        refused = psql(f"set role {reader}; select * from public.{db}_app", check=False)
        assert refused.returncode != 0 and "permission denied" in refused.stderr
        assert psql(f"select rolsuper or rolcreatedb or rolcreaterole from pg_roles where rolname = '{reader}'"
                    ).stdout.strip() == "f"
    finally:
        psql(f"drop table if exists public.{db}_app")
        psql(f"drop database if exists {db} with (force)")
        for role in (reader, owner):
            psql(f"drop role if exists {role}")


def test_the_stand_in_installs_the_set_the_component_is_tested_with() -> None:
    def pinned(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    standin = REPO / "tests" / "engine" / "standins" / "apache" / "superset" / "6.1.0" / "requirements.lock"
    assert pinned(standin) == pinned(REPO / "template" / "services" / "superset" / "requirements.lock")


# --- Superset's own tests, natively -----------------------------------------------------------------------------------

def test_superset_make_test_bootstraps_it_twice_and_the_chart_answers_on_the_host(project: Path) -> None:
    """Superset's `make test`: its bootstrap twice against a database it makes (and drops) on this machine's
    PostgreSQL leaves one connection, dataset, chart and dashboard; the chart's query answers the mart's rows, through
    gunicorn as start-superset.sh runs it too; the DuckDB file is opened read-only, without access to other files, and
    let go after each query; a changed admin password takes effect. Its venv is kept between runs, one per lock;
    ruff, hadolint, shellcheck clean."""
    outcomes = make_test_in_kept_venv(project / "services" / "superset", ["requirements.lock", "requirements.txt"], [
        ["ruff", "check", "--no-cache", "."], ["ruff", "format", "--check", "--no-cache", "."],
        ["hadolint", "Dockerfile"], ["shellcheck", "start-superset.sh"]])
    assert set(outcomes) == {
        "test_bootstrap_twice_leaves_one_of_each_and_the_chart_answers",
        "test_the_warehouse_is_read_only_without_external_access_and_unlocked_after_a_query",
        "test_query_mart_through_gunicorn_as_start_superset_runs_it",
        "test_a_wrong_password_is_refused_and_a_changed_one_takes_effect",
        "test_a_warehouse_file_made_after_the_first_start_is_read_without_another_bootstrap"} and not any(
        outcomes.values()), outcomes


# --- the vocabulary ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("component", "edit", "fix"), [
    ("duckdb", {"provides": {"warehouse": {"volume": {"name": "warehouse-data", "mount": "/data", "read_only": "yes"}},
                             "warehouse-reader": {}}},
     "provides.warehouse.volume names the volume its fragment declares"),
    ("superset", {"env": {"SUPERSET_ADMIN_PASSWORD": {"secret": True, "help": "x"},
                          "SUPERSET_SECRET_KEY": {"secret": True, "help": "x"},
                          "SUPERSET_DATABASE_PASSWORD": {"secret": True, "help": "x"}}},
     "postgres provides warehouse-reader to each consumer with a password of the consumer's own: declare "
     "SUPERSET_WAREHOUSE_PASSWORD under env with secret: true"),
    ("superset", {"ci": {"toolchain": "python", "version": 3.11, "targets": ["test"]}},
     'ci.version is the toolchain\'s version as a quoted string, e.g. version: "3.11"'),
])
def test_vocabulary_mistakes_are_refused_with_the_fix(tmp_path: Path, component: str, edit: dict, fix: str) -> None:
    services = _catalog_copy(tmp_path)
    path = services / component / "component.yml"
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, **edit}))
    with pytest.raises(CatalogError, match=fix.replace("(", r"\(").replace(".", r"\.")):
        load_catalog(services)


@pytest.mark.parametrize(("beside", "fix"), [
    ({"categories": ["pipelines"], "keywords": ["dashboards"]}, "keywords_beside of bi names ['pipelines']"),
    ({"keywords": ["dashboards"]}, "keywords_beside of 'bi' holds categories"),
])
def test_a_mistaken_keywords_beside_is_refused_with_the_fix(tmp_path: Path, beside: dict, fix: str) -> None:
    services = _catalog_copy(tmp_path)
    path = services / "categories.yml"
    categories = yaml.safe_load(path.read_text())
    categories["bi"]["keywords_beside"] = beside
    path.write_text(yaml.safe_dump(categories))
    with pytest.raises(CatalogError, match=fix.replace("[", r"\[").replace("]", r"\]")):
        load_catalog(services)
