#!/bin/sh
# make deploy (README.md, "Deploying to one host"): the stack as it is in this folder, on the Docker host that
# docker compose reaches, checked, and put back as it was when the check fails.
#
#   1. notes the image each service runs now (its id), and keeps it under a tag of its own
#   2. pulls the pinned images (one that cannot be pulled is kept as it is) and builds the others; a failed build
#      stops here, with the running stack untouched
#   3. recreates what changed and waits until every service is healthy (up --wait), then runs make smoke
#   4. when 3 fails: the images noted in 1 get their names back, and the stack is started on them again and
#      checked, so that the host runs what it ran before; it exits 1 either way, saying what failed
#
# Only images are rolled back: .env, compose.yaml and the data in the volumes stay as they are (a database
# migration the new images ran is not undone; make backup before a deploy that migrates).
# COMPOSE, DOCKER and SMOKE are the commands make passes (docker compose, docker, make smoke's).
set -eu

COMPOSE=${COMPOSE:?"run it through make deploy, which finds docker compose"}
DOCKER=${DOCKER:-docker}
SMOKE=${SMOKE:?"run it through make deploy, which knows the endpoints make smoke asks"}
WAIT=${DEPLOY_WAIT:-300}
ROLLBACK_TAG=stacks-rollback

say() { printf 'make deploy: %s\n' "$*" >&2; }
# shellcheck disable=SC2086 # each is a command and its options, e.g. "docker compose"
compose() { $COMPOSE "$@"; }
# shellcheck disable=SC2086
docker_() { $DOCKER "$@"; }
# shellcheck disable=SC2086
smoke() { $SMOKE; }
up_and_check() { compose up --detach --wait --wait-timeout "$WAIT" --no-build && smoke; }

repository() {  # an image name without its tag: registry:5000/team/app:1.0 -> registry:5000/team/app
    case ${1##*/} in
    *:*) printf '%s\n' "${1%:*}" ;;
    *) printf '%s\n' "$1" ;;
    esac
}

# 1. What runs now: "image id" per image of the stack that exists on this host.
previous=$(
    compose config --images | sort -u | while IFS= read -r image; do
        id=$(docker_ image inspect --format '{{.Id}}' "$image" 2>/dev/null) || continue
        printf '%s %s\n' "$image" "$id"
    done
)
if [ -n "$previous" ]; then
    printf '%s\n' "$previous" | while read -r image id; do
        docker_ tag "$id" "$(repository "$image"):$ROLLBACK_TAG"
    done
else
    say "no image of this stack is on this host yet: a first deploy, nothing to roll back to"
fi

# 2. The new images.
compose pull --ignore-buildable --ignore-pull-failures --quiet || say "pull failed; going on with the images here"
if ! compose build; then
    say "FAILED: the build failed (above); nothing was restarted, the stack runs as before"
    exit 1
fi

# 3. Start them and check.
if up_and_check; then
    say "deployed: every service is healthy and make smoke passed"
    exit 0
fi
why="the new images did not become healthy or failed make smoke (above)"

# 4. Back to what ran before.
if [ -z "$previous" ]; then
    say "FAILED: $why; there were no previous images to roll back to (see docker compose ps and logs)"
    exit 1
fi
say "$why: rolling back to the previous images"
printf '%s\n' "$previous" | while read -r image id; do
    docker_ tag "$id" "$image"
done
if up_and_check; then
    say "FAILED: $why; rolled back: the stack runs the previous images again, healthy, and make smoke passes"
else
    say "FAILED: $why, and the rollback did not become healthy either: see docker compose ps and logs"
fi
exit 1
