"""The application code of a generated project really runs: its own `make test`, on the host, against the
database and cache servers of this machine (.ci/run starts them): every backend with every SQL database it can
use and every cache, computed from the catalog, and the frontends' production builds.

Each backend test run gets a fresh, uniquely named database, dropped afterwards, so reruns, parallel workers
and the migrations tests (which go down to an empty schema and up again) never collide."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import time
import tomllib
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from projects import (
    CATALOG, DEFAULTS, REPO, answers_for, compose_config, copy_project, free_port, with_requirements,
)

from extensions.catalog import NONE, Component
from extensions.stack import Stack

REDIS_URL = "redis://127.0.0.1:6379/0"
# The capabilities whose servers a backend's own tests talk to (a database, a cache).
SERVED = ("sql-database", "cache")
BACKENDS = CATALOG.in_category("backend")
# The standard linter of each toolchain whose `make test` does not already run one (tsc does for node).
LINTERS = {"python": ["ruff", "check", "--no-cache", "."]}


def tool(*command: str) -> str:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed: install the client of the local servers "
                    "(apt-get install postgresql-client mariadb-client)", pytrace=False)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(command)}: {result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class LocalServer:
    """A database server of this machine, by the scheme of the URL its component hands out."""
    url: str                                  # with {name}, the database
    create: Callable[[str], object]
    drop: Callable[[str], object]
    query: Callable[[str, str], str]          # (database, SQL) -> rows, tab-separated


POSTGRES = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
MARIADB = ["--protocol=tcp", "-h", "127.0.0.1", "-P", "3306", "-u", "root"]
LOCAL_SERVERS = {
    "postgresql": LocalServer(
        "postgresql://postgres@127.0.0.1:5432/{name}",
        lambda name: tool("createdb", *POSTGRES, name),
        lambda name: tool("dropdb", *POSTGRES, "--force", name),
        lambda name, sql: tool("psql", *POSTGRES, "--no-psqlrc", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                               "-d", name, "-c", sql).strip()),
    "mysql": LocalServer(
        "mysql://root@127.0.0.1:3306/{name}",
        lambda name: tool("mariadb", *MARIADB, "-e", f"CREATE DATABASE `{name}`"),
        lambda name: tool("mariadb", *MARIADB, "-e", f"DROP DATABASE `{name}`"),
        lambda name, sql: tool("mariadb", *MARIADB, "--batch", "--skip-column-names", name, "-e", sql).strip()),
}


def variable_of(provider: str, capability: str) -> str:
    """The variable a consumer of `capability` reads, as its provider's component.yml declares it: DATABASE_URL,
    REDIS_URL, MEMCACHED_SERVERS."""
    return next(iter(CATALOG.components[provider].provides[capability]["env"]))


def wait_for_port(server: subprocess.Popen, port: int, name: str, seconds: float = 30) -> None:
    """Until the local server just started listens on its port; fails when it exits first or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.1)


@pytest.fixture(scope="session")
def local_memcached() -> Iterator[str]:
    """host:port of a Memcached of its own for these tests (the machine runs none): Debian's memcached, which
    tests/prerequisites.sh installs."""
    binary = shutil.which("memcached") or "/usr/bin/memcached"
    if not Path(binary).exists():
        pytest.fail("memcached is not installed: make prerequisites installs it (apt-get install memcached)",
                    pytrace=False)
    port = free_port()
    as_user = ["-u", "nobody"] if os.getuid() == 0 else []  # memcached refuses to run as root
    server = subprocess.Popen([binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", *as_user])
    wait_for_port(server, port, "memcached")
    yield f"127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def local_s3() -> Iterator[dict[str, str]]:
    """The TEST_S3_* variables of an S3 server of its own for these tests (the machine runs none): moto's, from
    requirements-dev.txt, an implementation of S3 independent of the MinIO stand-in the engine harness runs."""
    binary = Path(REPO / ".venv/bin/moto_server")
    if not binary.exists():
        pytest.fail("moto_server is not installed: pip install -r requirements-dev.txt (make test does)", pytrace=False)
    port = free_port()
    server = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    wait_for_port(server, port, "moto_server")
    yield {"TEST_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "TEST_S3_ACCESS_KEY_ID": "stacks-test",
           "TEST_S3_SECRET_ACCESS_KEY": "stacks-test-secret"}
    server.terminate()
    server.wait(timeout=10)


def cache_server(cache: str, memcached: str) -> dict[str, str]:
    """The variable and the local server of a cache provider: Redis's URL (Valkey answers on it too) or Memcached's."""
    variable = variable_of(cache, "cache")
    return {variable: {"REDIS_URL": REDIS_URL, "MEMCACHED_SERVERS": memcached}[variable]}


def server_of(database: Component) -> LocalServer:
    """The local server for a provider of sql-database, by the scheme of the DATABASE_URL it hands out."""
    url = str(database.provides["sql-database"]["env"]["DATABASE_URL"])
    scheme = url.partition("://")[0]
    assert scheme in LOCAL_SERVERS, f"{database.name}: no local server for {scheme}:// URLs in tests/test_apps.py"
    return LOCAL_SERVERS[scheme]


@contextlib.contextmanager
def fresh_database(server: LocalServer) -> Iterator[tuple[str, str]]:
    """(name, URL) of a new empty database on the local server; dropped on exit."""
    name = f"stacks_test_{uuid.uuid4().hex[:12]}"
    server.create(name)
    try:
        yield name, server.url.format(name=name)
    finally:
        server.drop(name)


def make(project: Path, *targets: str, folder: str = ".", servers: dict[str, str]) -> subprocess.CompletedProcess:
    """make, with the server URLs given and no others from the environment; -rA lists every test's outcome."""
    variables = ("DATABASE_URL", "REDIS_URL", "MEMCACHED_SERVERS", "CELERY_BROKER_URL", "S3_ENDPOINT_URL",
                 "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")
    env = {k: v for k, v in os.environ.items()
           if k.removeprefix("TEST_") not in variables and k not in ("TEST_BROKER_URL", "PYTEST_ADDOPTS")}
    return subprocess.run(["make", "-C", folder, *targets], cwd=project, capture_output=True, text=True,
                          env={**env, **servers, "PYTEST_ADDOPTS": "-rA"}, timeout=900)


def check_backend_tests(folder: Path, backend: Component, capabilities: set[str], output: str) -> None:
    """The JUnit report `make test` wrote: every case passed, none skipped, and the cases that go through a real
    server of each capability ran exactly when the backend (or job) is wired to it, in every parametrization
    (`test_x[duckdb]` is a run of `test_x`)."""
    report = folder / backend.tests["report"]
    assert report.exists(), f"make test wrote no {report.name}\n{output[-3000:]}"
    cases = list(ElementTree.parse(report).getroot().iter("testcase"))
    assert cases, f"{report}: no test case"
    outcomes = {case.get("name"): [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
                for case in cases}
    bad = {name: tags for name, tags in outcomes.items() if tags}
    assert not bad, f"{backend.name}: {bad}\n{output[-3000:]}"
    ran = {name.split("[")[0] for name in outcomes}
    for capability, names in backend.tests["round_trips"].items():
        for name in names:
            assert (name in ran) == (capability in capabilities), \
                f"{backend.name}: {name} {'did not run' if name not in ran else 'ran unwired'}"


def backend_section(output: str, backend: str) -> str:
    return output.split(f"== services/{backend}/")[1].split("== services/")[0]


def items_columns(server: LocalServer, database: str) -> list[str]:
    return server.query(database, "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' "
                                  "AND table_schema = " + ("DATABASE()" if server is LOCAL_SERVERS["mysql"]
                                                           else "'public'") + " ORDER BY ordinal_position").split()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("apps") / "shop", {"project_name": "Shop \"app\" 🚀"})


def test_make_test_runs_every_service_test_suite(project: Path) -> None:
    """The default stack: the backend wired to its database and cache, migrations applied, every round trip
    passes, and the frontend's tests run too."""
    backend, frontend = CATALOG.components[DEFAULTS["backend"]], DEFAULTS["frontend"]
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    wired = {edge.capability for edge in Stack(CATALOG, answers).wiring(backend.name)}
    assert set(SERVED) <= wired, "the default stack wires the backend to a database and a cache"
    server = server_of(CATALOG.components[DEFAULTS["database"]])
    with fresh_database(server) as (database, url):
        result = make(project, "test", servers={"DATABASE_URL": url, "REDIS_URL": REDIS_URL})
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        assert f"== services/{backend.name}/" in output and f"== services/{frontend}/" in output
        check_backend_tests(project / "services" / backend.name, backend, wired, backend_section(output, backend.name))
        # the migrations built the table in the database the tests were given
        assert items_columns(server, database) == ["id", "name", "created_at"]

    # the frontend installed exactly its lockfile, then ran every one of its unit tests
    page = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout.split(f"== services/{frontend}/")[1])  # vitest's colours
    cases = unit_tests(project / "services" / frontend)
    assert "npm ci" in page and re.search(rf"Tests\s+{cases} passed \({cases}\)", page), page[-2000:]


def backend_matrix() -> list[tuple[str, str, str]]:
    """Every backend with every SQL database and every cache it can use, and without each: from the catalog."""
    choices = {capability: [p.name for p in CATALOG.providers(capability)] + [NONE] for capability in SERVED}
    return [(backend.name, database, cache) for backend in BACKENDS
            for database, cache in itertools.product(choices["sql-database"], choices["cache"])
            if all(capability in backend.uses or choice == NONE
                   for capability, choice in zip(SERVED, (database, cache)))]


@pytest.mark.parametrize(("backend", "database", "cache"), backend_matrix(),
                         ids=[f"{b}-{d}-{c}" for b, d, c in backend_matrix()])
def test_backend_tests_pass_with_each_database_and_cache(backend: str, database: str, cache: str,
                                                         tmp_path: Path, local_memcached: str) -> None:
    """The backend generated with this database and cache (or none) runs its own tests against the real servers
    of this machine: its migrations build the items table there, its round trips pass, and its linter is clean."""
    component = CATALOG.components[backend]
    names = with_requirements([n for n in (backend, database, cache) if n != NONE])
    project = copy_project(tmp_path / "p", answers_for(names, project_name="Matrix"))
    folder = project / "services" / backend
    wired = {edge.capability for edge in Stack(CATALOG, answers_for(names)).wiring(backend)}
    assert wired == {cap for cap, choice in zip(SERVED, (database, cache)) if choice != NONE}
    with contextlib.ExitStack() as stack:
        servers = {}
        if database != NONE:
            server = server_of(CATALOG.components[database])
            name, servers["DATABASE_URL"] = stack.enter_context(fresh_database(server))
        if cache != NONE:
            servers |= cache_server(cache, local_memcached)
        result = make(project, "test", folder=f"services/{backend}", servers=servers)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        check_backend_tests(folder, component, wired, output)
        if linter := LINTERS.get(component.ci.get("toolchain", "")):
            result = subprocess.run(linter, cwd=folder, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
        if database != NONE:
            assert items_columns(server, name) == ["id", "name", "created_at"]

        # a missing server is a failure that says what to set, never a silent skip
        for capability, provider in zip(SERVED, (database, cache)):
            if capability in wired:
                variable = variable_of(provider, capability)
                result = make(project, "test", f"TEST_{variable}=", folder=f"services/{backend}",
                              servers={k: v for k, v in servers.items() if k != variable})
                assert result.returncode != 0, (result.stdout + result.stderr)[-3000:]
                assert f"TEST_{variable}" in result.stdout + result.stderr


# The broker URL of each provider of `broker`, on this machine: RabbitMQ's guest, Redis's database 1.
LOCAL_BROKERS = {"amqp": "amqp://guest:guest@127.0.0.1:5672//", "redis": "redis://127.0.0.1:6379/1"}
TASK_APPS = [c.name for c in CATALOG.providers("celery-app")]
WORKERS = [c.name for c in CATALOG.providers("task-queue")]


def broker_matrix() -> list[tuple[str, str, str]]:
    """Each backend whose code a worker runs, with each broker (a dedicated one, or the cache on demand)."""
    return [(backend, worker, broker.name) for backend in TASK_APPS for worker in WORKERS
            for broker in CATALOG.providers("broker")]


@pytest.mark.parametrize(("backend", "worker", "broker"), broker_matrix(),
                         ids=[f"{b}-{w}-{r}" for b, w, r in broker_matrix()])
def test_backend_tasks_run_in_a_worker_through_each_broker(backend: str, worker: str, broker: str,
                                                           tmp_path: Path) -> None:
    """The backend with a worker and this broker runs its own tests against the local broker and cache: a task
    sent through its API runs in a real worker and its result is read back; a missing broker URL fails, naming
    the variable."""
    names = with_requirements([backend, worker, broker])
    stack = Stack(CATALOG, answers_for(names))
    assert broker in [p.name for p in stack.providers("broker")], f"{broker} is not the broker of {names}"
    project = copy_project(tmp_path / "p", answers_for(names, project_name="Tasks"))
    url = str(CATALOG.components[broker].provides["broker"]["env"]["CELERY_BROKER_URL"])
    servers = {"REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": LOCAL_BROKERS[url.partition("://")[0]]}
    wired = {edge.capability for edge in stack.wiring(backend)}
    assert {"broker", "cache"} <= wired and "sql-database" not in wired
    result = make(project, "test", folder=f"services/{backend}", servers=servers)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    check_backend_tests(project / "services" / backend, CATALOG.components[backend], wired, output)
    result = subprocess.run(LINTERS["python"], cwd=project / "services" / backend, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    result = make(project, "test", "TEST_BROKER_URL=", folder=f"services/{backend}",
                  servers={"REDIS_URL": REDIS_URL})
    assert result.returncode != 0 and "TEST_BROKER_URL" in result.stdout + result.stderr


def check_backend_wired_to_one_provider(backend: str, provider: str, capability: str, servers: dict[str, str],
                                       folder: Path) -> Path:
    """Generates `backend` with `provider` alone, wired for `capability`; its `make test` passes against `servers`
    with the cases of that capability run, and its linter is clean. The project, for more checks."""
    names = with_requirements([backend, provider])
    project = copy_project(folder, answers_for(names, project_name="Alone"))
    wired = {edge.capability for edge in Stack(CATALOG, answers_for(names)).wiring(backend)}
    assert wired == {capability}
    result = make(project, "test", folder=f"services/{backend}", servers=servers)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    check_backend_tests(project / "services" / backend, CATALOG.components[backend], wired, output)
    if linter := LINTERS.get(CATALOG.components[backend].ci.get("toolchain", "")):
        result = subprocess.run(linter, cwd=project / "services" / backend, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    return project


MAILERS = [c.name for c in BACKENDS if "smtp" in c.uses]


@pytest.mark.parametrize(("backend", "mail_server"), [(b, p.name) for b in MAILERS for p in CATALOG.providers("smtp")])
def test_backend_sends_mail_through_an_smtp_server(backend: str, mail_server: str, tmp_path: Path) -> None:
    """The backend wired to a mail server (and nothing else) sends a mail through its API to a real SMTP server
    its tests start in process, and refuses what could forge a header; its linter is clean."""
    check_backend_wired_to_one_provider(backend, mail_server, "smtp", {}, tmp_path / "p")


@pytest.mark.parametrize("capabilities", [(), ("cache",), ("sql-database",)], ids=["nothing", "cache", "database"])
def test_fastapi_files_follow_its_wiring(capabilities: tuple[str, ...], tmp_path: Path) -> None:
    """Without a database there are no migrations, models or entrypoint; without a cache no cache module."""
    providers = [CATALOG.categories[CATALOG.providers(cap)[0].category].default for cap in capabilities]
    project = copy_project(tmp_path / "p", answers_for(with_requirements(["fastapi", *providers]), project_name="Less"))
    folder = project / "services/fastapi"
    has_database = "sql-database" in capabilities
    for path in ("alembic.ini", "migrations", "entrypoint.sh", "app/database.py", "app/models.py"):
        assert (folder / path).exists() == has_database, path
    assert (folder / "app/cache.py").exists() == ("cache" in capabilities)
    # the container applies the migrations before the server starts, which then replaces the shell
    assert ('ENTRYPOINT ["/app/entrypoint.sh"]' in (folder / "Dockerfile").read_text()) == has_database
    if has_database:
        assert (folder / "entrypoint.sh").read_text().endswith('alembic upgrade head\nexec "$@"\n')


FRONTENDS = [c.name for c in CATALOG.in_category("frontend")]


def unit_tests(folder: Path) -> int:
    """How many `it(` cases a frontend's own test files hold (not those of what npm installs or a build writes)."""
    return sum(path.read_text().count("\n  it(") for path in folder.rglob("*.test.ts*")
               if not any(part == "node_modules" or part.startswith(".") for part in path.relative_to(folder).parts))


def built_page(folder: Path, frontend: Component) -> str:
    """The page `make build` made, as its component.yml says: the HTML file it wrote (tests.built_page), or what
    the server it wrote (tests.built_server) renders at /, started on a free local port."""
    if "built_page" in frontend.tests:
        return (folder / frontend.tests["built_page"]).read_text()
    assert "built_server" in frontend.tests, \
        f"{frontend.name}: say where make build leaves the page: tests.built_page or tests.built_server in component.yml"
    port = free_port()
    server = subprocess.Popen(frontend.tests["built_server"], cwd=folder, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env={**os.environ, "PORT": str(port), "HOSTNAME": "127.0.0.1"})
    try:
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                    return response.read().decode()
            except OSError:  # not listening yet
                time.sleep(0.2)
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    pytest.fail(f"{frontend.name}: {' '.join(frontend.tests['built_server'])} served no page on port {port}\n{output[-3000:]}")


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_frontend_builds_for_production(frontend: str, tmp_path: Path) -> None:
    """The production build (type check included) of each frontend, with a name that needs escaping."""
    project = copy_project(tmp_path / "p", answers_for([frontend], project_name="Shop \"app\" 🚀"))
    result = make(project, "build", folder=f"services/{frontend}", servers={})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    index = built_page(project / f"services/{frontend}", CATALOG.components[frontend])
    assert "<title>Shop &#34;app&#34; 🚀</title>" in index or "<title>Shop &quot;app&quot; 🚀</title>" in index


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_frontend_installs_its_lockfile(frontend: str) -> None:
    """npm ci, never npm install: the build uses exactly the versions package-lock.json pins."""
    folder = REPO / "template/services" / frontend
    makefile = (folder / "Makefile").read_text()
    assert "npm ci" in makefile and "npm install" not in makefile
    lock = json.loads((folder / "package-lock.json").read_text())
    declared = json.loads(re.sub(r"\{\{.*?\}\}", '""', (folder / "package.json.jinja").read_text()))
    root = lock["packages"][""]
    assert root.get("dependencies", {}) == declared.get("dependencies", {}), "npm install --package-lock-only again"
    assert root.get("devDependencies", {}) == declared.get("devDependencies", {}), "npm install --package-lock-only again"


def test_frontend_without_a_proxy_calls_the_api_on_its_own_port(tmp_path: Path) -> None:
    """A page and an API with no reverse proxy between them: the page is built with the API's published port
    (following .env), the API allows the page's origin with CORS, and the page's own tests pass."""
    for frontend in FRONTENDS:
        project = copy_project(tmp_path / frontend, answers_for([DEFAULTS["backend"], frontend], project_name="Direct"))
        env = yaml.safe_load((project / ".env").read_text().replace("=", ": "))
        model = compose_config(project)
        api_port = next(p["published"] for p in model["services"][DEFAULTS["backend"]]["ports"])
        page_port = next(p["published"] for p in model["services"][frontend]["ports"])
        assert str(api_port) in {str(v) for v in env.values()} and str(page_port) in {str(v) for v in env.values()}
        build_args = model["services"][frontend]["build"]["args"]
        assert list(build_args.values()) == [f"http://localhost:{api_port}/"], build_args
        cors = model["services"][DEFAULTS["backend"]]["environment"]["CORS_ORIGINS"]
        assert cors == f"http://localhost:{page_port},http://127.0.0.1:{page_port}"
        result = make(project, "test", folder=f"services/{frontend}", servers={})
        output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
        assert result.returncode == 0, output[-3000:]
        cases = unit_tests(project / "services" / frontend)
        assert re.search(rf"Tests\s+{cases} passed \({cases}\)", output), output[-2000:]


STORERS = [c.name for c in BACKENDS if "object-storage" in c.uses]


@pytest.mark.parametrize(("backend", "storage"), [(b, p.name) for b in STORERS for p in CATALOG.providers("object-storage")])
def test_backend_stores_files_in_object_storage(backend: str, storage: str, local_s3: dict[str, str],
                                                tmp_path: Path) -> None:
    """The backend wired to object storage (and nothing else) uploads a file through its API to a real S3 server
    and reads it back, and reports the storage in its health; without the server's variables its tests fail
    naming them; its linter is clean."""
    project = check_backend_wired_to_one_provider(backend, storage, "object-storage", local_s3, tmp_path / "p")
    result = make(project, "test", folder=f"services/{backend}", servers={})
    assert result.returncode != 0 and "TEST_S3_ENDPOINT_URL" in result.stdout + result.stderr


def dependencies(folder: Path) -> list[str]:
    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]["dependencies"]


LANDERS = [c.name for c in CATALOG.components.values() if c.job and "object-storage" in c.uses]


@pytest.mark.parametrize(("job", "storage"), [(j, p.name) for j in LANDERS for p in CATALOG.providers("object-storage")])
def test_a_job_wired_to_object_storage_lands_its_rows_in_a_bucket(job: str, storage: str, local_s3: dict[str, str],
                                                                  tmp_path: Path) -> None:
    """The ingestion beside object storage: wired to it, its image gets the s3 extra, and its `make test` lands the
    raw rows in a bucket of its own on a real S3 server (moto's), beside each warehouse dialect the stack has (a
    PostgreSQL warehouse: a fresh database on the local server), the cases of the capability run, every case passed;
    its linter is clean, the project's README says so; without the S3 server's variables those cases fail naming
    them. Without object storage, none of it."""
    names = with_requirements([job, storage])
    stack = Stack(CATALOG, answers_for(names))
    assert stack.consumes(job, "object-storage")
    project = copy_project(tmp_path / "lake", answers_for(names, project_name="Lake"))
    folder = project / "services" / job
    assert "s3fs==2026.9.0" in dependencies(folder)
    assert f"`{job}` also lands what it loads in the bucket of `{storage}`" in (project / "README.md").read_text()
    result = subprocess.run(LINTERS["python"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    on_postgres = stack.environment(job).get("WAREHOUSE_DIALECT") == "postgres"
    with (fresh_database(LOCAL_SERVERS["postgresql"]) if on_postgres else contextlib.nullcontext(("", ""))) as (name, _):
        # dlt wants a password in the URL; the local server trusts any
        warehouse = {"TEST_WAREHOUSE_URL": f"postgresql://postgres:postgres@127.0.0.1:5432/{name}" if name else ""}
        result = make(project, "test", folder=f"services/{job}", servers={**local_s3, **warehouse})
        output = "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                           if "WARNING: Location" not in line)
        assert result.returncode == 0, output[-4000:]
        check_backend_tests(folder, CATALOG.components[job], {"warehouse", "object-storage"}, output)
        cases = [case.get("name") for case in
                 ElementTree.parse(folder / CATALOG.components[job].tests["report"]).getroot().iter("testcase")]
        assert any("[postgres]" in name for name in cases) == on_postgres
        result = make(project, "test", folder=f"services/{job}", servers=warehouse)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "TEST_S3_ENDPOINT_URL, TEST_S3_ACCESS_KEY_ID and TEST_S3_SECRET_ACCESS_KEY must all be set" in output, output[-4000:]
    plain = copy_project(tmp_path / "plain", answers_for(with_requirements([job]), project_name="Plain"))
    assert not [d for d in dependencies(plain / "services" / job) if d.startswith("s3fs") or "s3]" in d]
    assert not (plain / "services" / job / "tests" / "test_bucket.py").exists()
    assert "also lands what it loads" not in (plain / "README.md").read_text()
