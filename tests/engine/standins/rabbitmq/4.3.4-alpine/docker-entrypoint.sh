#!/bin/sh
# What the rabbitmq image documents, written from its documentation: started as root, the server gets its data
# folder handed to user rabbitmq and runs as it; RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS name the user
# created on the first start (RabbitMQ 4 reads them itself; the 3.10 server here is given them as configuration).
set -eu

if [ "$1" = rabbitmq-server ] && [ "$(id -u)" = 0 ]; then
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq 2>/dev/null || true
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$0" "$@"
fi
if [ "$1" = rabbitmq-server ] && [ -n "${RABBITMQ_DEFAULT_USER:-}${RABBITMQ_DEFAULT_PASS:-}" ]; then
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-} -rabbit default_user <<\"${RABBITMQ_DEFAULT_USER:-guest}\">> -rabbit default_pass <<\"${RABBITMQ_DEFAULT_PASS:-guest}\">>"
fi
exec "$@"
