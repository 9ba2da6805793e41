"""Prometheus metrics: django-prometheus counts each request; gunicorn's master serves the sum of its workers' on a
port of their own (gunicorn.conf.py)."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client import REGISTRY

PROJECT = Path(__file__).resolve().parents[1]


def responses_counted(status: int, view: str, method: str) -> float:
    labels = {"status": str(status), "view": view, "method": method}
    return REGISTRY.get_sample_value("django_http_responses_total_by_status_view_method_total", labels) or 0


def test_requests_are_counted_by_view_and_status(api) -> None:
    client = api()
    before = responses_counted(200, "config.health.health", "GET")
    unmatched = responses_counted(404, "<unnamed view>", "GET")
    assert client.get("/health").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    assert responses_counted(200, "config.health.health", "GET") == before + 2
    assert responses_counted(404, "<unnamed view>", "GET") == unmatched + 1
    # not served by the app, whose port the reverse proxy routes
    assert client.get("/metrics").status_code == 404


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def fetch(url: str, deadline: float) -> str:
    """The body at `url`, retried until the server listens or the deadline passes."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_gunicorn_serves_the_sum_of_its_workers_metrics_on_their_own_port(tmp_path) -> None:
    """As the image runs it: two workers, the metrics of both summed by the master on METRICS_PORT."""
    port, metrics_port = free_port(), free_port()
    # a file left by a previous run, which the master must empty away at start
    (tmp_path / "counter_1.db").write_bytes(b"left over")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-tmp-dir", str(tmp_path)],
        cwd=PROJECT,
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "METRICS_PORT": str(metrics_port),
             "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        fetch(f"http://127.0.0.1:{port}/health", deadline)
        for _ in range(9):
            fetch(f"http://127.0.0.1:{port}/health", deadline)
        text = fetch(f"http://127.0.0.1:{metrics_port}/metrics", deadline)
        counted = re.findall(r'^django_http_responses_total_by_status_total\{status="\d+"\} (\S+)$', text, re.MULTILINE)
        assert sum(float(value) for value in counted) == 10, text
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "Prometheus metrics on port" in errors, errors
