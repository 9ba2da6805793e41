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
