#!/usr/bin/env bash
# engine_calendar.sh - calendar recurrence (--every 1mo, 3mo, 1y) with the real
# binaries: submit stores the first run as the schedule's anchor, a consumer
# runs the task, and the item's next target is the calendar date that Python's
# zoneinfo computes independently: the anchor's day of month (or the month's
# last day) and wall-clock time in the zone, whole steps from the anchor, the
# first one after now. The anchors are in the past, so each task runs at once
# and its next date depends on today: whatever the day, the oracle and the
# consumer must agree. `get` shows the schedule with its zone, `list --json`
# the schedule with its anchor; a mixed "1mo2d" is refused with a message
# that says why.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init calendar
item() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$1\""; }
field() { item "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }
ran_once() { [ "$(field "$1" iteration) $(field "$1" status)" = "1 PENDING" ]; }

# oracle ANCHOR_MS MONTHS ZONE: the first calendar slot after now (epoch ms).
oracle() {
	$PY - "$@" <<'EOF'
import calendar, datetime, sys, time
from zoneinfo import ZoneInfo
anchor, months, zone = int(sys.argv[1]), int(sys.argv[2]), ZoneInfo(sys.argv[3])
a = datetime.datetime.fromtimestamp(anchor / 1000, zone)
now = time.time() * 1000
k = 1
while True:
    m = a.year * 12 + a.month - 1 + k * months
    y, mon = divmod(m, 12)
    mon += 1
    day = min(a.day, calendar.monthrange(y, mon)[1])
    t = a.replace(year=y, month=mon, day=day, fold=0)
    ms = int(t.timestamp()) * 1000 + anchor % 1000
    if ms > now:
        print(ms)
        break
    k += 1
EOF
}

start_consumer c1 --concurrency 4

# 01:30 Berlin on Aug 31 2025 every 3 months: Nov 30, Feb 28, May 31, ...
tf_cli submit --type noop --id cal-q --every 3mo --tz Europe/Berlin \
    --at 2025-08-30T23:30:00Z >/dev/null
# Feb 29 2024 12:00 UTC yearly: Feb 28 in common years.
tf_cli submit --type noop --id cal-y --every 1y --at 2024-02-29T12:00:00Z \
    >/dev/null
# Jan 31 09:15 New York monthly, through both DST changes.
tf_cli submit --type noop --id cal-m --every 1mo --tz America/New_York \
    --at 2025-01-31T14:15:00.250Z >/dev/null

for id in cal-q cal-y cal-m; do
	check "$id-ran" wait_until 30 ran_once "$id"
done

# expect ID ANCHOR_MS EVERY MONTHS ZONE SCHEDULE-JSON
expect() {
	local id=$1 anchor=$2 every=$3 months=$4 zone=$5 sched=$6 want got
	ok=1
	want=$(oracle "$anchor" "$months" "$zone")
	got=$(field "$id" next_run)
	[ "$got" = "$want" ] || miss "next_run $got, want $want"
	got=$(item "$id" | $PY -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["schedule"], sort_keys=True))')
	[ "$got" = "$sched" ] || miss "schedule $got, want $sched"
	verdict "$id-next-is-calendar-date"
}
expect cal-q 1756596600000 3mo 3 Europe/Berlin \
    '{"anchor": 1756596600000, "every": "3mo", "tz": "Europe/Berlin"}'
expect cal-y 1709208000000 1y 12 UTC \
    '{"anchor": 1709208000000, "every": "1y"}'
expect cal-m 1738332900250 1mo 1 America/New_York \
    '{"anchor": 1738332900250, "every": "1mo", "tz": "America/New_York"}'

check "get-shows-calendar-schedule" sh -c \
    "'$TASKFLEET' get cal-q | grep -q '^schedule    every 3mo Europe/Berlin\$'"
listed() {
	"$TASKFLEET" list --json | $PY -c '
import json, sys
s = {t["id"]: t.get("schedule") for t in map(json.loads, sys.stdin) if "id" in t}
sys.exit(0 if s.get("cal-m") == {"every": "1mo", "tz": "America/New_York", "anchor": 1738332900250} else 1)'
}
check "list-json-shows-calendar-schedule" listed
out=$("$TASKFLEET" submit --type noop --every 1mo2d 2>&1)
rc=$?
ok=1
[ "$rc" -eq 2 ] || miss "exit $rc"
case $out in
*'--every: "1mo2d": calendar units (y, mo) do not mix with fixed ones'*) ;;
*) miss "said: $out" ;;
esac
verdict "submit-mixed-units-refused"
check "calendar-consumer-exit-0" stop_consumers
exit $e2e_failed
