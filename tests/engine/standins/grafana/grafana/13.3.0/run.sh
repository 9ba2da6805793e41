#!/bin/sh
# Stand-in for /run.sh of grafana/grafana:13.3.0, written from the image's packaging/docker/run.sh: the same
# permission warnings, GF_*__FILE secrets and paths, then `grafana server` with the console log and the image's
# folders as defaults (see standin.yml for what differs).
set -e

unusable=0
if [ ! -r "$GF_PATHS_CONFIG" ]; then
    echo "GF_PATHS_CONFIG='$GF_PATHS_CONFIG' is not readable."
    unusable=1
fi
if [ ! -w "$GF_PATHS_DATA" ]; then
    echo "GF_PATHS_DATA='$GF_PATHS_DATA' is not writable."
    unusable=1
fi
if [ ! -r "$GF_PATHS_HOME" ]; then
    echo "GF_PATHS_HOME='$GF_PATHS_HOME' is not readable."
    unusable=1
fi
if [ "$unusable" -eq 1 ]; then
    echo "You may have issues with file permissions, more information here: http://docs.grafana.org/installation/docker/#migrate-to-v51-or-later"
fi

if [ ! -d "$GF_PATHS_PLUGINS" ]; then
    mkdir "$GF_PATHS_PLUGINS"
fi

# GF_<NAME>__FILE=<path>: GF_<NAME> is read from that file (a Docker secret); setting both is an error.
for name in $(env | sed -n 's/^\(GF_[A-Za-z0-9_]*\)__FILE=..*$/\1/p'); do
    value='' file=''
    eval "value=\${$name:-}"
    if [ -n "$value" ]; then
        echo >&2 "ERROR: Both $name and ${name}__FILE are set (but are exclusive)"
        exit 1
    fi
    eval "file=\${${name}__FILE}"
    echo "Getting secret $name from $file"
    value=$(cat "$file")
    export "$name=$value"
    unset "${name}__FILE"
done

export HOME="$GF_PATHS_HOME"

if [ -n "${GF_INSTALL_PLUGINS:-}" ]; then
    echo >&2 "WARN: GF_INSTALL_PLUGINS is deprecated, and this stand-in installs no plugins: ignored"
fi

exec grafana server \
    --homepath="$GF_PATHS_HOME" \
    --config="$GF_PATHS_CONFIG" \
    --packaging=docker \
    "$@" \
    cfg:default.log.mode="console" \
    cfg:default.paths.data="$GF_PATHS_DATA" \
    cfg:default.paths.logs="$GF_PATHS_LOGS" \
    cfg:default.paths.plugins="$GF_PATHS_PLUGINS" \
    cfg:default.paths.provisioning="$GF_PATHS_PROVISIONING"
