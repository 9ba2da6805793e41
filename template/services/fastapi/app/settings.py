"""Runtime configuration, read from environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """DATABASE_URL, REDIS_URL and ROOT_PATH; an empty variable counts as unset."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    database_url: str | None = None
    redis_url: str | None = None
    root_path: str = ""
