"""Alembic's entry point: runs migrations/versions/ against DATABASE_URL, or the URL a caller puts in
config.attributes["database_url"] (the tests do)."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from app.database import sqlalchemy_url
from app.models import Base
from app.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# What `alembic revision --autogenerate` and `alembic check` compare the database with.
target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url") or Settings().database_url
    if not url:
        raise SystemExit(
            "DATABASE_URL is not set: point it at the database to migrate, "
            "e.g. DATABASE_URL=postgresql://user:password@127.0.0.1:5432/app alembic upgrade head"
        )
    return sqlalchemy_url(url)


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
