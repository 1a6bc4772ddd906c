#!/usr/bin/env bash
# The build command of the abort measurements: it runs until it gets SIGTERM, then writes the
# time it got it (epoch seconds, microseconds) to <dir>/<build id>.term and exits.
# <dir>/<build id>.started appears once the trap is set, so the driver knows when to abort.
# Usage: BUILD_COMMAND="exec bash /path/to/sigterm_build.sh <dir>"
dir=$1
id=${ACTOR_BUILD_ID:?ACTOR_BUILD_ID is not set}
trap 'printf "%s\n" "$EPOCHREALTIME" > "$dir/$id.term"; exit 0' TERM
sleep 600 &
: > "$dir/$id.started"
wait
