"""Superset's settings in the stack (the image reads superset_config.py from PYTHONPATH, /app/pythonpath): its
database and key from the environment compose gives it, nothing else from outside. Checked against Superset 6.1.0's
superset/config.py and run natively (tests/test_superset.py: bootstrap, API, gunicorn)."""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["OWN_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg2://", 1)

# Talisman stays on (Superset's default): 6.1's TALISMAN_CONFIG already has force_https and session_cookie_secure
# off, so plain HTTP on its own port works. Its content security policy is Superset's own with one change: no
# img-src for scarf.sh. The 6.1.0 wheel's menu always renders a telemetry pixel from
# apachesuperset.gateway.scarf.sh (there is no SCARF_ANALYTICS config key in 6.1: that is a frontend build
# variable), and the browser loads it unless the policy forbids it.
TALISMAN_ENABLED = True
_FONT_HOSTS = [
    "https://fonts.googleapis.com",
    "https://fonts.gstatic.com",
    "https://use.typekit.net",
    "https://use.typekit.com",
]
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:", "ows.terrestris.de", "https://cdn.document360.io"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": [
            "'self'",
            "https://api.mapbox.com",
            "https://events.mapbox.com",
            "https://tile.openstreetmap.org",
            "https://tile.osm.ch",
            "https://a.basemaps.cartocdn.com",
        ],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'", *_FONT_HOSTS],
        "font-src": ["'self'", *_FONT_HOSTS],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}

# Queries run in the web process (no Celery in the stack): synchronous SQL Lab, a simple in-process cache.
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = CACHE_CONFIG
# Flask-Limiter's warning about in-memory storage: one process, in memory is what we mean.
RATELIMIT_STORAGE_URI = "memory://"

# Superset's default, said out loud: no SQLite or shillelagh connection (they read the container's files). It does
# not block DuckDB (BLOCKLIST in superset/security/analytics_db_safety.py), which is why bootstrap.py opens the
# warehouse's DuckDB file read-only with external access off.
PREVENT_UNSAFE_DB_CONNECTIONS = True
