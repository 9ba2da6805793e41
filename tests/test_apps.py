"""The application code of a generated project really runs: its own `make test`, on the host, against the
PostgreSQL and Redis servers of this machine (.ci/run starts them), and the frontend's production build.

Each backend test run gets a fresh, uniquely named database, dropped afterwards, so reruns, parallel workers
and the migrations tests (which go down to an empty schema and up again) never collide."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from projects import CATALOG, REPO, answers_for, copy_project, with_requirements

from extensions.stack import Stack

POSTGRES = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
REDIS_URL = "redis://127.0.0.1:6379/0"
# The variable a consumer of each capability reads, as its provider's component.yml declares it.
URL_VARIABLES = {"sql-database": "DATABASE_URL", "cache": "REDIS_URL"}
# Tests that go through the API to a real server and back; each must run and pass where the backend has it.
ROUND_TRIPS = {
    "sql-database": ["test_items.py::test_item_written_is_read_back",
                     "test_migrations.py::test_migrations_go_down_and_up_again",
                     "test_migrations.py::test_models_match_the_migrations",
                     "test_health.py::test_database_up"],
    "cache": ["test_cache.py::test_value_cached_is_read_back", "test_health.py::test_cache_up"],
}
BACKENDS = [c for c in CATALOG.components.values() if c.category == "backend"]


def postgres_tool(tool: str, *args: str) -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed: install the PostgreSQL client (apt-get install postgresql-client)",
                    pytrace=False)
    result = subprocess.run([tool, *POSTGRES, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{tool} {' '.join(args)}: {result.stderr}"
    return result.stdout


@contextlib.contextmanager
def fresh_database() -> Iterator[tuple[str, str]]:
    """(name, URL) of a new empty database on the local server; dropped on exit."""
    name = f"stacks_test_{uuid.uuid4().hex[:12]}"
    postgres_tool("createdb", name)
    try:
        yield name, f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        postgres_tool("dropdb", "--force", name)


def query(database: str, sql: str) -> str:
    return postgres_tool("psql", "--no-psqlrc", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql).strip()


def make(project: Path, *targets: str, folder: str = ".", servers: dict[str, str]) -> subprocess.CompletedProcess:
    """make, with the server URLs given and no others from the environment; -rA lists every test's outcome."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL",
                                                             "TEST_REDIS_URL", "PYTEST_ADDOPTS")}
    return subprocess.run(["make", "-C", folder, *targets], cwd=project, capture_output=True, text=True,
                          env={**env, **servers, "PYTEST_ADDOPTS": "-rA"}, timeout=900)


def check_backend_tests(output: str, tests_folder: Path, capabilities: set[str]) -> None:
    """Every test the backend was generated with ran and passed, the round trips through each server included."""
    tests = "".join(p.read_text() for p in tests_folder.glob("test_*.py"))
    assert re.search(rf"\b{tests.count('def test_')} passed\b", output), output[-3000:]
    summary = re.search(r"short test summary info =+\n(.*?)\n(=+ .* =+)\n", output, re.DOTALL)
    assert summary, output[-3000:]
    assert re.fullmatch(r"=+ \d+ passed in [^,]* =+", summary.group(2)), summary.group(2)  # no skip, no xfail
    assert all(line.startswith("PASSED ") for line in summary.group(1).splitlines()), summary.group(1)
    for capability, names in ROUND_TRIPS.items():
        for name in names:
            ran = re.search(rf"^PASSED tests/{re.escape(name)}$", output, re.MULTILINE)
            assert bool(ran) == (capability in capabilities), f"{name}: {'did not pass' if not ran else 'unexpected'}"


def backend_section(output: str, backend: str) -> str:
    return output.split(f"== services/{backend}/")[1].split("== services/")[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("apps") / "shop", {"project_name": "Shop \"app\" 🚀"})


def test_make_test_runs_every_service_test_suite(project: Path) -> None:
    """The default stack: backend wired to PostgreSQL and Redis, migrations applied, every round trip passes."""
    backend = BACKENDS[0].name
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    wired = {edge.capability for edge in Stack(CATALOG, answers).wiring(backend)}
    assert set(URL_VARIABLES) <= wired, "the default stack wires the backend to a database and a cache"
    with fresh_database() as (database, url):
        result = make(project, "test", servers={"DATABASE_URL": url, "REDIS_URL": REDIS_URL})
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        assert f"== services/{backend}/" in output and "== services/react/" in output
        section = backend_section(result.stdout, backend)
        assert "alembic upgrade head" in section and "Running upgrade  -> " in result.stderr  # alembic logs there
        check_backend_tests(section, project / f"services/{backend}/tests", wired)
        assert "PASSED tests/test_health.py::test_database_and_cache_up" in section

        # the migrations built the table and recorded their head, in the database the tests were given
        revisions = [re.search(r'^revision: str = "(\w+)"$', p.read_text(), re.MULTILINE).group(1)
                     for p in (project / f"services/{backend}/migrations/versions").glob("*.py")]
        assert [query(database, "SELECT version_num FROM alembic_version")] == revisions  # the one head
        columns = query(database, "SELECT column_name FROM information_schema.columns "
                                  "WHERE table_name = 'items' ORDER BY ordinal_position")
        assert columns.split() == ["id", "name", "created_at"]

    # the frontend installed exactly its lockfile, then ran every one of its unit tests
    frontend = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout.split("== services/react/")[1])  # vitest's colours
    cases = sum(p.read_text().count("\n  it(") for p in (project / "services/react/src").rglob("*.test.ts*"))
    assert "npm ci" in frontend and re.search(rf"Tests\s+{cases} passed \({cases}\)", frontend), frontend[-2000:]


def wiring_subsets() -> list[tuple[str, tuple[str, ...]]]:
    """Each backend with every proper subset of what it can be wired to (the default stack has all of it)."""
    return [(backend.name, subset) for backend in BACKENDS
            for size in range(len(backend.uses))
            for subset in itertools.combinations(backend.uses, size)]


@pytest.mark.parametrize(("backend", "capabilities"), wiring_subsets(),
                         ids=[f"{b}-with-{'+'.join(c) or 'nothing'}" for b, c in wiring_subsets()])
def test_backend_runs_with_less(backend: str, capabilities: tuple[str, ...], tmp_path: Path) -> None:
    """Without a database (or a cache) the backend still generates, and its tests run and pass."""
    providers = [CATALOG.providers(capability)[0].name for capability in capabilities]
    names = with_requirements([backend, *providers])
    project = copy_project(tmp_path / "p", answers_for(names, project_name="Less"))
    folder = project / "services" / backend
    has_database = "sql-database" in capabilities
    for path in ("alembic.ini", "migrations", "entrypoint.sh", "app/database.py", "app/models.py"):
        assert (folder / path).exists() == has_database, path
    assert (folder / "app/cache.py").exists() == ("cache" in capabilities)
    # the container applies the migrations before the server starts, which then replaces the shell
    assert ('ENTRYPOINT ["/app/entrypoint.sh"]' in (folder / "Dockerfile").read_text()) == has_database
    if has_database:
        assert (folder / "entrypoint.sh").read_text().endswith('alembic upgrade head\nexec "$@"\n')

    with contextlib.ExitStack() as stack:
        servers = {}
        if has_database:
            servers["DATABASE_URL"] = stack.enter_context(fresh_database())[1]
        if "cache" in capabilities:
            servers["REDIS_URL"] = REDIS_URL
        result = make(project, "test", folder=f"services/{backend}", servers=servers)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    check_backend_tests(result.stdout, folder / "tests", set(capabilities))


def test_frontend_builds_for_production(project: Path) -> None:
    result = make(project, "build", folder="services/react", servers={})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    index = (project / "services/react/dist/index.html").read_text()
    assert "<title>Shop &#34;app&#34; 🚀</title>" in index or "<title>Shop &quot;app&quot; 🚀</title>" in index


def test_frontend_installs_its_lockfile() -> None:
    """npm ci, never npm install: the build uses exactly the versions package-lock.json pins."""
    makefile = (REPO / "template/services/react/Makefile").read_text()
    assert "npm ci" in makefile and "npm install" not in makefile


def test_backend_tests_fail_loudly_without_servers(project: Path) -> None:
    """A missing server is a failure that says what to set, never a silent skip."""
    result = make(project, "test", "TEST_DATABASE_URL=", "TEST_REDIS_URL=", folder="services/fastapi", servers={})
    assert result.returncode != 0
    assert "TEST_DATABASE_URL" in result.stdout + result.stderr


def test_frontend_without_a_proxy_says_why_it_shows_no_api_status(tmp_path: Path) -> None:
    """A page and an API with no reverse proxy between them: the page's own tests show it names the reason."""
    project = copy_project(tmp_path / "p", answers_for(["fastapi", "react"], project_name="Unrouted"))
    assert "API_PATH: string | null = null;" in (project / "services/react/src/config.ts").read_text()
    result = make(project, "test", folder="services/react", servers={})
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert result.returncode == 0, output[-3000:]
    cases = sum(p.read_text().count("\n  it(") for p in (project / "services/react/src").rglob("*.test.ts*"))
    assert re.search(rf"Tests\s+{cases} passed \({cases}\)", output), output[-2000:]
