#!/bin/sh
# What the postgres image documents, written from its documentation: on an empty PGDATA, initdb with
# POSTGRES_USER (default postgres) as superuser and POSTGRES_PASSWORD as its password, create POSTGRES_DB
# (default: the user's name), run /docker-entrypoint-initdb.d/*.sql and *.sh, then start the server listening on
# every address with password authentication (scram-sha-256, or POSTGRES_HOST_AUTH_METHOD) for remote clients.
# Started as root it hands PGDATA to postgres and drops to it; started as another uid it runs as that uid.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

# A *_FILE variable names a file holding the value (Docker secrets).
for name in POSTGRES_PASSWORD POSTGRES_USER POSTGRES_DB; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        eval "export $name=\"\$(cat \"\$file\")\""
    fi
done
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        echo "Error: the database is uninitialized and POSTGRES_PASSWORD is not set." >&2
        echo "Set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one." >&2
        exit 1
    fi
    passfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$passfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$POSTGRES_USER" --pwfile="$passfile" ${POSTGRES_INITDB_ARGS:-}
    rm -f "$passfile"
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

    # A server on the socket only while the database and the init scripts are set up.
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    export PGUSER="$POSTGRES_USER" PGPASSWORD="${POSTGRES_PASSWORD:-}"
    if [ "$POSTGRES_DB" != postgres ]; then
        # psql quotes the name itself (:"db"), which it does only in what it reads, not in --command.
        echo 'CREATE DATABASE :"db";' | psql --no-psqlrc --dbname=postgres --set=ON_ERROR_STOP=1 --set=db="$POSTGRES_DB"
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh)
                echo "running $script"
                # shellcheck source=/dev/null # the user's own scripts, sourced as the image documents
                . "$script"
                ;;
            *.sql) echo "running $script"; psql --no-psqlrc --set=ON_ERROR_STOP=1 --dbname="$POSTGRES_DB" --file="$script" ;;
            *.sql.gz) echo "running $script"; gunzip -c "$script" | psql --no-psqlrc --set=ON_ERROR_STOP=1 --dbname="$POSTGRES_DB" ;;
        esac
    done
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    unset PGUSER PGPASSWORD
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@" -c listen_addresses='*'
