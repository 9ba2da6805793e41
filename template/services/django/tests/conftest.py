import os
import secrets
import socket
from collections.abc import Callable, Iterator

import django
import pytest
from django.test import Client


def pytest_configure() -> None:
    """Django reads its settings once, from the environment: the servers the tests were given (TEST_*), never
    the application's, before pytest-django sets it up."""
    for name in ("DATABASE_URL", "REDIS_URL", "MEMCACHED_SERVERS"):
        os.environ[name] = os.environ.get(f"TEST_{name}", "")
    os.environ["CELERY_BROKER_URL"] = os.environ.get("TEST_BROKER_URL", "")
    os.environ["SMTP_URL"] = ""  # the mail tests start an SMTP server of their own
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    django.setup()


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
def django_db_setup() -> None:
    """The database of TEST_DATABASE_URL as the migrations left it (make test applies them), not a test_ copy
    that pytest-django would create."""
    required_env("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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


@pytest.fixture
def api(settings, django_db_blocker) -> Iterator[Callable[..., Client]]:
    """A test client with explicit settings, ignoring the environment's URLs. /health opens connections of its
    own, which pytest-django would block outside database tests."""

    def make(
        database_url: str | None = None,
        redis_url: str | None = None,
        memcached_servers: str | None = None,
        cors_origins: str = "",
    ) -> Client:
        settings.DATABASE_URL = database_url
        settings.REDIS_URL = redis_url
        settings.MEMCACHED_SERVERS = memcached_servers
        settings.CORS_ORIGINS = [origin.strip() for origin in cors_origins.split(",") if origin.strip()]
        return Client()

    with django_db_blocker.unblock():
        yield make


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP port that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]
