"""`copier update` loses nothing: tagged versions of the template in a temporary git repository, a project
copied at the older one and committed, user edits, then the update, through the copier CLI as a user runs it.
Copier exits 0 even when it leaves conflicts, so every test asserts on the tree and on `git status`."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from chart import check_chart_matches_compose
from projects import (
    CATALOG, DEFAULTS, REPO, answers_for, commit_all, compose_config, copier, git, is_valid, new_template_repo,
    project_files, read_env, release, run_hook, with_requirements,
)

from extensions.stack import Stack

FIRST_RELEASE = "ed0d6c8"  # 0.1.0, the first version of the template that landed; its .env keys were *_PORT
SECRET = re.compile(r"^[A-Za-z0-9]{43}$")
CONFLICT = re.compile(rb"^(<<<<<<<|>>>>>>>) ", re.MULTILINE)


def assert_merged_cleanly(project: Path) -> None:
    """No conflict markers, no .rej files, no unmerged paths."""
    status = git(project, "status", "--porcelain", "--ignored")
    assert not [line for line in status.splitlines() if line[:2] in ("UU", "AA", "DU", "UD", "AU", "UA")], status
    assert not list(project.rglob("*.rej")), status
    marked = [p for p in project_files(project) if CONFLICT.search(p.read_bytes())]
    assert not marked, marked


def env_mode(project: Path) -> int:
    return stat.S_IMODE((project / ".env").stat().st_mode)


def snapshot(project: Path) -> dict[str, bytes]:
    return {p.relative_to(project).as_posix(): p.read_bytes() for p in project_files(project)}


# --- from the first release to the current template ------------------------------------------------------------

@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.1.0 as it landed, then this working tree as 0.2.0."""
    if subprocess.run(["git", "cat-file", "-e", f"{FIRST_RELEASE}^{{commit}}"], cwd=REPO).returncode:
        pytest.fail(f"commit {FIRST_RELEASE} (0.1.0) is missing: this clone is shallow; run git fetch --unshallow")
    repo = new_template_repo(tmp_path_factory.mktemp("releases") / "stacks")
    release(repo, "0.1.0", archive=FIRST_RELEASE)
    release(repo, "0.2.0", files_from=REPO)
    return repo


def test_update_from_the_first_release_keeps_every_value_and_edit(releases: Path, tmp_path: Path) -> None:
    url = f"git+file://{releases}"
    project = tmp_path / "shop"
    copier("copy", "--trust", "--defaults", "--vcs-ref=0.1.0", "-d", "project_name=Shop", url, str(project))
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "generated at 0.1.0")
    before = read_env(project / ".env")
    assert "NGINX_PORT" in before and "FASTAPI_HOST_PORT" not in before

    # the user's edits: a port moved and a line of their own in .env, notes in the README, code of their own
    env = project / ".env"
    env.write_text(env.read_text().replace("NGINX_PORT=80\n", "NGINX_PORT=8080\n") + "MY_FEATURE_FLAG=on\n")
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("\n## Start\n", "\n## Start\n\nOur team runs this on the demo box.\n"))
    (project / "services/fastapi/app/billing.py").write_text('"""Billing, ours."""\n\nCURRENCY = "EUR"\n')
    commit_all(project, "our edits")

    result = copier("update", "--trust", "--defaults", cwd=project)

    assert_merged_cleanly(project)
    after = read_env(project / ".env")
    renamed = {key.replace("_PORT", "_HOST_PORT") if key.endswith("_PORT") else key: value
               for key, value in before.items()}
    renamed["NGINX_HOST_PORT"] = "8080"
    assert {k: v for k, v in after.items() if k in renamed} == renamed, "an existing .env value changed"
    assert after["MY_FEATURE_FLAG"] == "on" and not {k for k in after if k.endswith("_PORT") and "HOST" not in k}
    assert env_mode(project) == 0o600
    assert "renamed in .env" in result.stderr and "NGINX_PORT -> NGINX_HOST_PORT" in result.stderr
    assert "--entrypoint chown redis -R 999:1000 /data" in result.stderr  # its data volume was written as root
    assert "Our team runs this on the demo box." in readme.read_text()
    assert (project / "services/fastapi/app/billing.py").read_text().endswith('CURRENCY = "EUR"\n')
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "0.2.0"
    config = compose_config(project)
    assert config["services"]["nginx"]["ports"][0]["published"] == "8080"
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == before["POSTGRES_PASSWORD"]
    assert "compose.yaml is valid" in result.stderr and "Before you commit" in result.stdout + result.stderr


# --- between two versions of the current template ---------------------------------------------------------------

def next_version(repo: Path, work: Path) -> None:
    """0.2.1: template changes on lines the user does not touch: README, a fragment, app code, a new .env key."""
    shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "demo", "*cache*"))
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    edit(work / "template/README.md.jinja", "\n## Layout\n", "\n## Layout\n\nEvery service has its own folder.\n")
    edit(work / "template/services/postgres/compose.yaml.jinja", "    volumes:\n",
         "    # the database files; removing the service never removes this volume\n    volumes:\n")
    edit(work / "template/services/fastapi/app/settings.py", '"""', '"""Settings read from the environment. ', 1)
    component = work / "template/services/redis/component.yml"
    component.write_text(component.read_text().replace(
        "env:\n", "env:\n  REDIS_METRICS_TOKEN:\n    secret: true\n    help: Token of the metrics exporter\n", 1))
    release(repo, "0.2.1", files_from=work)


def edit(path: Path, old: str, new: str, count: int = -1) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, count))


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as 0.2.0, then 0.2.1 with template changes."""
    root = tmp_path_factory.mktemp("versions")
    repo = new_template_repo(root / "stacks")
    release(repo, "0.2.0", files_from=REPO)
    next_version(repo, root / "work")
    return repo


def generate(versions: Path, project: Path, *data: str, ref: str = "0.2.0") -> Path:
    options = [arg for item in data for arg in ("-d", item)]
    copier("copy", "--trust", "--defaults", f"--vcs-ref={ref}", *options, str(versions), str(project))
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "generated")
    return project


def test_update_merges_template_changes_with_user_edits(versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "merge", "project_name=Merge", "backend=fastapi", "database=postgres",
                       "cache=redis", "frontend=none", "proxy=none")
    env_before = (project / ".env").read_text()
    (project / ".env").write_text(env_before + "\n# ours\nSMTP_HOST=mail.example.com\n")
    edit(project / "README.md", "\n## Ports\n", "\n## Ports\n\nAsk ops before changing a port.\n")
    settings = project / "services/fastapi/app/settings.py"
    settings.write_text(settings.read_text() + "\n# Our settings follow the template's.\n")
    fragment = project / "services/redis/compose.yaml"
    edit(fragment, "redis:\n", "redis:\n    # ours: a larger cache in production\n", 1)
    commit_all(project, "our edits")

    result = copier("update", "--trust", "--defaults", cwd=project)

    assert_merged_cleanly(project)
    readme = (project / "README.md").read_text()
    assert "Ask ops before changing a port." in readme and "Every service has its own folder." in readme
    settings = (project / "services/fastapi/app/settings.py").read_text()
    assert "# Our settings follow the template's." in settings and "Settings read from the environment." in settings
    compose = (project / "compose.yaml").read_text()
    assert "# ours: a larger cache in production" in compose, "the user's fragment edit was not re-assembled"
    assert "removing the service never removes this volume" in compose, "the template's fragment change is missing"
    env = (project / ".env").read_text()
    assert env.startswith(env_before) or all(line in env.splitlines() for line in env_before.splitlines())
    assert "SMTP_HOST=mail.example.com" in env
    values_before, values_after = read_env_text(env_before), read_env(project / ".env")
    assert {k: values_after[k] for k in values_before} == values_before
    assert SECRET.match(values_after["REDIS_METRICS_TOKEN"]) and "added REDIS_METRICS_TOKEN" in result.stderr
    assert env_mode(project) == 0o600
    # the new key went into its service's section, not to the end of the file
    section = env.split("# --- redis: Redis ---")[1]
    assert "REDIS_METRICS_TOKEN=" in section and section.index("REDIS_METRICS_TOKEN") < section.index("SMTP_HOST")


def read_env_text(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_hand_edited_compose_survives_an_update_and_the_assembly_goes_beside_it(versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "hand", "project_name=Hand", "backend=fastapi", "database=postgres",
                       "cache=none", "frontend=none", "proxy=none")
    compose = project / "compose.yaml"
    edited = compose.read_text().replace('name: "hand"\n', 'name: "hand"\n# ours: edited by hand\n')
    compose.write_text(edited)
    commit_all(project, "hand edit")

    result = copier("update", "--trust", "--defaults", "--vcs-ref=0.2.1", cwd=project)

    assert_merged_cleanly(project)
    assert compose.read_text() == edited
    assert "removing the service never removes this volume" in (project / "compose.new.yaml").read_text()
    assert "compose.yaml was edited by hand" in result.stderr


def test_update_that_changes_nothing_leaves_the_tree_byte_identical(versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "same", "project_name=Same", ref="0.2.1")
    before, mode = snapshot(project), env_mode(project)
    copier("update", "--trust", "--defaults", cwd=project)
    assert snapshot(project) == before
    assert env_mode(project) == mode and git(project, "status", "--porcelain") == ""


def test_conflict_on_the_same_lines_is_marked_and_compose_waits_for_the_resolution(
        versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "clash", "project_name=Clash", "backend=fastapi", "database=postgres",
                       "cache=none", "frontend=none", "proxy=none")
    edit(project / "services/postgres/compose.yaml", "    volumes:\n", "    # ours, on the same line\n    volumes:\n")
    compose_before = (project / "compose.yaml").read_text()
    commit_all(project, "our edit")

    result = copier("update", "--trust", "--defaults", cwd=project)

    assert "services/postgres/compose.yaml" in git(project, "diff", "--name-only", "--diff-filter=U")
    assert "<<<<<<< before updating" in (project / "services/postgres/compose.yaml").read_text()
    assert (project / "compose.yaml").read_text() == compose_before
    assert "merge conflicts in services/postgres/compose.yaml" in result.stderr


# --- adding and removing components --------------------------------------------------------------------------------

def test_add_then_remove_components_round_trip(versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "trip", "project_name=Trip", "backend=fastapi", "database=none",
                       "cache=none", "frontend=none", "proxy=none", ref="0.2.1")
    edit(project / ".env", "FASTAPI_HOST_PORT=8000", "FASTAPI_HOST_PORT=5432")  # the user took postgres' port
    original = snapshot(project)
    env_original = read_env(project / ".env")

    added = copier("update", "--trust", "--defaults", "-d", "database=postgres", "-d", "cache=redis",
                   "-d", "advanced=true", "-d", "publish_datastores=true", cwd=project)
    assert_merged_cleanly(project)
    env = read_env(project / ".env")
    assert {k: env[k] for k in env_original} == env_original
    assert SECRET.match(env["POSTGRES_PASSWORD"]) and SECRET.match(env["REDIS_PASSWORD"])
    assert env["POSTGRES_HOST_PORT"] == "5433", "a new component must take a free port"
    assert "POSTGRES_HOST_PORT=5433 (5432 is taken)" in added.stderr
    config = compose_config(project)
    assert set(config["services"]) == {"fastapi", "postgres", "redis"}
    assert set(config["services"]["fastapi"]["depends_on"]) == {"postgres", "redis"}
    assert {"DATABASE_URL", "REDIS_URL"} <= set(config["services"]["fastapi"]["environment"])
    assert all("healthcheck" in config["services"][name] for name in ("postgres", "redis"))
    for document in ("README.md", "ARCHITECTURE.md"):
        assert "postgres" in (project / document).read_text() and "redis" in (project / document).read_text()
    secrets = {k: env[k] for k in ("POSTGRES_PASSWORD", "REDIS_PASSWORD")}
    (project / "services/postgres/init.sql").write_text("-- ours\n")
    commit_all(project, "with postgres and redis")

    removed = copier("update", "--trust", "--defaults", "-d", "database=none", "-d", "cache=none", cwd=project)
    assert_merged_cleanly(project)
    assert not (project / "services/redis").exists()
    assert sorted(p.name for p in (project / "services/postgres").iterdir()) == ["init.sql"]
    assert set(compose_config(project)["services"]) == {"fastapi"}
    env_text = (project / ".env").read_text()
    for key, value in secrets.items():
        assert f"\n#{key}={value}\n" in env_text, f"{key} must stay in .env, commented out"
    assert "kept the data volumes trip_postgres-data, trip_redis-data" in removed.stderr
    assert "postgres, redis left the stack" in removed.stderr
    assert "services/postgres/ has no compose.yaml" in removed.stderr and "init.sql" in removed.stderr
    noted = next(line for line in removed.stderr.splitlines() if ".env: commented out" in line)
    assert all(key in noted for key in (*secrets, "POSTGRES_HOST_PORT"))
    shutil.rmtree(project / "services/postgres")
    now = snapshot(project)
    assert {k: v for k, v in now.items() if k not in (".env", ".copier-answers.yml")} == {
        k: v for k, v in original.items() if k not in (".env", ".copier-answers.yml")}
    commit_all(project, "without them")

    # adding them back restores the kept secrets: the data in the old volume opens with the old password
    restored = copier("update", "--trust", "--defaults", "-d", "database=postgres", "-d", "cache=redis", cwd=project)
    env = read_env(project / ".env")
    assert {k: env[k] for k in secrets} == secrets
    assert "restored" in restored.stderr and "#POSTGRES_PASSWORD" not in (project / ".env").read_text()


# --- what an update leaves behind, said ---------------------------------------------------------------------------

def resolve_keeping_ours(path: Path) -> None:
    """Resolve every conflict block of a file in favour of the project's side (the first of the block)."""
    text = re.sub(r"^<<<<<<< [^\n]*\n(.*?)^(?:\|\|\|\|\|\|\||=======)[^\n]*\n.*?^>>>>>>> [^\n]*\n", r"\1",
                  path.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert "<<<<<<<" not in text
    path.write_text(text)


def test_make_compose_after_a_resolved_conflict_retires_the_keys_of_a_removed_component(
        versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "clash", "project_name=Clash", "backend=fastapi", "database=postgres",
                       "cache=redis", "frontend=none", "proxy=none")
    edit(project / "services/postgres/compose.yaml", "    volumes:\n", "    # ours, on the same line\n    volumes:\n")
    commit_all(project, "our edit")
    password = read_env(project / ".env")["REDIS_PASSWORD"]

    result = copier("update", "--trust", "--defaults", "-d", "cache=none", cwd=project)
    assert "merge conflicts in services/postgres/compose.yaml" in result.stderr
    assert "REDIS_PASSWORD" in read_env(project / ".env"), "nothing changes in .env until the conflict is resolved"

    resolve_keeping_ours(project / "services/postgres/compose.yaml")
    made = run_hook(project)  # make compose
    assert made.returncode == 0, made.stderr
    assert "REDIS_PASSWORD" not in read_env(project / ".env")
    assert f"#REDIS_PASSWORD={password}" in (project / ".env").read_text()
    assert ".env: commented out REDIS_PASSWORD" in made.stderr


def test_renaming_the_slug_names_the_old_containers_and_volumes(versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "shop", "project_name=Shop", "backend=fastapi", "database=postgres",
                       "cache=none", "frontend=none", "proxy=none")
    result = copier("update", "--trust", "--defaults", "-d", "project_slug=store", cwd=project)
    assert "the compose project is now store, no longer shop" in result.stderr
    assert "docker compose --project-name shop down" in result.stderr and "shop_postgres-data" in result.stderr
    assert "left the stack" not in result.stderr


def test_removing_a_component_lists_the_files_it_took_edits_included(versions: Path, tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "shop", "project_name=Shop", "backend=fastapi", "database=postgres",
                       "cache=none", "frontend=none", "proxy=none")
    models = project / "services/fastapi/app/models.py"
    models.write_text(models.read_text() + "\n# ours: a column to add later\n")
    (project / "services/fastapi/migrations/versions/0002_ours.py").write_text('"""Our own revision."""\n')
    commit_all(project, "our edits")

    result = copier("update", "--trust", "--defaults", "-d", "backend=none", cwd=project)
    assert not models.exists()
    removed = re.search(r"removed with fastapi: the \d+ files it was generated with, these changed since \(by you or "
                        r"an update\): (.*?)\. git has them all", result.stderr)
    assert removed and removed.group(1) == "services/fastapi/app/models.py", result.stderr
    assert "git checkout HEAD -- <file> brings one back" in result.stderr
    assert "its files are left as they are (migrations/versions/0002_ours.py)" in result.stderr  # ours: kept, named


def test_a_changed_port_offset_names_the_env_ports_that_differ_from_the_new_defaults(versions: Path,
                                                                                     tmp_path: Path) -> None:
    project = generate(versions, tmp_path / "shop", "project_name=Shop", "backend=fastapi", "database=none",
                       "cache=none", "frontend=none", "proxy=none")
    result = copier("update", "--trust", "--defaults", "-d", "host_port_offset=10000", cwd=project)
    assert read_env(project / ".env")["FASTAPI_HOST_PORT"] == "8000", ".env values never change"
    assert "FASTAPI_HOST_PORT=8000 (default 18000)" in result.stderr
    assert "http://localhost:18000/" in (project / "README.md").read_text()


def test_update_between_untagged_commits_still_migrates(tmp_path: Path) -> None:
    """Without tags copier sees versions like 0.0.0.post1 it cannot order against 0.2.0: the migration runs on
    every update and acts only where an old key is left."""
    if subprocess.run(["git", "cat-file", "-e", f"{FIRST_RELEASE}^{{commit}}"], cwd=REPO).returncode:
        pytest.fail(f"commit {FIRST_RELEASE} (0.1.0) is missing: this clone is shallow; run git fetch --unshallow")
    repo = new_template_repo(tmp_path / "stacks")
    first = release(repo, None, archive=FIRST_RELEASE)
    release(repo, None, files_from=REPO)
    project = tmp_path / "shop"
    copier("copy", "--trust", "--defaults", f"--vcs-ref={first}", "-d", "project_name=Shop", str(repo), str(project))
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "generated at an untagged commit")
    assert "NGINX_PORT" in read_env(project / ".env")

    result = copier("update", "--trust", "--defaults", "--vcs-ref=HEAD", cwd=project)
    env = read_env(project / ".env")
    assert "NGINX_PORT" not in env and env["NGINX_HOST_PORT"] == "80", result.stderr
    assert "renamed in .env" in result.stderr
    commit_all(project, "updated")
    again = copier("update", "--trust", "--defaults", "--vcs-ref=HEAD", cwd=project)
    assert "renamed in .env" not in again.stderr and "Redis now runs as uid 999" not in again.stderr


# --- every component through copier update: added, removed, added back -------------------------------------------

def lifecycle_stacks() -> dict[str, tuple[list[str], list[str], str]]:
    """For each component: (a valid stack without it, the same stack with it and what it requires, the component
    whose answer brings it: its own, or for one that joins by itself, what wants it (Prometheus, an exporter)).
    What cannot be without it (Loki without its collector Alloy, and Alloy without Loki) comes and goes with it."""
    stacks = {}
    for component in CATALOG.components.values():
        with_it = with_requirements([component.name])
        asked = component.name
        if component.category not in CATALOG.questions:
            asked = next(n for n in with_it if set(component.provides) & set(CATALOG.components[n].wants))
        together = {component.name, asked} | {n for n in with_it if component.name in with_requirements([n])}
        without = [n for n in with_it if n not in together]
        others = [default for category, default in DEFAULTS.items() if category != component.category]
        for extra in [[], *([d] for d in others)]:
            base = [*without, *(n for n in extra if n not in without)]
            added = [n for n in with_it if n in together and CATALOG.components[n].category in CATALOG.questions]
            if base and is_valid(base) and is_valid([*base, *added]):
                stacks[component.name] = (base, [*base, *added], asked)
                break
        else:
            pytest.fail(f"{component.name}: no valid stack without it to add it to")
    return stacks


LIFECYCLE = lifecycle_stacks()


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as one release."""
    repo = new_template_repo(tmp_path_factory.mktemp("current") / "stacks")
    release(repo, "9.0.0", files_from=REPO)
    return repo


@pytest.mark.parametrize("name", list(LIFECYCLE))
def test_each_component_is_added_removed_and_added_back_with_nothing_lost(name: str, current: Path,
                                                                         tmp_path: Path) -> None:
    component = CATALOG.components[name]
    base, with_it, asked = LIFECYCLE[name]
    answers = answers_for(base, project_name="Life")
    project = generate(current, tmp_path / "life", *(f"{k}={v}" for k, v in answers.items()), ref="9.0.0")
    env_before = read_env(project / ".env")
    # the user's own value in the Helm chart, which every update below keeps
    edit(project / "chart/values.yaml", '  host: ""\n', '  host: "life.example.com"\n')
    commit_all(project, "our host")
    # a reverse proxy's work is the Ingress's in the chart; one it omits says why (Prometheus: a cluster has its own)
    deployed = not component.routes and not component.kubernetes.get("omit") and component.service
    category = CATALOG.components[asked].category
    chosen = answers_for(with_it)[category]
    chosen = chosen if isinstance(chosen, str) else f"[{','.join(chosen)}]"  # a multiselect answer: a YAML list

    copier("update", "--trust", "--defaults", "-d", f"{category}={chosen}", cwd=project)
    assert_merged_cleanly(project)
    env = read_env(project / ".env")
    assert {k: env[k] for k in env_before} == env_before, "values the project had are kept"
    kept = Stack(CATALOG, answers_for(with_it)).env_of(component)  # those for a capability only where it is used
    keys = [v.name for v in kept]
    for variable in kept:
        assert (SECRET.match(env[variable.name]) if variable.secret else env[variable.name] == variable.value), variable
    if component.service:
        service = compose_config(project)["services"][name]
        volumes = [mount["source"] for mount in service.get("volumes", []) if mount["type"] == "volume"]
    else:  # no container: the volume its fragment declares (DuckDB's file)
        volumes = list(yaml.safe_load((project / "services" / name / "compose.yaml").read_text())["volumes"])
    chart = yaml.safe_load((project / "chart/values.yaml").read_text())
    assert (name in chart["services"]) == deployed and chart["ingress"]["host"] == "life.example.com"
    check_chart_matches_compose(project)
    commit_all(project, f"with {name}")

    removed = copier("update", "--trust", "--defaults", "-d", f"{category}={answers[category]}", cwd=project)
    assert_merged_cleanly(project)
    assert name not in compose_config(project)["services"]
    assert not (project / "services" / name / "compose.yaml").exists()
    env_text = (project / ".env").read_text()
    for key in keys:
        assert f"\n#{key}={env[key]}\n" in env_text, f"{key} must stay in .env, commented out"
    left = re.search(r"stacks: (.+) left the stack", removed.stderr)
    assert not component.service or (left and name in left.group(1).split(", ")), removed.stderr
    chart = yaml.safe_load((project / "chart/values.yaml").read_text())
    assert name not in chart["services"] and chart["ingress"]["host"] == "life.example.com"
    check_chart_matches_compose(project)
    declared = yaml.safe_load((project / "compose.yaml").read_text()).get("volumes") or {}
    for volume in volumes:  # one still declared (DuckDB's, once the job that mounts it leaves) is no news
        assert (f"life_{volume}" in removed.stderr) != (volume in declared), f"the kept volume {volume} is named"
    commit_all(project, f"without {name}")

    copier("update", "--trust", "--defaults", "-d", f"{category}={chosen}", cwd=project)
    assert_merged_cleanly(project)
    again = read_env(project / ".env")
    assert {k: again[k] for k in keys} == {k: env[k] for k in keys}, "the kept values are restored, secrets included"


def test_a_pipeline_added_beside_postgres_gets_a_warehouse_database_whose_keys_are_kept_when_it_leaves(
        current: Path, tmp_path: Path) -> None:
    """PostgreSQL's warehouse keys come with the first job that uses it as its warehouse, are commented out when the
    last one leaves, and come back with the same values; the application's keys never move."""
    keys = ["POSTGRES_WAREHOUSE_DB", "POSTGRES_WAREHOUSE_USER", "POSTGRES_WAREHOUSE_PASSWORD"]
    answers = answers_for(["fastapi", "postgres"], project_name="Life")
    project = generate(current, tmp_path / "life", *(f"{k}={v}" for k, v in answers.items()), ref="9.0.0")
    before = read_env(project / ".env")
    assert not set(keys) & set(before)

    copier("update", "--trust", "--defaults", "-d", "ingestion=dlt", cwd=project)
    assert_merged_cleanly(project)
    env = read_env(project / ".env")
    assert {k: env[k] for k in before} == before and SECRET.match(env["POSTGRES_WAREHOUSE_PASSWORD"])
    assert "post_start" in compose_config(project)["services"]["postgres"]
    commit_all(project, "with a pipeline")

    copier("update", "--trust", "--defaults", "-d", "ingestion=none", cwd=project)
    assert_merged_cleanly(project)
    text = (project / ".env").read_text()
    assert all(f"\n#{key}={env[key]}\n" in text for key in keys), text
    assert "post_start" not in compose_config(project)["services"]["postgres"]
    assert not (project / "services" / "postgres" / "provision-warehouse.sh").exists()
    commit_all(project, "without it")

    copier("update", "--trust", "--defaults", "-d", "ingestion=dlt", cwd=project)
    assert_merged_cleanly(project)
    again = read_env(project / ".env")
    assert {k: again[k] for k in [*before, *keys]} == {**before, **{k: env[k] for k in keys}}
