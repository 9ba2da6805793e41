from django.test import Client


def test_pages_of_the_allowed_origins_may_call_the_api(api) -> None:
    client = api(cors_origins="http://localhost:5173, http://127.0.0.1:5173")
    for origin in ("http://localhost:5173", "http://127.0.0.1:5173"):
        response = client.get("/health", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "Origin" in response.headers["Vary"]
        preflight = client.options("/health", headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == origin
        assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    other = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_no_cross_origin_calls_by_default(api) -> None:
    response = api().get("/health", headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_only_the_allowed_hosts_are_answered(api, settings) -> None:
    api()
    settings.ALLOWED_HOSTS = ["localhost"]
    assert Client(HTTP_HOST="localhost").get("/health").status_code == 200
    assert Client(HTTP_HOST="evil.example").get("/health").status_code == 400


def test_debug_is_off(settings) -> None:
    assert settings.DEBUG is False


def test_served_under_the_script_name_whether_it_is_stripped_or_not(api, settings) -> None:
    """As gunicorn calls it: the compose proxy strips /api from the path, an Ingress passes it on."""
    from wsgiref.util import setup_testing_defaults

    from config.wsgi import application

    api()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.FORCE_SCRIPT_NAME = "/api"

    def status(path: str) -> int:
        environ = {"PATH_INFO": path, "HTTP_HOST": "testserver"}
        setup_testing_defaults(environ)
        started = []
        response = application(environ, lambda status, headers, exc_info=None: started.append(status))
        b"".join(response)
        response.close()
        return int(started[0].split()[0])

    assert status("/health") == 200
    assert status("/api/health") == 200
    assert status("/apiary/health") == 404
