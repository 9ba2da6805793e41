"""The Django project: settings, URLs, the WSGI application and the views of the API."""
