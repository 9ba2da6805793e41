import os
import socket
import uuid
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
            "s3_endpoint_url": None,
            "s3_bucket": None,
            "s3_access_key_id": None,
            "s3_secret_access_key": None,
            "cors_origins": "",
            "metrics_port": None,
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


@pytest.fixture(scope="session")
def s3_server() -> dict[str, str]:
    """The S3 server the storage tests talk to, as settings: fail, never skip, without it."""
    names = ("TEST_S3_ENDPOINT_URL", "TEST_S3_ACCESS_KEY_ID", "TEST_S3_SECRET_ACCESS_KEY")
    if not all(os.environ.get(name) for name in names):
        pytest.fail(
            f"{', '.join(names[:2])} and {names[2]} must all be set: these tests need a running S3 server, e.g. "
            "TEST_S3_ENDPOINT_URL=http://127.0.0.1:9000 TEST_S3_ACCESS_KEY_ID=minioadmin "
            "TEST_S3_SECRET_ACCESS_KEY=minioadmin (the project's Makefile sets them from S3_*)",
            pytrace=False,
        )
    return {
        "s3_endpoint_url": os.environ["TEST_S3_ENDPOINT_URL"],
        "s3_access_key_id": os.environ["TEST_S3_ACCESS_KEY_ID"],
        "s3_secret_access_key": os.environ["TEST_S3_SECRET_ACCESS_KEY"],
    }


@pytest.fixture(scope="session")
def s3_bucket(s3_server) -> Iterator[dict[str, str]]:
    """The settings of a fresh bucket of its own on the S3 server, emptied and deleted afterwards."""
    # imported here: boto3 is installed only where the backend is wired to object storage
    from app.storage import Storage

    settings = s3_server | {"s3_bucket": f"test-{uuid.uuid4().hex}"}
    s3 = Storage(Settings(**settings)).configured_client()
    s3.create_bucket(Bucket=settings["s3_bucket"])
    try:
        yield settings
    finally:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings["s3_bucket"]):
            for found in page.get("Contents", []):
                s3.delete_object(Bucket=settings["s3_bucket"], Key=found["Key"])
        s3.delete_bucket(Bucket=settings["s3_bucket"])
