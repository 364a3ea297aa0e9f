# bench_script.sh - what the self-checks of bench/ (tests/scripts/bench_*.sh)
# share: pass and fail (sets failed=1), a scratch directory $W removed at
# exit after the processes whose ids are in $pids are stopped, and wait_for.
# Sourced with a name for the directory:
#   . "$ROOT/tests/tools/bench_script.sh" bench-proxy
export AWS_EC2_METADATA_DISABLED=true
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
W=$(mktemp -d "/tmp/taskfleet-$1.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT

# wait_for FILE PATTERN [N]: until FILE has N (default 1) lines matching
# PATTERN; 1 after 30 s.
wait_for() {
	local deadline=$(($(date +%s) + 30)) n
	while :; do
		n=$(grep -c "$2" "$1" 2>/dev/null)    # nothing when FILE is missing
		[ "${n:-0}" -lt "${3:-1}" ] || return 0
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# serve NAME CHECK CMD...: starts CMD in the background, stdout in
# $W/NAME.out and stderr in $W/NAME.err, its id in $pids and in $served, and
# waits for its "ready" line; when it does not come, FAIL CHECK and exit.
serve() {
	local name=$1 check=$2
	shift 2
	"$@" >"$W/$name.out" 2>"$W/$name.err" &
	served=$!
	pids="$pids $served"
	if ! wait_for "$W/$name.out" '^ready$'; then
		fail "$check" "$name did not start: $(cat "$W/$name.err")"
		exit 1
	fi
}
