#!/usr/bin/env bash
# engine_loop_stall.sh - the watchdog watches the event loop: the heartbeat's
# ticks on the loop are its sign of life (docs/design.md 12.1). A runner that
# declares TF_RUNNER_RETURNS_AT_ONCE and then sleeps (tests/runners/
# loop_hog.c) stalls the loop, so no lease is extended any more: the
# watchdog ends the consumer with exit status 70, saying why, within the
# stall limit (8 s at a 4 s visibility) and long before the receive loop's
# own limit (TASKFLEET_WATCHDOG, 5 min by default).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=4
e2e_init loop-stall

export TASKFLEET_RUNNERS=$TF_BUILD/tests/runners/loop_hog.so
tf_cli submit --type loop_hog --id hog-1 --params '{"ms": 60000}' >/dev/null
start_consumer s1 --visibility-timeout 4 --shutdown-timeout 1
pid=${consumer_pids[0]}
started=$SECONDS
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "loop-stall-consumer-stops" wait_until 45 gone
kill -KILL "$pid" 2>/dev/null
wait "$pid"
status=$?
consumer_pids=()
check "loop-stall-watchdog-exit-70 (got $status after $((SECONDS - started)) s)" \
    test "$status" -eq 70
check "loop-stall-watchdog-says-why" grep -q \
    "watchdog: the event loop's heartbeat has not ticked" "$E2E_DIR/s1.log"
exit $e2e_failed
