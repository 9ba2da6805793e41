"""The orchestrator: Airflow runs the stack's jobs as a DAG in make pipeline's order, as four compose services of
one image (API server, scheduler, DAG processor, triggerer), each healthchecked, with its metadata in a database
and user of its own that the stack's PostgreSQL makes after each start. Natively: the DAG and `airflow dags test`
(every job to success) against this machine's PostgreSQL; the engine harness triggers the DAG through the API."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml
from projects import CATALOG, REPO, answers_for, compose_config, copy_project, make_test_in_kept_venv
from test_catalog import _catalog_copy

from extensions.catalog import CatalogError, load_catalog
from extensions.keywords import suggest_stack
from extensions.kubernetes import KubernetesView
from extensions.stack import Stack

PIPELINE = ["duckdb", "dlt", "dbt"]
ORCHESTRATED = ["postgres", *PIPELINE, "airflow"]
PROCESSES = ["airflow", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
PROVISION = REPO / "template" / "services" / "postgres" / (
    "{% if stack.tenants('postgres', 'own-database') %}provision-own-databases.sh{% endif %}")


# --- words ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("description", "orchestration"), [
    ("an ELT pipeline orchestrated with Airflow", "airflow"), ("a data pipeline as a DAG", "airflow"),
    ("Apache Airflow DAGs loading our shop data", "airflow"), ("a data pipeline and workflow orchestration", "airflow"),
    ("orchestrate the pipeline daily", "airflow"), ("an ELT pipeline scheduled by Dagster", "airflow"),
    # traps: the word's other meanings, negations, other schedulers
    ("an app that monitors the airflow of HVAC units", "none"), ("container orchestration with Kubernetes", "none"),
    ("FastAPI with a job scheduler for emails", "none"), ("a data pipeline, no Airflow", "none"),
    ("a data pipeline without orchestration", "none"), ("periodic tasks with Celery beat", "none"),
    ("a dagger-based CI", "none")])
def test_words_that_ask_for_an_orchestrator_and_those_that_do_not(description: str, orchestration: str) -> None:
    suggested = suggest_stack(description, CATALOG)
    assert suggested["orchestration"] == orchestration
    if orchestration == "airflow":  # what it needs comes with it: an ingestion, and PostgreSQL for its database
        assert suggested["ingestion"] == "dlt" and suggested["database"] == "postgres"


# --- wiring -----------------------------------------------------------------------------------------------------------

def test_airflow_runs_the_jobs_with_their_environment_and_a_database_of_its_own() -> None:
    stack = Stack(CATALOG, answers_for(ORCHESTRATED))
    assert stack.services == ["postgres", *PROCESSES] and stack.jobs == ["dlt", "dbt"]
    environment = stack.environment("airflow")
    # the jobs' environment (the warehouse, the raw schema) and its own database's URL, with its own password
    assert {k: environment[k] for k in stack.environment("dbt")} == stack.environment("dbt")
    assert environment["OWN_DATABASE_URL"] == ("postgresql://airflow:${AIRFLOW_DATABASE_PASSWORD:?AIRFLOW_DATABASE_"
                                               "PASSWORD is not set. Run make env, or set it in .env}@postgres:5432/"
                                               "airflow")
    assert stack.volumes("airflow") == [("warehouse-data", "/data/warehouse")]
    assert stack.depends_on("airflow") == {"postgres": "service_healthy"}
    assert stack.tenants("postgres", "own-database") == ["airflow"]
    # PostgreSQL makes no database of its own for anyone in a stack without Airflow, nor in the chart (no Airflow)
    assert Stack(CATALOG, answers_for(["postgres", *PIPELINE])).tenants("postgres", "own-database") == []
    assert KubernetesView(CATALOG, answers_for([*ORCHESTRATED, "fastapi"])).tenants("postgres", "own-database") == []
    assert "airflow" not in KubernetesView(CATALOG, answers_for([*ORCHESTRATED, "fastapi"])).deployed_names


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("orchestration") / "p",
                        answers_for([*ORCHESTRATED, "fastapi"], project_name="Shop"))


def read_env(project: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
                if line and not line.startswith("#"))


def test_each_process_is_a_service_of_the_same_image_that_waits_for_the_api_server(project: Path) -> None:
    model = compose_config(project)
    env = read_env(project)
    services = {name: model["services"][name] for name in PROCESSES}
    builds = {yaml.safe_dump(s["build"]) for s in services.values()}
    assert len(builds) == 1, "the four build one image"
    build = services["airflow"]["build"]
    assert (build["context"], build["dockerfile"]) == (str(project / "services"), "airflow/Dockerfile")
    # of the services' folder, only Airflow's files and the jobs' folders are sent, without local venvs
    ignore = (project / "services" / "airflow" / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[2:] == ["*", "!airflow/airflow.cfg", "!airflow/dags/", "!airflow/start-api-server.sh",
                          "!airflow/run_dag.py", "!dlt/", "!dbt/", "**/.venv*", "**/__pycache__/", "**/.pytest_cache/",
                          "**/.ruff_cache/", "**/target/", "**/logs/", "**/test-results.xml"]
    checks = [yaml.safe_dump(s["healthcheck"]["test"]) for s in services.values()]
    assert len(set(checks)) == 4, "each process has a healthcheck of its own"
    assert "depends_on" not in services["airflow"] or set(services["airflow"]["depends_on"]) == {"postgres"}
    for name in PROCESSES[1:]:
        assert {k: v["condition"] for k, v in services[name]["depends_on"].items()} == {"airflow": "service_healthy"}
    for service in services.values():
        environment = service["environment"]
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql://airflow:{env['AIRFLOW_DATABASE_PASSWORD']}@postgres:5432/airflow")
        # the Fernet key is the generated secret and "=": 32 bytes of URL-safe base64, as Fernet takes
        key = environment["AIRFLOW__CORE__FERNET_KEY"]
        assert key == env["AIRFLOW_FERNET_SECRET"] + "=" and len(base64.urlsafe_b64decode(key)) == 32
        assert environment["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW_JWT_SECRET"]
        assert environment["WAREHOUSE_URL"] == "/data/warehouse/warehouse.duckdb"
        assert service["user"] == "10001:0" and service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert {v["target"] for v in service["volumes"]} == {"/opt/airflow/logs", "/data/warehouse"}
    assert "AIRFLOW_ADMIN_PASSWORD" in services["airflow"]["environment"]
    assert all("AIRFLOW_ADMIN_PASSWORD" not in s["environment"] for s in list(services.values())[1:])
    assert len({env[k] for k in ("AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_DATABASE_PASSWORD", "AIRFLOW_FERNET_SECRET",
                                 "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "POSTGRES_PASSWORD")}) == 6
    # PostgreSQL makes Airflow's database after each start
    postgres = model["services"]["postgres"]
    assert postgres["post_start"] == [{"command": ["sh", "/provision/provision-own-databases.sh", "airflow",
                                                   env["AIRFLOW_DATABASE_PASSWORD"]]}]
    # its CI job: the image's Python, and a throwaway PostgreSQL for Airflow's database
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["airflow"]
    assert ci["env"]["TEST_DATABASE_URL"].startswith("postgresql://postgres:postgres@127.0.0.1:5432/")
    assert [s["with"]["python-version"] for s in ci["steps"] if "setup-python" in s.get("uses", "")] == ["3.11"]
    dag = (project / "services" / "airflow" / "dags" / "pipeline.py").read_text()
    assert '("dlt", ["python", "pipeline.py"]),\n    ("dbt", ["dbt", "build", "--no-use-colors"]),' in dag


def test_the_readmes_say_how_to_reach_airflow_and_run_the_dag(project: Path) -> None:
    readme = (project / "README.md").read_text()
    section = readme.split("## Data pipeline")[1].split("\n## ")[0]
    assert "`airflow-scheduler`, `airflow-dag-processor`, `airflow-triggerer`" in section
    assert "services/airflow/README.md" in section and "http://localhost:8080/ (`AIRFLOW_HOST_PORT`)" in readme
    own = (project / "services" / "airflow" / "README.md").read_text()
    for text in ("run_dag.py", "AIRFLOW_ADMIN_PASSWORD", "`dlt`, then `dbt`", "AIRFLOW_FERNET_SECRET"):
        assert text in own, text


# --- PostgreSQL's databases of their own -----------------------------------------------------------------------------

def psql(sql: str) -> str:
    return subprocess.run(["psql", "--host=127.0.0.1", "--username=postgres", "--dbname=postgres", "--no-psqlrc",
                           "--tuples-only", "--no-align", "--command", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_own_databases_script_is_idempotent_and_gives_each_user_its_database_only(tmp_path: Path) -> None:
    """provision-own-databases.sh against this machine's PostgreSQL, as compose's post_start runs it: twice (every
    start), the second time with a new password for the first, which it sets."""
    suffix = hashlib.sha256(str(tmp_path).encode()).hexdigest()[:10]
    names = [f"stacks_own_a_{suffix}", f"stacks_own_b_{suffix}"]
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "unused", "POSTGRES_DB": "postgres"}
    try:
        hashes = []
        for password in ("First1", "Second2"):
            result = subprocess.run(["sh", str(PROVISION), names[0], password, names[1], "Other3"], env=env,
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            assert all(f"database {n} of user {n} is ready" in result.stdout for n in names)
            hashes.append(psql(f"select rolpassword from pg_authid where rolname = '{names[0]}'"))
        assert hashes[0] != hashes[1] and all(h.startswith("SCRAM-SHA-256$") for h in hashes)
        for name in names:
            assert psql(f"select pg_get_userbyid(datdba) from pg_database where datname = '{name}'") == name
            assert psql(f"select rolsuper or rolcreatedb or rolcreaterole from pg_roles where rolname = '{name}'") == "f"
            assert psql(f"select has_database_privilege('public', '{name}', 'CONNECT')") == "f"
        # one user cannot reach the other's database
        assert psql(f"select has_database_privilege('{names[0]}', '{names[1]}', 'CONNECT')") == "f"
    finally:
        for name in names:
            psql(f"drop database if exists {name}")
            psql(f"drop role if exists {name}")


# --- Airflow's own tests, natively ------------------------------------------------------------------------------------

def test_airflow_dags_test_runs_every_job_to_success_on_the_host(project: Path) -> None:
    """Airflow's `make test`: the DAG has a task per job, and `airflow dags test` runs them all to success over a
    DuckDB file, Airflow's database made (and dropped) on this machine's PostgreSQL. Airflow's venv is kept between
    runs, one per lock (its install takes a minute or more); ruff, hadolint and shellcheck clean."""
    outcomes = make_test_in_kept_venv(project / "services" / "airflow", ["requirements.lock"], [
        ["ruff", "check", "--no-cache", "."], ["ruff", "format", "--check", "--no-cache", "."],
        ["hadolint", "Dockerfile"], ["shellcheck", "start-api-server.sh"]])
    assert set(outcomes) == {"test_the_dag_has_a_task_per_job_in_the_jobs_order",
                             "test_airflow_dags_test_runs_every_job_to_success"} and not any(outcomes.values()), outcomes


# --- the vocabulary ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("component", "edit", "fix"), [
    ("airflow", {"env": {"AIRFLOW_ADMIN_PASSWORD": {"secret": True, "help": "x"}}},
     "postgres provides own-database to each consumer with a password of the consumer's own: declare "
     "AIRFLOW_DATABASE_PASSWORD under env with secret: true"),
    ("airflow", {"processes": {"Scheduler": "x"}}, "processes maps each process (lowercase letters"),
    ("airflow", {"kubernetes": {}}, "the Helm chart renders one workload per component, not its processes"),
    ("airflow", {"processes": {"exporter": "x"}, "kubernetes": {"omit": "x"}}, None),
    ("postgres-exporter", {"processes": {"x": "y"}, "kubernetes": {"omit": "x"}}, None),
    ("dlt", {"runs_jobs": True}, "runs_jobs is for a service that runs the stack's jobs"),
    ("redis", {"provides": {"cache": {"env": {"REDIS_URL": "redis://{consumer}@redis"}}}},
     "provides.cache.env.REDIS_URL names {consumer}, which only a capability provided per_consumer has"),
])
def test_vocabulary_mistakes_are_refused_with_the_fix(tmp_path: Path, component: str, edit: dict,
                                                      fix: str | None) -> None:
    services = _catalog_copy(tmp_path)
    path = services / component / "component.yml"
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, **edit}))
    if fix is None:  # a process named like another component's service: airflow-exporter is nobody's, x is fine
        load_catalog(services)
        return
    with pytest.raises(CatalogError, match=fix.replace("(", r"\(").replace("{", r"\{").replace("}", r"\}")):
        load_catalog(services)


def test_a_process_named_like_another_service_is_refused(tmp_path: Path) -> None:
    services = _catalog_copy(tmp_path)
    path = services / "postgres" / "component.yml"
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "processes": {"exporter": "x"}, "kubernetes": {"omit": "x"}}))
    with pytest.raises(CatalogError, match="process service postgres-exporter has the name of a service of "
                                           "postgres-exporter: rename the process"):
        load_catalog(services)
