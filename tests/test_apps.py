"""The application code of a generated project really runs: its own `make test`, on the host, against the
PostgreSQL and Redis servers of this machine (.ci/run starts them), and the frontend's production build."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from projects import copy_project

SERVERS = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres", "REDIS_URL": "redis://127.0.0.1:6379/0"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("apps") / "shop", {"project_name": "Shop \"app\" 🚀"})


def make(project: Path, *targets: str, folder: str = ".") -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", folder, *targets], cwd=project, capture_output=True, text=True,
                          env={**os.environ, **SERVERS}, timeout=900)


def test_make_test_runs_every_service_test_suite(project: Path) -> None:
    result = make(project, "test")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "== services/fastapi/" in output and "== services/react/" in output
    # every test the backend was generated with ran and passed, the database and cache ones included
    tests = "".join(p.read_text() for p in (project / "services/fastapi/tests").glob("test_*.py"))
    assert "TEST_DATABASE_URL" in (project / "services/fastapi/tests/conftest.py").read_text()
    assert "def test_" in tests and "database_url" in tests and "redis_url" in tests
    backend = output.split("== services/fastapi/")[1].split("== services/")[0]
    assert re.search(rf"\b{tests.count('def test_')} passed\b", backend), backend[-2000:]
    assert "skipped" not in backend and "failed" not in backend


def test_frontend_builds_for_production(project: Path) -> None:
    result = make(project, "build", folder="services/react")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    index = (project / "services/react/dist/index.html").read_text()
    assert "<title>Shop &#34;app&#34; 🚀</title>" in index or "<title>Shop &quot;app&quot; 🚀</title>" in index


def test_backend_tests_fail_loudly_without_servers(project: Path) -> None:
    """A missing server is a failure that says what to set, never a silent skip."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(["make", "-C", "services/fastapi", "test", "TEST_DATABASE_URL=", "TEST_REDIS_URL="],
                            cwd=project, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode != 0
    assert "TEST_DATABASE_URL" in result.stdout + result.stderr
