#!/bin/sh
# The tests of the image's healthcheck.sh that the catalog uses, written from its documentation: each argument is
# a test, run in order, as the healthcheck user of .my-healthcheck.cnf in the data folder (over TCP).
#   --connect              a client connects over TCP
#   --innodb_initialized   InnoDB has finished initialising (crash recovery included)
# --su-mysql and --su=<user> are accepted and ignored: this script runs as the server's user already.
set -eu

CNF=/var/lib/mysql/.my-healthcheck.cnf
query() {
    if [ -r "$CNF" ]; then
        mariadb --defaults-extra-file="$CNF" --host=127.0.0.1 --batch --skip-column-names --execute="$1"
    else
        mariadb --protocol=tcp --host=127.0.0.1 --batch --skip-column-names --execute="$1"
    fi
}

for test in "$@"; do
    case "$test" in
        --su-mysql|--su=*) ;;
        --connect) query "SELECT 1" > /dev/null ;;
        --innodb_initialized)
            [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ] ;;
        *) echo "healthcheck.sh: unknown test $test" >&2; exit 1 ;;
    esac
done
