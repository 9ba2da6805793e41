#!/bin/sh
# make backup and make restore for MinIO (component.yml, `backup`): every object of the bucket MINIO_BUCKET with its
# content type, as one stream on stdout (dump), checked (check) and put back (restore) from stdin.
#
#   bucket-backup.sh dump | check | restore
#
# The stream, in order: the line "stacks-minio-bucket 1"; for each object a line "object SIZE TYPE KEY" (TYPE and
# KEY in base64: any key, spaces and newlines too, stays one line), its SIZE bytes, a newline; the line "end COUNT".
# Object by object, with nothing kept aside: /tmp is a tmpfs counted in the container's memory, a bucket is not.
# Only the shell, coreutils and mc: all the image has (no tar, sed or grep).
set -eu

nl='
'
say() { printf 'bucket-backup: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

connect() {  # mc reads no stdin here: the stream is the restore's
    mc alias set stack http://127.0.0.1:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null </dev/null
    bucket="stack/${MINIO_BUCKET:?MINIO_BUCKET names the bucket}"
}

byte() {  # code: that byte appended to value (a newline by name: $(...) would drop it)
    # shellcheck disable=SC2059 # the format is the byte's octal escape
    if [ "$1" -eq 10 ]; then value=$value$nl; else value=$value$(printf "\\$(printf %o "$1")"); fi
}

json_string() {  # JSON NAME: value = the first "NAME":"..." of mc's one-line JSON, its escapes decoded
    rest=${1#*"\"$2\":\""}
    [ "$rest" != "$1" ] || return 1
    value=
    while :; do
        chunk=${rest%%[\"\\]*}
        value=$value$chunk
        rest=${rest#"$chunk"}
        case $rest in
        \"*) return 0 ;;
        \\u*)  # Go writes \u00XX (control characters, <, > and &), \u2028 and \u2029: no surrogate pairs
            hex=${rest#??}
            hex=${hex%"${hex#????}"}
            rest=${rest#??????}
            code=$((0x$hex))
            if [ "$code" -eq 0 ]; then
                return 1
            elif [ "$code" -lt 128 ]; then
                byte "$code"
            elif [ "$code" -lt 2048 ]; then
                byte $((192 | code >> 6)); byte $((128 | code & 63))
            else
                byte $((224 | code >> 12)); byte $((128 | (code >> 6) & 63)); byte $((128 | code & 63))
            fi ;;
        \\?*)
            escaped=${rest#?}
            escaped=${escaped%"${escaped#?}"}
            rest=${rest#??}
            case $escaped in
            n) value=$value$nl ;;
            t) byte 9 ;;
            r) byte 13 ;;
            b) byte 8 ;;
            f) byte 12 ;;
            *) value=$value$escaped ;;  # \" \\ \/
            esac ;;
        *) return 1 ;;
        esac
    done
}

encode() { printf %s "$1" | base64 -w 0; }

decode() {  # base64: value = what it encodes, trailing newlines kept
    value=$(printf %s "$1" | base64 -d && printf x) || return 1
    value=${value%x}
}

header() {  # line: object SIZE TYPE KEY, split into size, type and key (still in base64)
    case $1 in "object "*) ;; *) return 1 ;; esac
    fields=${1#object }
    size=${fields%% *} fields=${fields#* }
    type=${fields%% *} key=${fields#* }
    case $size in '' | *[!0-9]*) return 1 ;; esac
    case $type$key in '' | *[!A-Za-z0-9+/=]*) return 1 ;; esac
    [ -n "$type" ] && [ -n "$key" ] && [ "$key" != "$fields" ]
}

dump() {
    connect
    # The keys, JSON-escaped, one object a line (mc writes one line per entry when its output is no terminal),
    # read through a pipe as mc lists them, whose exit status is still seen.
    listing=$(mktemp -u)
    mkfifo -m 0600 "$listing"
    trap 'rm -f "$listing"' EXIT
    mc ls --recursive --json "$bucket/" >"$listing" </dev/null &
    lister=$!
    printf 'stacks-minio-bucket 1\n'
    count=0
    while IFS= read -r line; do
        case $line in *'"type":"folder"'*) continue ;; esac  # a key ending in /: a folder's marker, no data
        json_string "$line" key || fail "mc listed an entry this cannot read: $line"
        object=$value
        # HEAD only (--no-list): the size and content type of this object, not of every key it begins
        stat=$(mc stat --no-list --json "$bucket/$object" </dev/null) || fail "mc could not stat $object"
        size=${stat#*\"size\":} size=${size%%[!0-9]*}
        [ -n "$size" ] || fail "mc gave no size for $object"
        json_string "$stat" Content-Type || value=application/octet-stream
        printf 'object %s %s %s\n' "$size" "$(encode "$value")" "$(encode "$object")"
        # An object changed since its stat breaks the stream at this point, which check then refuses.
        mc cat "$bucket/$object" </dev/null | head -c "$size"
        printf '\n'
        count=$((count + 1))
    done <"$listing"
    wait "$lister" || fail "mc could not list $bucket"
    printf 'end %s\n' "$count"
    say "$count objects of $bucket"
}

check() {
    IFS= read -r line && [ "$line" = "stacks-minio-bucket 1" ] || fail "this is no MinIO bucket backup"
    count=0
    while IFS= read -r line; do
        case $line in
        "end $count")
            [ "$(head -c 1 | wc -c)" -eq 0 ] || fail "something follows the end of the backup"
            return 0 ;;
        esac
        header "$line" || fail "object $((count + 1)): damaged header"
        decode "$type" || fail "object $((count + 1)): damaged header"
        decode "$key" || fail "object $((count + 1)): damaged header"
        [ "$(head -c "$size" | wc -c)" -eq "$size" ] || fail "object $((count + 1)): cut short"
        IFS= read -r line && [ -z "$line" ] || fail "object $((count + 1)): not the size its header says"
        count=$((count + 1))
    done
    fail "cut short after $count objects"
}

restore() {
    IFS= read -r line && [ "$line" = "stacks-minio-bucket 1" ] || fail "this is no MinIO bucket backup"
    connect
    # The bucket as it was: objects made since the backup go too.
    mc rm --recursive --force "$bucket/" >/dev/null </dev/null
    count=0
    while IFS= read -r line; do
        case $line in "end "*) say "$count objects put back in $bucket"; return 0 ;; esac
        header "$line" || fail "object $((count + 1)): damaged header"
        decode "$type" || fail "object $((count + 1)): damaged header"
        # mc's --attr: ; and = are safe in "...", a " is written '"'
        quoted=\" rest=$value
        while [ -n "$rest" ]; do
            chunk=${rest%%\"*}
            quoted=$quoted$chunk
            rest=${rest#"$chunk"}
            [ -z "$rest" ] || { quoted=$quoted\"\'\"\'\"; rest=${rest#?}; }
        done
        decode "$key" || fail "object $((count + 1)): damaged header"
        # --part-size: mc pipe, not told the size, would hold a part of 528 MiB in memory (the limit is 512m)
        head -c "$size" | mc pipe --quiet --part-size 64MiB --attr "Content-Type=$quoted\"" "$bucket/$value" \
            >/dev/null || fail "mc could not put back $value"
        IFS= read -r line && [ -z "$line" ] || fail "object $((count + 1)): not the size its header says"
        count=$((count + 1))
    done
    fail "cut short after $count objects"
}

case ${1:-} in
dump) dump ;;
check) check ;;
restore) restore ;;
*) fail "usage: $0 dump | check | restore" ;;
esac
