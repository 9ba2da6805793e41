"""Prometheus metrics: every HTTP request counted and timed by its route template, served on a port of their own
(METRICS_PORT, 9464 in the image), which the reverse proxy never routes and compose never publishes."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A path no route matched (a 404, a CORS preflight the middleware answers): one label value, not one per path.
UNMATCHED = "unmatched"

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by method, route template and status", ["method", "route", "status"]
)
DURATION = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by method and route template", ["method", "route"]
)


class RequestMetrics:
    """ASGI middleware: counts and times each HTTP request. The route is the template the router matched
    (/items/{item_id}), which the router leaves in the scope, so a label never holds an id from a path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the answer started: ServerErrorMiddleware answers 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path_format", None) or UNMATCHED
            DURATION.labels(scope["method"], route).observe(time.perf_counter() - started)
            REQUESTS.labels(scope["method"], route, str(status)).inc()


@contextmanager
def metrics_server(port: int | None) -> Iterator[None]:
    """Serves the default registry on `port` (all interfaces, inside the container) while the app runs; nothing
    without a port, as in the tests, which build many apps in one process."""
    if not port:
        yield
        return
    server, thread = start_http_server(port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

