#!/bin/sh
# What `make test` needs besides the Python packages of its venv, installed here when it is missing:
# - nginx and caddy, for `nginx -t` and `caddy validate` of every generated nginx config and Caddyfile
#   (tests/test_posture.py);
# - memcached, which the backends' own tests talk to when they are wired to Memcached (tests/test_apps.py starts
#   one on a free port: the machine runs none);
# - for the engine harness (tests/engine/), when no Docker engine answers here: dockerd (Debian's docker.io) to
#   run a private engine, and debootstrap to make the Debian base of the stand-in images.
# As root with apt-get it installs them and says so; otherwise it prints the command to run and fails.
set -eu

has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=""
has nginx || missing="$missing nginx-light"
has caddy || missing="$missing caddy"
has memcached || missing="$missing memcached"
if [ "${STACKS_ENGINE:-auto}" != host ] && ! docker info >/dev/null 2>&1; then
    has dockerd || missing="$missing docker.io"
    has debootstrap || missing="$missing debootstrap"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make test: installing$missing (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    exit 0
fi
echo "make test needs$missing: install them with: sudo apt-get install -y$missing" >&2
echo "(the engine harness runs without docker.io and debootstrap where a Docker engine that can pull images answers)" >&2
exit 1
