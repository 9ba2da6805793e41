"""Gunicorn's hooks for the Prometheus metrics (django-prometheus's middleware counts the requests): each worker
process writes its metrics to files in PROMETHEUS_MULTIPROC_DIR, prometheus_client's multiprocess mode, and the
master serves their sum on METRICS_PORT (9464), a port of its own that the reverse proxy never routes."""

import os
import shutil
from pathlib import Path

# Set here, before any worker imports prometheus_client, and for gunicorn only: `manage.py migrate` and a Celery
# worker run from this image too, in single-process mode. /tmp is the container's tmpfs.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus")
METRICS_PORT = int(os.environ.get("METRICS_PORT") or 9464)


def on_starting(server) -> None:
    """Emptied once at start (not on a reload), as the multiprocess mode requires: files of processes of a previous
    run would be counted again."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def when_ready(server) -> None:
    """The master, before it forks the workers: serves what every worker wrote, summed."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(METRICS_PORT, registry=registry)
    server.log.info("Prometheus metrics on port %s", METRICS_PORT)


def child_exit(server, worker) -> None:
    """A worker that exited: its live gauges leave the sum (its counters stay, as counters must)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
