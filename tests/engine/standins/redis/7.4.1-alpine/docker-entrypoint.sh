#!/bin/sh
# What the redis image documents, written from its documentation: options alone start redis-server with them;
# redis-server without a configuration file runs with protected mode off (the container's network is the
# boundary); started as root it drops to user redis.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = redis-server ] && [ "$#" -eq 1 ]; then
    set -- redis-server --protected-mode no
fi
exec "$@"
