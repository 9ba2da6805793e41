"""Runtime configuration, read from environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """DATABASE_URL, REDIS_URL or MEMCACHED_SERVERS, CELERY_BROKER_URL, SMTP_URL and MAIL_FROM, the S3_* of the
    object storage, ROOT_PATH, CORS_ORIGINS and METRICS_PORT; an empty variable counts as unset."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    database_url: str | None = None
    redis_url: str | None = None
    # Memcached's host:port, comma-separated when there are several
    memcached_servers: str | None = None
    celery_broker_url: str | None = None
    # smtp://[user:password@]host:port, or smtps:// for TLS from the start; the sender of the mail it sends
    smtp_url: str | None = None
    mail_from: str = "noreply@localhost"
    # An S3 server (MinIO in development) at http(s)://host:port, the bucket the files are kept in, and its keys
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    root_path: str = ""
    # Comma-separated origins of pages on other origins that may call the API from the browser (compose.yaml
    # sets them when the frontend is served on a port of its own); empty: same origin only.
    cors_origins: str = ""
    # The port the Prometheus metrics are served on while the app runs (the image sets 9464); unset: none.
    metrics_port: int | None = None

    @property
    def allowed_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
