"""Prometheus metrics: each request counted and timed under its route template, served on a port of their own."""

import socket
import urllib.request
import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest


def requests_counted(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0


def requests_timed(method: str, route: str) -> float:
    return REGISTRY.get_sample_value("http_request_duration_seconds_count", {"method": method, "route": route}) or 0


def test_requests_are_counted_under_their_route_template(client) -> None:
    api = client()

    @api.app.get("/greetings/{name}")
    def greet(name: str) -> dict[str, str]:
        return {"hello": name}

    name = f"n{uuid.uuid4().hex}"
    counted, timed = requests_counted("GET", "/greetings/{name}", 200), requests_timed("GET", "/greetings/{name}")
    assert api.get(f"/greetings/{name}").status_code == 200
    assert api.get(f"/greetings/{name}").status_code == 200
    assert requests_counted("GET", "/greetings/{name}", 200) == counted + 2
    assert requests_timed("GET", "/greetings/{name}") == timed + 2
    # the template, never the path: a label value per id would grow without bound
    assert name not in generate_latest(REGISTRY).decode()


def test_unknown_paths_are_counted_as_unmatched(client) -> None:
    before = requests_counted("GET", "unmatched", 404)
    path = f"/no-such-page/{uuid.uuid4().hex}"
    assert client().get(path).status_code == 404
    assert requests_counted("GET", "unmatched", 404) == before + 1
    assert path not in generate_latest(REGISTRY).decode()


def test_an_unhandled_error_is_counted_as_500(client) -> None:
    api = client()

    @api.app.get("/broken")
    def broken() -> None:
        raise RuntimeError("broken on purpose")

    before = requests_counted("GET", "/broken", 500)
    with pytest.raises(RuntimeError):
        api.get("/broken")
    assert requests_counted("GET", "/broken", 500) == before + 1


def test_metrics_are_served_on_their_own_port_while_the_app_runs(client) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    api = client(metrics_port=str(port))
    with api:  # runs the lifespan, as the server process does
        assert api.get("/health").status_code == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'http_requests_total{method="GET",route="/health",status="200"}' in text
        assert "http_request_duration_seconds_bucket" in text
        # not on the app's port, which the reverse proxy routes
        assert api.get("/metrics").status_code == 404
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
