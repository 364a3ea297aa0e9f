# expect.sh - running the CLI and judging what it did, for the end-to-end
# scripts that check one CLI call at a time (tests/scripts/cli_dlq.sh and
# cli_manage.sh). Sourced after e2e.sh (pass, fail); expects $T, the
# directory for the last call's output.
#
# Every check ends in exactly one PASS or FAIL line. The conditions here
# print nothing: a failed one leaves its reason in $why and returns 1, and
# the check that called it prints the one line:
#   cond && cond && pass NAME || fail_why NAME     one check
#   ok=1; ...; cond || miss; ...; verdict NAME     one check over several calls
#
#   tf ARGS...            runs the CLI: stdout in $T/out, stderr in $T/err,
#                         status in $rc; clears $why
#   expect NAME CODE [PATTERN]   the last call exited CODE and its stderr
#                         matches the extended regex PATTERN
#   one_line              the last stderr is exactly one line
#   miss [WHY]            a part of a check over several calls failed: ok=0,
#                         and WHY (default $why) joins $whys
#   verdict NAME          ends such a check: PASS NAME when ok is 1, else one
#                         FAIL NAME with every reason; clears $whys
#   fail_why NAME         FAIL NAME with $why (or the last stdout and stderr
#                         when no condition left a reason)

why=
whys=
rc=0
tf() {
	why=
	"$TASKFLEET" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

expect() {
	local name=$1 want=$2 pat=${3:-}
	if [ "$rc" -ne "$want" ]; then
		why="$name: exit $rc, want $want; stderr: $(head -c 300 "$T/err")"
		return 1
	fi
	if [ -n "$pat" ] && ! grep -Eq -- "$pat" "$T/err"; then
		why="$name: stderr does not match /$pat/: $(head -c 300 "$T/err")"
		return 1
	fi
	return 0
}

one_line() {
	local n
	n=$(wc -l <"$T/err")
	[ "$n" -eq 1 ] && return 0
	why="stderr has $n lines, want 1: $(head -c 300 "$T/err")"
	return 1
}

. "$(dirname "${BASH_SOURCE[0]}")/verdict.sh"

fail_why() {
	fail "$1" "${why:-$(head -c 300 "$T/out") $(head -c 300 "$T/err")}"
}
