import os
import socket
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def client() -> Callable[..., TestClient]:
    """Build a test client from explicit settings, ignoring the environment's URLs."""

    def make(**settings: str | None) -> TestClient:
        unset: dict[str, str | None] = {
            "database_url": None,
            "redis_url": None,
            "memcached_servers": None,
            "celery_broker_url": None,
            "smtp_url": None,
            "cors_origins": "",
        }
        return TestClient(create_app(Settings(**(unset | settings))))

    return make


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP port that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def required_env(name: str, example: str) -> str:
    """A server URL the real-server tests need: fail, never skip, without it."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: these tests need a running server, e.g. {name}={example} "
            "(the project's Makefile sets it)",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def database_url() -> str:
    return required_env("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return required_env("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def memcached_servers() -> str:
    return required_env("TEST_MEMCACHED_SERVERS", "127.0.0.1:11211")


@pytest.fixture(scope="session")
def broker_url() -> str:
    return required_env("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
