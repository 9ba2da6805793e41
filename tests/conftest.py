from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from plumbum import local

sys.path.insert(0, str(Path(__file__).resolve().parent))

from projects import environment_with_compose  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def real_compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every hook the suite runs validates with the real Compose v2 binary.

    Copier runs tasks with plumbum's copy of the environment, taken at import, so set both.
    """
    env = environment_with_compose(tmp_path_factory.mktemp("compose"))
    for key, value in env.items():
        os.environ[key] = value
        local.env[key] = value
    return env


# compose-lint's medium findings per generated stack (test_posture.py records them), shown after every run:
# they are allowed, so only this summary makes a change in their number visible.
COMPOSE_LINT_MEDIUM: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Runs where the report arrives, in the controller too under xdist, with the worker's user_properties."""
    for key, value in report.user_properties:
        if key == "compose_lint_medium":
            COMPOSE_LINT_MEDIUM[report.nodeid.rsplit("[", 1)[-1].rstrip("]")] = value


def pytest_terminal_summary(terminalreporter) -> None:
    if COMPOSE_LINT_MEDIUM:
        terminalreporter.write_sep("-", "compose-lint medium findings per stack")
        for stack, summary in sorted(COMPOSE_LINT_MEDIUM.items()):
            terminalreporter.write_line(f"{stack}: {summary}")
