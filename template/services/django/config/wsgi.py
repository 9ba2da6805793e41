"""WSGI entry point: `gunicorn config.wsgi`."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()


def application(environ, start_response):
    """Django, served under FORCE_SCRIPT_NAME (the path a reverse proxy or an Ingress serves the API under) whether
    the path arrives with it (an Ingress passes /api/health on) or without (the compose proxy strips it)."""
    prefix = (settings.FORCE_SCRIPT_NAME or "").rstrip("/")
    path = environ.get("PATH_INFO", "")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        environ["PATH_INFO"] = path[len(prefix):] or "/"
    return django_application(environ, start_response)
