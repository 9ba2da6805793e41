#!/bin/sh
# Starts MinIO on /srv/minio, creates the bucket MINIO_BUCKET once MinIO answers (kept if it exists), and stays
# MinIO's parent so that a stop reaches it. /tmp/minio-bucket-ready tells the healthcheck the bucket is there.
set -eu

rm -f /tmp/minio-bucket-ready
minio server /srv/minio --address :9000 --console-address :9001 &
minio_pid=$!
trap 'kill -TERM "$minio_pid" 2>/dev/null' TERM INT

until curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:9000/minio/health/ready; do
    if ! kill -0 "$minio_pid" 2>/dev/null; then
        wait "$minio_pid" || exit $?
        exit 1
    fi
    sleep 1
done
mc alias set stack http://127.0.0.1:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "stack/${MINIO_BUCKET:?MINIO_BUCKET names the bucket to create}"
touch /tmp/minio-bucket-ready

# wait returns early when a signal arrives (the trap forwards it): wait again for MinIO to finish.
status=0
wait "$minio_pid" || status=$?
if kill -0 "$minio_pid" 2>/dev/null; then
    wait "$minio_pid" || status=$?
fi
exit "$status"
