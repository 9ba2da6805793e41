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
    ("logistics for a warehouse", "none")])
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
        "dlt needs a data warehouse: choose warehouse=duckdb, or set ingestion to none"]
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
    spec.update(label="Clean", category="worker", provides={"cleaned-data": {}}, uses=["warehouse", "raw-data"],
                keywords=["second job"])
    spec_file.write_text(yaml.safe_dump(spec))
    catalog = load_catalog(services)
    names = [c.name for c in catalog.components.values() if c.job]
    assert names.index("clean") < names.index("dlt")
    assert Stack(catalog, answers_for(["duckdb", "dlt", "clean"], catalog)).jobs == ["dlt", "clean"]
    spec_file = services / "dlt" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["uses"] = ["warehouse", "cleaned-data"]
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
    assert set(CATALOG.components[job].tests["round_trips"]["warehouse"]) <= set(outcomes)
    assert len(outcomes) == cases and not any(outcomes.values()), outcomes
    for command in (["ruff", "check", "--no-cache", "."], ["ruff", "format", "--check", "--no-cache", "."],
                    ["hadolint", "Dockerfile"]):
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
