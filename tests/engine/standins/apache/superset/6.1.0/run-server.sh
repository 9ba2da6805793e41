#!/usr/bin/env bash
# Stand-in for the image's docker/entrypoints/run-server.sh (read from apache/superset in the search index): gunicorn
# serving FLASK_APP on SUPERSET_BIND_ADDRESS:SUPERSET_PORT with the same variables and defaults. The statsd flags are
# left out (nothing listens; gunicorn only sends UDP).
exec gunicorn \
    --bind "${SUPERSET_BIND_ADDRESS:-0.0.0.0}:${SUPERSET_PORT:-8088}" \
    --access-logfile "${ACCESS_LOG_FILE:--}" \
    --error-logfile "${ERROR_LOG_FILE:--}" \
    --workers "${SERVER_WORKER_AMOUNT:-1}" \
    --worker-class "${SERVER_WORKER_CLASS:-gthread}" \
    --threads "${SERVER_THREADS_AMOUNT:-20}" \
    --log-level "${GUNICORN_LOGLEVEL:-info}" \
    --timeout "${GUNICORN_TIMEOUT:-60}" \
    --keep-alive "${GUNICORN_KEEPALIVE:-2}" \
    --max-requests "${WORKER_MAX_REQUESTS:-0}" \
    --max-requests-jitter "${WORKER_MAX_REQUESTS_JITTER:-0}" \
    --limit-request-line "${SERVER_LIMIT_REQUEST_LINE:-0}" \
    --limit-request-field_size "${SERVER_LIMIT_REQUEST_FIELD_SIZE:-0}" \
    "${FLASK_APP}"
