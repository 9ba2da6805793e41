#!/bin/sh
# What the redis image documents, written from its documentation: options alone (or a configuration file) are
# given to redis-server; started as root, redis-server gets /data handed to user redis and runs as it.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
exec "$@"
