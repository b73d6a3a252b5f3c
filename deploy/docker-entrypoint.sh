#!/bin/sh
# The image's entry point (Dockerfile). With no command, or `serve [OPTIONS]`, or only options:
# apply pending migrations (`xuefen migrate`, unless XUEFEN_MIGRATE_ON_START=false), then serve
# on 0.0.0.0:${XUEFEN_PORT:-8000}. Anything else is a xuefen command: `worker`, `tenant create …`,
# `migrate`. `exec` makes xuefen the container's main process, so `docker stop` (SIGTERM) reaches
# it and it finishes the requests (the worker: the batch) in flight.
set -eu

if [ "$#" -eq 0 ]; then
    set -- serve
fi
case "$1" in
    --version | -h | --help) exec xuefen "$@" ;;
    -*) set -- serve "$@" ;;
esac

if [ "$1" != "serve" ]; then
    exec xuefen "$@"
fi
shift

case "${XUEFEN_MIGRATE_ON_START:-true}" in
    true | 1 | yes | on) xuefen migrate ;;
    false | 0 | no | off) ;;
    *)
        echo "xuefen-entrypoint: XUEFEN_MIGRATE_ON_START must be true or false, got '${XUEFEN_MIGRATE_ON_START}'" >&2
        exit 2
        ;;
esac
exec xuefen serve --host "${XUEFEN_HOST:-0.0.0.0}" --port "${XUEFEN_PORT:-8000}" "$@"
