#!/bin/sh
# Superset's start: bootstrap.py makes sure, in one Python process, that its database is migrated, the user admin
# has SUPERSET_ADMIN_PASSWORD, the roles are in sync and the warehouse connection, dataset, chart and dashboard are
# as the stack says; then gunicorn serves it as the image's run-server.sh does. Run natively by
# tests/test_superset.py (bootstrap.py beside this script: /app/stacks/ in the image).
set -eu
python "$(dirname "$0")/bootstrap.py"
# --no-control-socket: gunicorn 27 opens $HOME/.gunicorn/gunicorn.ctl otherwise, under the read-only HOME
exec gunicorn --no-control-socket \
  --bind "0.0.0.0:${SUPERSET_PORT:-8088}" --access-logfile - --error-logfile - \
  --workers 1 --worker-class gthread --threads 4 --timeout 120 \
  --limit-request-line 0 --limit-request-field_size 0 \
  "superset.app:create_app()"
