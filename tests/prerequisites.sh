#!/bin/sh
# What `make test` needs besides the Python packages of its venv, installed here when it is missing:
# - nginx and caddy, for `nginx -t` and `caddy validate` of every generated nginx config and Caddyfile
#   (tests/test_posture.py);
# - promtool (Debian's prometheus package), for `promtool check config` and `promtool test rules` of every generated
#   Prometheus configuration and alert rules, and amtool (Debian's prometheus-alertmanager) for `amtool
#   check-config` of every Alertmanager configuration (tests/test_posture.py); their services are kept from starting;
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
has promtool || missing="$missing prometheus"
has amtool || missing="$missing prometheus-alertmanager"
if [ "${STACKS_ENGINE:-auto}" != host ] && ! docker info >/dev/null 2>&1; then
    has dockerd || missing="$missing docker.io"
    has debootstrap || missing="$missing debootstrap"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make test: installing$missing (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # No package's service may start here (Prometheus's would take port 9090): policy-rc.d refuses them all.
    keep_policy=""
    if [ -e /usr/sbin/policy-rc.d ]; then
        keep_policy=yes
    else
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
    fi
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    [ -n "$keep_policy" ] || rm -f /usr/sbin/policy-rc.d
    exit 0
fi
echo "make test needs$missing: install them with: sudo apt-get install -y$missing" >&2
echo "(the engine harness runs without docker.io and debootstrap where a Docker engine that can pull images answers)" >&2
exit 1
