"""The data pipeline: a warehouse with no server (DuckDB, a file in a volume), a job that loads data into it (dlt)
and one that builds tables from that data (dbt), run to completion by `make pipeline` in that order, never by
`up`. Each job's own tests run natively against DuckDB files; the engine harness runs the jobs in their
containers and reads the file back after down + up."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import yaml
from projects import CATALOG, REPO, answers_for, compose_binary, compose_config, copier, copy_project
from test_catalog import _catalog_copy

from extensions.catalog import CatalogError, load_catalog
from extensions.keywords import suggest_stack
from extensions.kubernetes import KubernetesView
from extensions.stack import Stack, stack_problems

DATA = ["duckdb", "dlt"]
PIPELINE = [*DATA, "dbt"]


# --- wiring, words and refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("description", [
    "an ELT data pipeline with dlt into a data warehouse", "load CSV files with dlt", "a data pipeline",
    "a data pipeline into DuckDB, no frontend", "extract and load our shop data into an analytics warehouse"])
def test_descriptions_of_a_data_pipeline_get_the_job_and_its_warehouse(description: str) -> None:
    suggested = suggest_stack(description, CATALOG)
    assert (suggested["ingestion"], suggested["warehouse"]) == ("dlt", "duckdb")


@pytest.mark.parametrize(("description", "transformation"), [
    ("an ELT pipeline into a data warehouse", "dbt"), ("a data pipeline", "dbt"), ("a dbt project", "dbt"),
    ("data modeling over our shop data", "dbt"), ("load CSV files with dlt", "none"), ("an ETL job, no dbt", "none"),
    ("an ELT pipeline without data transformation", "none")])
def test_a_data_pipeline_transforms_too_unless_refused(description: str, transformation: str) -> None:
    """"ELT" and "data pipeline" ask for both jobs; dbt brings the ingestion whose data it reads."""
    suggested = suggest_stack(description, CATALOG)
    assert (suggested["warehouse"], suggested["ingestion"], suggested["transformation"]) == (
        "duckdb", "dlt", transformation)


@pytest.mark.parametrize("description", ["mydbt tooling and dbt_utils macros", "a model railway shop",
                                         "transform the images with a worker"])
def test_words_near_dbt_choose_no_transformation(description: str) -> None:
    assert suggest_stack(description, CATALOG)["transformation"] == "none"


@pytest.mark.parametrize(("description", "warehouse"), [
    ("use DuckDB for analytics", "duckdb"), ("a warehouse inventory app with a REST API", "none"),
    ("logistics for a warehouse", "none"), ("a data warehouse", "duckdb"), ("a data warehouse on PostgreSQL", "none")])
def test_a_warehouse_alone_is_no_pipeline(description: str, warehouse: str) -> None:
    suggested = suggest_stack(description, CATALOG)
    assert (suggested["ingestion"], suggested["warehouse"]) == ("none", warehouse)


@pytest.mark.parametrize("description", [
    "a blog with a CI pipeline", "log ingestion for the API", "a deployment pipeline for a FastAPI app",
    "FastAPI, no data pipeline", "an app without dlt"])
def test_pipelines_that_are_not_data_pipelines_choose_no_job(description: str) -> None:
    assert suggest_stack(description, CATALOG)["ingestion"] == "none"


def test_ingestion_without_a_warehouse_is_refused_naming_the_fix() -> None:
    assert [p.message for p in stack_problems(CATALOG, answers_for(["dlt"]))] == [
        "dlt needs a database or a data warehouse: choose database=postgres or warehouse=duckdb, or set ingestion to "
        "none"]
    assert [p.message for p in stack_problems(CATALOG, answers_for(["mariadb", "dlt"]))] == [
        "dlt needs a database or a data warehouse that provides warehouse, which MariaDB does not: choose "
        "database=postgres or warehouse=duckdb, or set ingestion to none"]
    assert [p.message for p in stack_problems(CATALOG, answers_for(["duckdb", "dbt"]))] == [
        "dbt needs a data ingestion: choose ingestion=dlt, or set transformation to none"]
    assert not stack_problems(CATALOG, answers_for(DATA)) and not stack_problems(CATALOG, answers_for(PIPELINE))


def test_the_job_mounts_the_warehouse_volume_and_waits_for_no_container() -> None:
    stack = Stack(CATALOG, answers_for([*DATA, "fastapi", "postgres"]))
    assert stack.volumes("dlt") == [("warehouse-data", "/data/warehouse")]
    assert stack.environment("dlt") == {"WAREHOUSE_DIALECT": "duckdb",
                                        "WAREHOUSE_URL": "/data/warehouse/warehouse.duckdb"}
    assert stack.depends_on("dlt") == {}
    assert stack.jobs == ["dlt"]
    pipeline = Stack(CATALOG, answers_for(PIPELINE))
    assert pipeline.jobs == ["dlt", "dbt"]  # dbt reads what dlt loads
    assert pipeline.environment("dbt") == {**stack.environment("dlt"), "RAW_SCHEMA": "raw"}
    assert pipeline.volumes("dbt") == stack.volumes("dlt") and pipeline.depends_on("dbt") == {}
    assert stack.volumes("fastapi") == [] and Stack(CATALOG, answers_for(["fastapi"])).jobs == []
    # the chart runs services: no job, and nothing for a component with no container
    assert {"dlt", "duckdb"}.isdisjoint(c.name for c in KubernetesView(CATALOG, answers_for([*DATA, "fastapi"])).deployed)


def test_make_pipeline_runs_a_job_after_the_job_whose_data_it_uses_and_refuses_a_cycle(tmp_path: Path) -> None:
    """A second job ("clean", first in catalog order) that uses what dlt loads runs after it; were dlt to use what
    "clean" provides too, the catalog would have no order to run them in."""
    services = _catalog_copy(tmp_path)
    shutil.copytree(services / "dlt", services / "clean")
    spec_file = services / "clean" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec.update(label="Clean", category="worker", provides={"cleaned-data": {}}, uses=[*spec["uses"], "raw-data"],
                keywords=["second job"])
    spec_file.write_text(yaml.safe_dump(spec))
    catalog = load_catalog(services)
    names = [c.name for c in catalog.components.values() if c.job]
    assert names.index("clean") < names.index("dlt")
    assert Stack(catalog, answers_for(["duckdb", "dlt", "clean"], catalog)).jobs == ["dlt", "clean"]
    spec_file = services / "dlt" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["uses"] = [*spec["uses"], "cleaned-data"]
    spec_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(CatalogError, match=re.escape("the jobs dlt and clean want what each other provide")):
        load_catalog(services)


@pytest.mark.parametrize(("component", "edit", "fix"), [
    ("dlt", {"ports": [{"env": "DLT_HOST_PORT", "container": 8000, "host": 8000, "help": "no"}]},
     "a job runs to completion, so it has no ports"),
    ("dlt", {"round_trips": [{"name": "x", "read": [{"exec": ["true"]}]}]}, "check it with run steps"),
    ("dlt", {"runtime": {"user": "10001:10001", "restart": "always"}}, "a job is run, not restarted"),
    ("dlt", {"job": {"command": "python pipeline.py"}}, "job is {command: [argv]}"),
    ("dlt", {"kubernetes": None}, "add kubernetes.omit with the reason"),
    ("fastapi", {"round_trips": [{"name": "x", "read": [{"run": ["true"]}]}]}, "run steps start a job's container"),
    ("dlt", {"round_trips": [{"name": "x", "read": [{"run": ["true"], "status": 200}]}]},
     "a run step is run: [args]"),
    ("duckdb", {"image": "python:3.12.8-slim"}, "a component with service: false has no container, so no image"),
    ("duckdb", {"provides": {"warehouse": {"volume": "warehouse-data"}}}, "provides.warehouse.volume names the volume"),
    ("duckdb", {"provides": {"warehouse": {"volume": {"name": "w", "mount": "data"}}}},
     "the absolute path each consumer mounts it at"),
])
def test_a_job_or_a_component_without_a_container_is_refused_with_the_fix(tmp_path: Path, component: str,
                                                                          edit: dict, fix: str) -> None:
    services = _catalog_copy(tmp_path)
    spec_file = services / component / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec.update(edit)
    spec_file.write_text(yaml.safe_dump({k: v for k, v in spec.items() if v is not None}))
    with pytest.raises(CatalogError, match=re.escape(fix)):
        load_catalog(services)


# --- the generated project -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("data") / "p", answers_for([*PIPELINE, "fastapi", "postgres"],
                                                                           project_name="Shop"))


def test_up_starts_no_job_and_make_pipeline_runs_it(project: Path) -> None:
    base = [str(compose_binary()), "--project-directory", str(project), "--env-file", str(project / ".env")]
    services = subprocess.run([*base, "config", "--services"], capture_output=True, text=True, check=True).stdout
    assert "dlt" not in services.split() and "fastapi" in services.split()  # what `up` starts
    model = compose_config(project)  # with the jobs' profile
    dlt = model["services"]["dlt"]
    assert dlt["profiles"] == ["jobs"] and dlt["command"] == ["python", "pipeline.py"]
    assert dlt["restart"] == "no" and "healthcheck" not in dlt and "depends_on" not in dlt and "ports" not in dlt
    assert [(v["source"], v["target"]) for v in dlt["volumes"]] == [("warehouse-data", "/data/warehouse")]
    assert dlt["read_only"] is True and dlt["user"] == "10001:10001" and dlt["cap_drop"] == ["ALL"]
    assert "duckdb" not in model["services"] and "warehouse-data" in model["volumes"]
    listed = subprocess.run(["make", "-n", "pipeline"], cwd=project,
                            capture_output=True, text=True)
    assert re.findall(r"run --rm --build (\w+)$", listed.stdout, re.M) == ["dlt", "dbt"], listed.stdout + listed.stderr
    assert "make pipeline" in subprocess.run(["make", "help"], cwd=project, capture_output=True, text=True).stdout


def test_a_stack_of_jobs_only_says_make_pipeline_not_make_up(tmp_path: Path) -> None:
    """The README's data quick start: one line of description, a warehouse and its job, nothing to `up`."""
    result = copier("copy", "--trust", "--defaults", "--vcs-ref=HEAD", "-d",
                    "project_description=an ELT pipeline into a data warehouse", str(REPO), str(tmp_path / "data"))
    assert "make pipeline  # run the data pipeline's jobs (dlt, dbt)" in result.stdout + result.stderr
    assert "make up " not in result.stdout + result.stderr
    assert sorted(p.name for p in (tmp_path / "data" / "services").iterdir()) == sorted(PIPELINE)
    up = subprocess.run(["make", "up"], cwd=tmp_path / "data", capture_output=True, text=True)
    assert up.returncode == 0 and "no service to start, only jobs: make pipeline runs them" in up.stdout, up.stderr


def test_the_readme_says_how_to_run_the_pipeline_and_where_the_data_is(project: Path) -> None:
    readme = (project / "README.md").read_text()
    section = readme.split("## Data pipeline")[1].split("\n## ")[0]
    for text in ("make pipeline", "`dlt`", "`warehouse-data`", "/data/warehouse", "services/dlt/README.md",
                 "docker compose --profile jobs down --volumes", "`make backup` does not save it"):
        assert text in section, text
    own = (project / "services" / "dlt" / "README.md").read_text()
    assert "pipeline.py --as-of 2026-01-31" in own and "pipeline.py --show" in own
    assert "## Data pipeline" not in (copy_project(project.parent / "plain", answers_for(["fastapi"])) / "README.md"
                                      ).read_text()


@pytest.mark.parametrize(("job", "cases"), [("dlt", 5), ("dbt", 3)])
def test_the_job_runs_its_own_tests_and_lint_clean(project: Path, job: str, cases: int) -> None:
    """Each job's `make test` on the host, against DuckDB files of its own: dlt's load, incremental second run,
    cursor kept in the warehouse and the command the engine runs; dbt's sqlfluff lint, parse, and builds whose
    marts add up and whose data tests fail on bad raw data. ruff and hadolint clean."""
    folder = project / "services" / job
    result = subprocess.run(["make", "test"], cwd=folder, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    outcomes = {case.get("name"): [child.tag for child in case] for case in
             ElementTree.parse(folder / "test-results.xml").getroot().iter("testcase")}
    assert set(CATALOG.components[job].tests["round_trips"]["warehouse"]) <= {n.split("[")[0] for n in outcomes}
    assert len(outcomes) == cases and not any(outcomes.values()), outcomes
    for command in (["ruff", "check", "--no-cache", "."], ["ruff", "format", "--check", "--no-cache", "."],
                    ["hadolint", "Dockerfile"]):
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


# --- PostgreSQL as the warehouse -------------------------------------------------------------------------------------

ON_POSTGRES = ["postgres", "dlt", "dbt"]
WAREHOUSE_KEYS = ["POSTGRES_WAREHOUSE_DB", "POSTGRES_WAREHOUSE_PASSWORD", "POSTGRES_WAREHOUSE_USER"]
PROVISION = REPO / "template" / "services" / "postgres" / (
    "{% if stack.provided('postgres', 'warehouse') %}provision-warehouse.sh{% endif %}")


@pytest.mark.parametrize(("description", "warehouse"), [
    ("a data pipeline into PostgreSQL", "none"), ("FastAPI with Postgres and a data pipeline", "none"),
    ("an ELT pipeline into a data warehouse on PostgreSQL", "none"),
    ("a data pipeline into DuckDB, Postgres for the app", "duckdb"),
    ("a data pipeline into a DuckDB data warehouse, Postgres for the app", "duckdb")])
def test_a_pipeline_beside_postgres_takes_it_as_its_warehouse_unless_duckdb_is_asked_for(description: str,
                                                                                        warehouse: str) -> None:
    suggested = suggest_stack(description, CATALOG)
    assert (suggested["database"], suggested["warehouse"], suggested["ingestion"]) == ("postgres", warehouse, "dlt")
    stack = Stack(CATALOG, {**answers_for([]), **suggested})
    assert [p.name for p in stack.providers("warehouse")] == ["postgres" if warehouse == "none" else "duckdb"]


def test_the_warehouse_on_postgres_is_a_database_and_user_of_its_own_only_where_a_job_uses_it() -> None:
    stack = Stack(CATALOG, answers_for(ON_POSTGRES))
    assert stack.environment("dlt") == {
        "WAREHOUSE_DIALECT": "postgres",
        "WAREHOUSE_URL": "postgresql://${POSTGRES_WAREHOUSE_USER:-warehouse}:${POSTGRES_WAREHOUSE_PASSWORD:?"
                         "POSTGRES_WAREHOUSE_PASSWORD is not set. Run make env, or set it in .env}@postgres:5432/"
                         "${POSTGRES_WAREHOUSE_DB:-warehouse}",
        "WAREHOUSE_HOST": "postgres", "WAREHOUSE_PORT": "5432", "WAREHOUSE_DB": "${POSTGRES_WAREHOUSE_DB:-warehouse}",
        "WAREHOUSE_USER": "${POSTGRES_WAREHOUSE_USER:-warehouse}",
        "WAREHOUSE_PASSWORD": "${POSTGRES_WAREHOUSE_PASSWORD:?POSTGRES_WAREHOUSE_PASSWORD is not set. Run make env, "
                              "or set it in .env}"}
    assert stack.depends_on("dlt") == {"postgres": "service_healthy"} and stack.volumes("dlt") == []
    assert "POSTGRES_WAREHOUSE_PASSWORD" in stack.secret_names and stack.jobs == ["dlt", "dbt"]
    for names in (["fastapi", "postgres"], [*PIPELINE, "postgres"]):  # no job, or DuckDB as the warehouse
        other = Stack(CATALOG, answers_for(names))
        assert set(WAREHOUSE_KEYS).isdisjoint(other.variables)
        assert set(WAREHOUSE_KEYS) <= set(other.retired_keys.split(","))  # commented out by an update to it
    assert set(WAREHOUSE_KEYS).isdisjoint(stack.retired_keys.split(","))
    # the chart runs no job: no warehouse database in a cluster
    assert set(WAREHOUSE_KEYS).isdisjoint(KubernetesView(CATALOG, answers_for([*ON_POSTGRES, "fastapi"])).variables)


@pytest.fixture(scope="module")
def on_postgres(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("data") / "p", answers_for([*ON_POSTGRES, "fastapi"],
                                                                           project_name="Shop"))


def test_postgres_makes_the_warehouse_after_each_start_and_the_jobs_reach_it(on_postgres: Path,
                                                                             tmp_path: Path) -> None:
    model = compose_config(on_postgres)
    postgres, dlt = model["services"]["postgres"], model["services"]["dlt"]
    assert postgres["post_start"] == [{"command": ["sh", "/provision/provision-warehouse.sh"]}]
    assert {"source": str(on_postgres / "services" / "postgres" / "provision-warehouse.sh"),
            "target": "/provision/provision-warehouse.sh", "read_only": True} in [
        {k: v[k] for k in ("source", "target", "read_only") if k in v} for v in postgres["volumes"]]
    env = dict(line.split("=", 1) for line in (on_postgres / ".env").read_text().splitlines()
               if line and not line.startswith("#"))
    assert dlt["environment"]["WAREHOUSE_URL"] == (f"postgresql://warehouse:{env['POSTGRES_WAREHOUSE_PASSWORD']}"
                                                   "@postgres:5432/warehouse")
    assert env["POSTGRES_WAREHOUSE_PASSWORD"] not in (env["POSTGRES_PASSWORD"], "")
    assert "volumes" not in dlt and dlt["depends_on"]["postgres"]["condition"] == "service_healthy"
    # an application's PostgreSQL alone starts as before: no hook, no script, no warehouse keys
    plain = copy_project(tmp_path / "plain", answers_for(["fastapi", "postgres"]))
    assert "post_start" not in compose_config(plain)["services"]["postgres"]
    assert not (plain / "services" / "postgres" / "provision-warehouse.sh").exists()
    assert "POSTGRES_WAREHOUSE" not in (plain / ".env").read_text()
    readme = (on_postgres / "README.md").read_text().split("## Data pipeline")[1].split("\n## ")[0]
    assert "`postgres` (PostgreSQL): a database and a user of their own" in readme, readme
    assert "`POSTGRES_WAREHOUSE_DB`, `POSTGRES_WAREHOUSE_USER`, `POSTGRES_WAREHOUSE_PASSWORD`" in readme


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(["psql", "--host=127.0.0.1", "--username=postgres", f"--dbname={database}", "--no-psqlrc",
                           "--tuples-only", "--no-align", "--command", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_provisioning_script_is_idempotent_and_gives_the_user_its_database_only(tmp_path: Path) -> None:
    """provision-warehouse.sh against this machine's PostgreSQL, run as compose's post_start runs it: twice (every
    start), the second time with a new password, which it sets."""
    name = f"stacks_warehouse_{tmp_path.name[-12:].replace('-', '_').lower()}"
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "unused", "POSTGRES_DB": "postgres",
           "POSTGRES_WAREHOUSE_DB": name, "POSTGRES_WAREHOUSE_USER": name, "POSTGRES_WAREHOUSE_PASSWORD": "First1"}
    try:
        hashes = []
        for password in ("First1", "Second2"):
            result = subprocess.run(["sh", str(PROVISION)], env={**env, "POSTGRES_WAREHOUSE_PASSWORD": password},
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            assert f"warehouse database {name} of {name} is ready" in result.stdout
            hashes.append(psql(f"select rolpassword from pg_authid where rolname = '{name}'"))
        assert hashes[0] != hashes[1] and all(h.startswith("SCRAM-SHA-256$") for h in hashes)
        assert psql(f"select pg_get_userbyid(datdba) from pg_database where datname = '{name}'") == name
        assert psql(f"select rolsuper or rolcreatedb or rolcreaterole from pg_roles where rolname = '{name}'") == "f"
        # PUBLIC may not connect: an application's user cannot reach the warehouse
        assert psql(f"select has_database_privilege('public', '{name}', 'CONNECT')") == "f"
    finally:
        psql(f"drop database if exists {name}")
        psql(f"drop role if exists {name}")


@pytest.mark.parametrize(("job", "cases"), [("dlt", 8), ("dbt", 6)])
def test_the_jobs_own_tests_pass_on_postgres_too(on_postgres: Path, job: str, cases: int) -> None:
    """Where the stack's warehouse is PostgreSQL, each job's tests run against this machine's PostgreSQL as well as
    against DuckDB files: a database of their own, as the generated CI gives them."""
    database = f"stacks_warehouse_test_{job}"
    psql(f"drop database if exists {database}")
    psql(f"create database {database}")
    try:
        folder = on_postgres / "services" / job
        result = subprocess.run(
            ["make", "test", f"TEST_WAREHOUSE_URL=postgresql://postgres:postgres@127.0.0.1:5432/{database}"],
            cwd=folder, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        outcomes = {case.get("name"): [child.tag for child in case] for case in
                    ElementTree.parse(folder / "test-results.xml").getroot().iter("testcase")}
        assert len(outcomes) == cases and not any(outcomes.values()), outcomes
        assert sum(bool(re.search(r"[\[-]postgres[-\]]", name)) for name in outcomes) == cases // 2 - (job == "dlt")
        # a missing server is a failure that says what to set, never a silent skip
        result = subprocess.run(["make", "test", "TEST_WAREHOUSE_URL=", "WAREHOUSE_URL="], cwd=folder,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode != 0 and "TEST_WAREHOUSE_URL is not a postgresql:// URL" in result.stdout
        ci = yaml.safe_load((on_postgres / ".github" / "workflows" / "ci.yml").read_text())
        assert ci["jobs"][job]["env"]["TEST_WAREHOUSE_URL"].startswith("postgresql://postgres:postgres@127.0.0.1")
    finally:
        psql(f"drop database if exists {database}")
