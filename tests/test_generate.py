"""Generated projects: every component alone and with what it requires, a pairwise set across categories, and
the default stack, each checked the way a user would notice a problem."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from projects import (
    CATALOG, DEFAULTS, REPO, answers_for, compose_config, copier, copy_project, git, is_valid, pairwise_stacks,
    project_files, read_env, with_requirements,
)

from chart import check_chart_matches_compose

from extensions.catalog import NONE
from extensions.stack import Stack

STACKS = {"+".join(names): names for names in pairwise_stacks()}
STACKS.update({f"{name}-alone": with_requirements([name]) for name in CATALOG.components})


def app_tier_matrix() -> dict[str, list[str]]:
    """Every backend x database x cache x frontend the questionnaire allows, with each proxy and without one."""
    tiers = ["backend", "database", "cache", "frontend", "proxy"]
    options = [[c.name for c in CATALOG.in_category(tier)] + [NONE] for tier in tiers]
    matrix = {}
    for choice in itertools.product(*options):
        names = [n for n in choice if n != NONE]
        if names and is_valid(names):
            matrix["matrix:" + "+".join(choice)] = names
    return matrix


STACKS.update(app_tier_matrix())


def check_project(project: Path, names: list[str], answers: dict) -> None:
    stack = Stack(CATALOG, answers)
    # one folder per chosen component and per one that joined by itself (an exporter), none for the others
    assert set(names) <= set(stack.names)
    assert sorted(p.name for p in (project / "services").iterdir()) == sorted(stack.names)
    assert not list(project.rglob("component.yml")) and not (project / "services" / "categories.yml").exists()

    # compose: valid with the generated .env, one service per component, wired by capability
    model = compose_config(project)
    # the Helm chart: the same stack, validated against compose.yaml
    check_chart_matches_compose(project)
    assert sorted(model["services"]) == sorted([*stack.services, *stack.jobs])
    assert model["name"] == answers["project_slug"]
    assert "version" not in yaml.safe_load((project / "compose.yaml").read_text())
    for service_name, service in model["services"].items():
        name = CATALOG.component_of(service_name).name
        # healthy for what it uses; started for what a proxy routes to or Prometheus scrapes (it looks addresses up
        # per request); a process of a component (Airflow's scheduler) for the component's own service
        depends = {provider: d["condition"] for provider, d in service.get("depends_on", {}).items()}
        for key, value in stack.environment(name).items():
            assert key in service["environment"], f"{service_name} is not given {key}"
            assert "${" not in service["environment"][key], "every variable resolves from .env"
        if service_name != name:
            assert depends == {name: "service_healthy"}, f"{service_name} waits for {name} to be healthy"
            continue
        assert depends == stack.depends_on(name)
        for edge in stack.wiring(name):  # healthy where any of its edges to that provider needs it so
            if not CATALOG.components[edge.provider].serves:
                continue  # a volume it mounts (DuckDB's file), or a job make pipeline runs before: nothing to wait for
            used = [e for e in stack.wiring(name) if e.provider == edge.provider and e.capability not in
                    {*CATALOG.components[name].routes, *CATALOG.components[name].scrapes}]
            assert depends[edge.provider] == ("service_healthy" if used else "service_started"), edge

    # a page on a port of its own calls its API on the API's port, which allows the page's origin (CORS)
    for name, service in model["services"].items():
        if name in stack.names and stack.browser_origins(name):
            origins = service["environment"].get("CORS_ORIGINS", "").split(",")
            pages = [p for p in stack.providers("web-ui") if not stack.routed_by(p.name)]
            assert {int(o.rsplit(":", 1)[1]) for o in origins} == {
                int(port["published"]) for page in pages for port in model["services"][page.name]["ports"]}, origins

    # host ports: unique, from .env, datastores private unless asked, then on 127.0.0.1 only
    published = [(s, p) for s, svc in model["services"].items() for p in svc.get("ports", [])]
    numbers = [int(p["published"]) for _, p in published]
    assert len(numbers) == len(set(numbers))
    env = read_env(project / ".env")
    for service, port in published:
        component = CATALOG.component_of(service)
        declared = next(p for p in component.ports if p.container == int(port["target"]))
        assert int(port["published"]) == int(env[declared.env])
        if component.datastore:  # asked for, or nothing in the stack uses it: on 127.0.0.1 only
            assert answers.get("publish_datastores") or not stack.consumers(service)
            assert port["host_ip"] == "127.0.0.1"
        if declared.local_only:  # a UI without a login (Prometheus)
            assert port["host_ip"] == "127.0.0.1", f"{service}: {declared.local_only}"
    for name in stack.names:
        if not CATALOG.components[name].service:  # a volume, declared in the fragment of its own (compose's model
            # drops a volume no service mounts: the file is read)
            declared = yaml.safe_load((project / "compose.yaml").read_text())["volumes"]
            assert name not in model["services"] and set(declared) >= {
                str(data["volume"]["name"]) for data in CATALOG.components[name].provides.values() if "volume" in data}
            continue
        if CATALOG.components[name].datastore and not answers.get("publish_datastores") and stack.consumers(name):
            assert "ports" not in model["services"][name]
        if stack.routed_by(name):  # reached through the proxy, the one entry point
            assert "ports" not in model["services"][name]
        elif not CATALOG.components[name].datastore and CATALOG.components[name].ports:
            assert "ports" in model["services"][name], f"{name} is routed by no proxy, so the host reaches it itself"
        elif not CATALOG.components[name].ports:  # a worker: nothing listens
            assert "ports" not in model["services"][name]

    # .env: every key of .env.example, secrets filled, owner-only; .env.example keeps secrets empty
    example = read_env(project / ".env.example")
    assert set(example) <= set(env)
    for key in stack.secret_names:
        assert example[key] == "" and re.fullmatch(r"[A-Za-z0-9]{43}", env[key])
    assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600
    answers_text = (project / ".copier-answers.yml").read_text()
    assert not any(env[key] in answers_text for key in stack.secret_names)
    assert ".env" in (project / ".gitignore").read_text().splitlines()

    # the diagram shows every service and every dependency
    architecture = (project / "ARCHITECTURE.md").read_text()
    for edge in stack.edges:  # a mermaid id has no hyphen
        consumer, provider = edge.consumer.replace("-", "_"), edge.provider.replace("-", "_")
        arrow = "-->" if CATALOG.components[edge.provider].service else "--o"  # --o: a volume it mounts
        assert re.search(rf"\n  {consumer} {arrow}\|.*\| {provider}\n", architecture)
    for name in names:
        assert f"`{name}`" in (project / "README.md").read_text()
    # a worker: the README says whose code it runs and how the API sends it tasks
    for worker in stack.providers("task-queue"):
        section = (project / "README.md").read_text().split("## Background tasks\n", 1)[1].split("\n## ", 1)[0]
        assert f"runs the tasks of `services/{stack.built_from(worker.name)}/`" in section and "POST /tasks" in section
    # a mail server: the README says where the mail is read, with which secret, and how the API sends one
    for server in stack.providers("smtp"):
        section = (project / "README.md").read_text().split("## Mail\n", 1)[1].split("\n## ", 1)[0]
        assert f"`{server.name}`" in section and "SMTP_URL" in section
        for port, host, _ in stack.published(server.name):
            assert f"http://localhost:{host}" in section
        assert all(f"`{v.name}`" in section for v in server.env if v.secret)
        assert ("POST /mail" in section) == any(stack.http_endpoint(c) for c in stack.consumers(server.name))

    # every generated file of a structured format parses (the chart's templates are YAML once helm renders them)
    for path in project_files(project):
        if path.suffix in (".yaml", ".yml") and "templates" not in path.relative_to(project).parts:
            yaml.safe_load(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix == ".py":
            compile(path.read_text(), str(path), "exec")


@pytest.mark.parametrize("names", list(STACKS.values()), ids=list(STACKS))
def test_stack(names: list[str], copie) -> None:
    answers = answers_for(names, project_name="Shop", project_slug="shop")
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, result.exception
    check_project(result.project_dir, names, answers)


def test_default_generation(tmp_path: Path) -> None:
    """`copier copy --trust --defaults <template> my_proj` with nothing else."""
    project = copy_project(tmp_path / "my_proj", {})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "my_proj" and answers["project_slug"] == "my-proj"
    names = list(DEFAULTS.values())
    check_project(project, names, answers)
    assert {k: answers[k] for k in CATALOG.questions} == answers_for(names)


def test_description_picks_the_stack(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "p", {"project_description": "FastAPI with Postgres and Redis"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {k: answers[k] for k in CATALOG.questions} == answers_for(["fastapi", "postgres", "redis"])
    check_project(project, ["fastapi", "postgres", "redis"], answers)


def test_published_datastores_and_offset(tmp_path: Path) -> None:
    data = {"project_description": "FastAPI with Postgres and Redis", "publish_datastores": True,
            "host_port_offset": 10000}
    project = copy_project(tmp_path / "p", data)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    # an advanced setting passed with -d is kept in the answers file for updates, though "advanced" is no
    assert answers["advanced"] is False and answers["host_port_offset"] == 10000
    assert answers["publish_datastores"] is True
    check_project(project, ["fastapi", "postgres", "redis"], answers)
    env = read_env(project / ".env")
    assert (env["FASTAPI_HOST_PORT"], env["POSTGRES_HOST_PORT"], env["REDIS_HOST_PORT"]) == ("18000", "15432", "16379")
    assert '"127.0.0.1:${POSTGRES_HOST_PORT:-15432}:5432"' in (project / "compose.yaml").read_text()


def test_same_answers_give_byte_identical_files(tmp_path: Path) -> None:
    data = {"project_name": "Twin", "project_slug": "twin"}
    first, second = copy_project(tmp_path / "a", data), copy_project(tmp_path / "b", data)
    files = [p.relative_to(first) for p in project_files(first) if p.name not in (".env", ".copier-answers.yml")]
    assert files == [p.relative_to(second) for p in project_files(second) if p.name not in (".env", ".copier-answers.yml")]
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative
    assert read_env(first / ".env")["POSTGRES_PASSWORD"] != read_env(second / ".env")["POSTGRES_PASSWORD"]


def test_copy_from_a_git_url(tmp_path: Path) -> None:
    """As `copier copy --trust gh:<org>/stacks my_proj` does: a clone, not this folder, with its extensions."""
    repository = tmp_path / "stacks.git"
    shutil.copytree(REPO, repository, ignore=shutil.ignore_patterns(".git", ".venv", "demo", "__pycache__", "node_modules"))
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "template"]):
        subprocess.run(["git", *command], cwd=repository, check=True, capture_output=True)
    project = copy_project(tmp_path / "my_proj", {"project_description": "FastAPI and Redis"},
                           template=f"git+file://{repository}")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == f"git+file://{repository}"
    check_project(project, ["fastapi", "redis"], answers)


@pytest.mark.parametrize("name", ["2048", "no", "null", "on", "0x1f", "0o17", "1e3", "true"])
def test_a_name_yaml_would_read_as_a_number_or_boolean_stays_text(name: str, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "p", {"project_name": name, "project_description": "Postgres"})
    model = compose_config(project)
    assert model["name"] == name
    assert yaml.safe_load((project / "compose.yaml").read_text())["name"] == name


def test_after_copy_and_readme_say_what_was_generated_and_what_the_catalog_lacks(tmp_path: Path) -> None:
    """With --defaults nothing is asked, so the after-copy message names the services, and, like the README,
    each technology the description names that the catalog lacks, with what the stack has instead."""
    description = "Flask app with a MySQL database, events in Kafka"
    result = copier("copy", "--trust", "--defaults", "--vcs-ref=HEAD", "-d", f"project_description={description}",
                    str(REPO), str(tmp_path / "shop"))
    said = result.stderr + result.stdout
    sentences = ["Flask is not in the stacks catalog: the backend is FastAPI instead.",
                 "MySQL is not in the stacks catalog: the database is MariaDB instead.",
                 "Kafka is not in the stacks catalog, nor anything like it."]
    assert f"Your stack is ready in {tmp_path / 'shop'}: FastAPI, MariaDB." in said, said
    assert all(sentence in said for sentence in sentences), said
    assert "git init" in said and "make up      # build and start it, and wait until every service is healthy" in said
    readme = (tmp_path / "shop" / "README.md").read_text()
    assert all(f"- {sentence}" in readme for sentence in sentences), readme[:800]


def test_after_copy_message_in_an_existing_repository_says_neither_cd_nor_git_init(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    git(project, "init", "-q")
    result = copier("copy", "--trust", "--defaults", "--vcs-ref=HEAD", str(REPO), ".", cwd=project)
    said = result.stderr + result.stdout
    assert "Your stack is ready in ." in said
    assert "cd ." not in said and "git init" not in said and "git add -A && git commit" in said, said


@pytest.mark.parametrize(("description", "proxy"), [("A React page on a FastAPI backend", "nginx"),
                                                     ("A React page on a FastAPI backend, no proxy", "none"),
                                                     ("A FastAPI backend", "none")])
def test_a_page_and_its_api_are_offered_a_proxy_unless_refused(description: str, proxy: str, tmp_path: Path) -> None:
    """A page and its API get one origin from a reverse proxy, suggested when both are in the stack; refused,
    the page calls the API on the API's own port, which allows the page's origin (CORS)."""
    project = copy_project(tmp_path / "p", {"project_description": description})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["proxy"] == proxy
    config = project / "services/react/src/config.ts"
    if config.exists():
        fallback = '"/api/"' if proxy == "nginx" else '"http://localhost:8000/"'
        assert f": {fallback};" in config.read_text()
        assert "API_IN_STACK: boolean = true;" in config.read_text()


def test_a_datastore_nothing_uses_is_published_on_localhost_and_said_so(tmp_path: Path) -> None:
    result = copier("copy", "--trust", "--defaults", "--vcs-ref=HEAD", "-d",
                    "project_description=just Postgres and Redis for local development", str(REPO), str(tmp_path / "p"))
    model = compose_config(tmp_path / "p")
    for service, port in (("postgres", 5432), ("redis", 6379)):
        assert model["services"][service]["ports"][0]["host_ip"] == "127.0.0.1"
        assert model["services"][service]["ports"][0]["published"] == str(port)
    said = result.stderr + result.stdout
    assert "PostgreSQL is published on 127.0.0.1:5432 (POSTGRES_HOST_PORT in .env): no service of the stack uses it" in said
    assert "- `postgres` is published on 127.0.0.1 only: no service of the stack uses it" in (tmp_path / "p/README.md").read_text()


def test_copy_over_a_compose_file_of_someone_else_keeps_it_and_says_where_the_new_one_went(tmp_path: Path) -> None:
    destination = tmp_path / "existing"
    destination.mkdir()
    theirs = "services:\n  legacy:\n    image: busybox:1.37.0\n"
    (destination / "compose.yaml").write_text(theirs)
    result = copier("copy", "--trust", "--defaults", "--overwrite", "--vcs-ref=HEAD", str(REPO), str(destination))
    said = result.stderr + result.stdout
    assert (destination / "compose.yaml").read_text() == theirs
    assert "compose.yaml was there already and stacks did not write it, so it is kept" in said, said
    assert "compose.new.yaml" in said and (destination / "compose.new.yaml").exists()
    assert "left the stack" not in said and "edited by hand" not in said


def test_after_copy_message_into_a_folder_git_ignores_says_git_init(tmp_path: Path) -> None:
    """make demo writes demo/ inside this repository, which ignores it: that is no repository of the project's."""
    repository = tmp_path / "outer"
    repository.mkdir()
    git(repository, "init", "-q")
    (repository / ".gitignore").write_text("demo/\n")
    result = copier("copy", "--trust", "--defaults", "--vcs-ref=HEAD", str(REPO), str(repository / "demo"))
    assert "git init && git add -A" in result.stderr + result.stdout


def test_a_domain_is_served_over_https_by_caddy(tmp_path: Path) -> None:
    """The advanced answer domain: Caddy's site is that name (certificates on), both ports published, the README
    says what HTTPS needs, and the chart's Ingress takes the name as its host."""
    names = with_requirements(["fastapi", "caddy"])
    project = copy_project(tmp_path / "p", answers_for(names, project_name="Tls", domain="shop.example.com"))
    caddyfile = (project / "services/caddy/Caddyfile").read_text()
    assert "\nshop.example.com {\n" in caddyfile and "auto_https off" not in caddyfile
    plain = copy_project(tmp_path / "plain", answers_for(names, project_name="Plain"))
    assert "auto_https off" in (plain / "services/caddy/Caddyfile").read_text()
    ports = compose_config(project)["services"]["caddy"]["ports"]
    assert sorted((int(p["published"]), p["target"]) for p in ports) == [(80, 8080), (443, 8443)]
    assert "https://shop.example.com/" in (project / "README.md").read_text()
    assert yaml.safe_load((project / "chart/values.yaml").read_text())["ingress"]["host"] == "shop.example.com"
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["domain"] == "shop.example.com"
