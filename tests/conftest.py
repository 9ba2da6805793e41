from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One folder for every xdist worker of this run (the parent of each worker's own): projects that several
    test modules check are generated there once (test_posture.generated)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


# Numbers worth seeing after every run, recorded by tests with record_property: compose-lint's medium findings per
# generated stack (test_posture.py: they are allowed, so only this summary makes a change in their number
# visible), and the engine harness's times (test_engine.py).
SUMMARIES = {"compose_lint_medium": "compose-lint medium findings per stack", "engine_times": "engine harness times"}
RECORDED: dict[str, dict[str, list[str]]] = {key: {} for key in SUMMARIES}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Runs where the report arrives, in the controller too under xdist, with the worker's user_properties."""
    for key, value in report.user_properties:
        if key in SUMMARIES:
            lines = RECORDED[key].setdefault(report.nodeid.rsplit("[", 1)[-1].rstrip("]"), [])
            if value not in lines:
                lines.append(value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The engine tests first: they take longest, and run in one worker (make test distributes by module) while
    the other runs the rest."""
    items.sort(key=lambda item: item.get_closest_marker("engine") is None)


# Modules whose tests make test (--dist loadscope) hands out one by one, to whichever worker is free, instead of
# keeping them in one worker as their module fixtures and the servers they use expect of the others. Each of these
# tests makes its own template repository and copies (a module fixture is then made once per worker). The last
# module is one of them: otherwise it runs on alone once the engine's worker has nothing left.
SPREAD = ("tests/test_update.py",)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesButSpread(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.split("::")[0] in SPREAD else super()._split_scope(nodeid)

    return ModulesButSpread(config, log)


def pytest_terminal_summary(terminalreporter) -> None:
    for key, title in SUMMARIES.items():
        if RECORDED[key]:
            terminalreporter.write_sep("-", title)
            for name, lines in sorted(RECORDED[key].items()):
                for line in lines:
                    terminalreporter.write_line(f"{name}: {line}")
