#!/bin/sh
# What the mariadb image documents, written from its documentation: on an empty data folder, initialise it with
# root's password from MARIADB_ROOT_PASSWORD (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, MARIADB_RANDOM_ROOT_PASSWORD),
# create MARIADB_DATABASE and MARIADB_USER with MARIADB_PASSWORD and every right on that database, the
# healthcheck users with a random password kept in .my-healthcheck.cnf for healthcheck.sh, run
# /docker-entrypoint-initdb.d/*.sql and *.sh, then start the server. Started as root it hands the data folder to
# mysql and drops to it; started as another uid it runs as that uid. The MYSQL_* names are read too.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- mariadbd "$@"
fi
case "$1" in mariadbd|mysqld) ;; *) exec "$@" ;; esac

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
if [ "$(id -u)" = 0 ]; then
    chown mysql:mysql "$DATADIR"
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

# MARIADB_* wins over MYSQL_*; a *_FILE variable names a file holding the value (Docker secrets).
for name in ROOT_PASSWORD USER PASSWORD DATABASE ALLOW_EMPTY_ROOT_PASSWORD RANDOM_ROOT_PASSWORD; do
    eval "file=\${MARIADB_${name}_FILE:-\${MYSQL_${name}_FILE:-}}"
    if [ -n "$file" ]; then
        eval "$name=\$(cat \"\$file\")"
    else
        eval "$name=\${MARIADB_${name}:-\${MYSQL_${name}:-}}"
    fi
done

# A string as an SQL literal: backslashes and single quotes doubled, inside single quotes.
literal() { printf "'%s'" "$(printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/''/g")"; }
# shellcheck disable=SC2016 # the backticks are SQL's identifier quotes, not a command substitution
identifier() { printf '`%s`' "$(printf '%s' "$1" | sed -e 's/`/``/g')"; }
random_password() { tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 32; }

if [ ! -d "$DATADIR/mysql" ]; then
    if [ -z "$ROOT_PASSWORD" ] && [ -z "$ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$RANDOM_ROOT_PASSWORD" ]; then
        echo "error: the database is uninitialized and the password option is not specified" >&2
        echo "  You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD" >&2
        exit 1
    fi
    if [ -n "$RANDOM_ROOT_PASSWORD" ]; then
        ROOT_PASSWORD=$(random_password)
        echo "GENERATED ROOT PASSWORD: $ROOT_PASSWORD"
    fi
    echo "Initializing database files"
    mariadb-install-db --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal \
        --skip-name-resolve --old-mode='UTF8_IS_UTF8MB3' > /dev/null

    # A server on the socket only while the database and the init scripts are set up.
    mariadbd --skip-networking --socket="$SOCKET" &
    server=$!
    tries=60
    until mariadb-admin --socket="$SOCKET" --user=root ping > /dev/null 2>&1; do
        tries=$((tries - 1))
        if [ "$tries" = 0 ]; then
            echo "error: the temporary server did not start" >&2
            exit 1
        fi
        sleep 1
    done
    client() { mariadb --socket="$SOCKET" --user=root --password="$ROOT_PASSWORD" --batch "$@"; }

    healthcheck_password=$(random_password)
    {
        echo "SET @@SESSION.SQL_LOG_BIN=0;"
        echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR host NOT IN ('localhost');"
        echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD($(literal "$ROOT_PASSWORD"));"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY $(literal "$ROOT_PASSWORD");"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        for host in localhost 127.0.0.1 ::1; do
            echo "CREATE USER 'healthcheck'@'$host' IDENTIFIED BY $(literal "$healthcheck_password");"
        done
        if [ -n "$DATABASE" ]; then
            echo "CREATE DATABASE IF NOT EXISTS $(identifier "$DATABASE");"
        fi
        if [ -n "$USER" ] && [ -n "$PASSWORD" ]; then
            echo "CREATE USER $(literal "$USER")@'%' IDENTIFIED BY $(literal "$PASSWORD");"
            if [ -n "$DATABASE" ]; then
                echo "GRANT ALL ON $(identifier "$DATABASE").* TO $(literal "$USER")@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | mariadb --socket="$SOCKET" --user=root --batch
    printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
        "$SOCKET" "$healthcheck_password" > "$DATADIR/.my-healthcheck.cnf"
    chmod 0600 "$DATADIR/.my-healthcheck.cnf"

    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh)
                echo "running $script"
                # shellcheck source=/dev/null # the user's own scripts, sourced as the image documents
                . "$script"
                ;;
            *.sql) echo "running $script"; client ${DATABASE:+"$DATABASE"} < "$script" ;;
            *.sql.gz) echo "running $script"; gunzip -c "$script" | client ${DATABASE:+"$DATABASE"} ;;
        esac
    done
    mariadb-admin --socket="$SOCKET" --user=root --password="$ROOT_PASSWORD" shutdown
    wait "$server" || true
    echo "MariaDB init process done. Ready for start up."
fi

exec "$@"
