#!/bin/sh
# What the valkey image documents, written from its documentation: options alone (or a configuration file) are
# given to valkey-server; started as root, valkey-server gets /data handed to user valkey and runs as it.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- valkey-server "$@"
fi
if [ "$1" = valkey-server ] && [ "$(id -u)" = 0 ]; then
    chown -R valkey:valkey /data 2>/dev/null || true
    exec setpriv --reuid=valkey --regid=valkey --init-groups "$0" "$@"
fi
exec "$@"
