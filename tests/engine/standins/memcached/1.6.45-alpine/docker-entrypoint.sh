#!/bin/sh
# What the memcached image documents, written from its documentation: options alone are given to memcached.
set -e

if [ "${1#-}" != "$1" ]; then
    set -- memcached "$@"
fi
exec "$@"
