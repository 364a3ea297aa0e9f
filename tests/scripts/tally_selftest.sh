#!/usr/bin/env bash
# tally_selftest.sh - tests/run's counting (tests/tools/tally.sh) on fake
# programs: a copy of tests/run and tally.sh in a scratch tree whose only
# programs are the fakes below (no stand-ins, no fault suite, no fuzzing), so
# it cannot run the real suite or itself. Each fake breaks one rule:
#   fewer, more   print fewer or more checks than the manifest expects
#   none          prints no result line
#   noexec        has no run bit
#   skips         prints a SKIP line (counted as skipped, and one check short)
#   badexit       exits 3 after a PASS
#   unlisted      has no manifest entry
#   report        leaves an AddressSanitizer report in a file under TF_TEST_OUT
#   gone          is in the manifest but not in the tree
# and good, test_c (a C test's place) and fuzz/fuzz_x (skipped with
# TF_FUZZ_SECONDS=0) break none. A filter counts only what it names, and
# fails when it names nothing. Then TF_RECORD_COUNTS=1 records only the clean
# programs' counts.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

if [ -n "${TF_TALLY_SELFTEST:-}" ]; then
	fail tally-no-recursion "tally_selftest.sh started inside itself"
	exit 1
fi
export TF_TALLY_SELFTEST=1
W=$(mktemp -d /tmp/taskfleet-tally.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/tests/tools" "$W/tests/scripts" "$W/build/tests"
cp "$ROOT/tests/run" "$W/tests/run"
cp "$ROOT/tests/tools/tally.sh" "$W/tests/tools/tally.sh"

# fake NAME BODY: an executable script tests/scripts/NAME.sh.
fake() {
	printf '#!/usr/bin/env bash\n%s\n' "$2" >"$W/tests/scripts/$1.sh"
	chmod +x "$W/tests/scripts/$1.sh"
}
fake good 'echo "PASS g1"; echo "PASS g2"'
fake fewer 'echo "PASS f1"'
fake more 'echo "PASS m1"; echo "PASS m2"; echo "PASS m3"'
fake none 'echo "nothing to say"'
fake noexec 'echo "PASS n1"'
chmod -x "$W/tests/scripts/noexec.sh"
fake skips 'echo "PASS s1"; echo "SKIP s2: no widget here"'
fake badexit 'echo "PASS b1"; exit 3'
fake unlisted 'echo "PASS u1"'
# The report's header, built here so that this script's own log holds none.
fake report 'mkdir -p "$TF_TEST_OUT/report"
echo "==1==ERROR: Address""Sanitizer: heap-buffer-overflow" >"$TF_TEST_OUT/report/c1.log"
echo "PASS r1"'
printf '#!/bin/sh\necho "PASS c1"\n' >"$W/build/tests/test_c"
chmod +x "$W/build/tests/test_c"
echo "not a test" >"$W/build/tests/test_c.d"
cat >"$W/tests/expected.txt" <<'EOF'
# a comment the recording keeps
test_c                  1 - -
scripts/good.sh         2 - -
scripts/fewer.sh        2 - -
scripts/more.sh         2 - -
scripts/none.sh         1 - -
scripts/noexec.sh       1 - -
scripts/skips.sh        2 - -
scripts/badexit.sh      1 - -
scripts/report.sh       1 - -
scripts/gone.sh         1 - -
fuzz/fuzz_x             1 - -
EOF
cp "$W/tests/expected.txt" "$W/expected.orig"

# run_tally OUT-FILE [ENV...]: the scratch tests/run, plain pass, no fuzzing;
# TF_SCRIPT_FILTER (which matches every fake) leaves the fault suite out.
run_tally() {
	local out=$1; shift
	env -u TF_TEST_FILTER -u TF_RECORD_COUNTS -u TF_TEST_PASS BUILD=build \
	    TF_TEST_OUT="$W/out" TF_FUZZ_SECONDS=0 TF_SCRIPT_FILTER=. "$@" \
	    "$W/tests/run" >"$W/$out" 2>&1 </dev/null
}
run_tally run.txt
status=$?

# expect NAME PATTERN: a line of the run matches the grep -E pattern.
expect() {
	if grep -Eq "$2" "$W/run.txt"; then
		pass "tally-$1"
	else
		fail "tally-$1" "no line matching '$2' in: $(grep -E '^(FAIL|SKIP|[0-9])' "$W/run.txt" |
		    sed 's/ERROR: /ERROR- /' | tr '\n' '|')"
	fi
}
expect fewer-fails '^FAIL scripts/fewer\.sh: printed 1 checks .*expects 2$'
expect more-fails '^FAIL scripts/more\.sh: printed 3 checks .*expects 2$'
expect no-result-fails '^FAIL scripts/none\.sh: printed no PASS or FAIL line$'
expect not-executable-fails '^FAIL scripts/noexec\.sh: .*is not executable'
expect skip-shown '^SKIP s2: no widget here$'
expect skip-falls-short '^FAIL scripts/skips\.sh: printed 1 checks \(1 PASS, 0 FAIL, 1 SKIP\)'
expect bad-exit-fails '^FAIL scripts/badexit\.sh: exited with status 3$'
expect unlisted-fails '^FAIL scripts/unlisted\.sh: no plain count in '
expect report-fails "^FAIL scripts/report\.sh: sanitizer or valgrind reports in 1 file\(s\), the first $W/out/report/c1\.log: "
expect missing-fails '^FAIL scripts/gone\.sh: did not run '
expect fuzz-zero-skipped '^SKIP fuzz/fuzz_x: TF_FUZZ_SECONDS=0$'
expect final-line '^11 passed, 9 failed, 2 skipped$'
if grep -Eq '^FAIL (scripts/good\.sh|test_c|test_c\.d)[: ]' "$W/run.txt"; then
	fail tally-good-programs-pass "$(grep -E '^FAIL (scripts/good|test_c)' "$W/run.txt")"
else
	pass tally-good-programs-pass
fi
check_status() {
	if [ "$2" -eq "$3" ]; then pass "tally-$1"; else fail "tally-$1" "status $2, not $3"; fi
}
check_status failures-exit-1 "$status" 1

# A filter: only the programs it names count, and none is missing.
run_tally filtered.txt TF_TEST_FILTER='^scripts/good\.sh$'
status=$?
if [ "$status" -eq 0 ] && [ "$(tail -n 1 "$W/filtered.txt")" = "2 passed, 0 failed" ]; then
	pass tally-filter-counts-only-what-ran
else
	fail tally-filter-counts-only-what-ran "status $status: $(tail -n 1 "$W/filtered.txt")"
fi

# A filter that names nothing (a misspelt name) fails.
run_tally nothing.txt TF_TEST_FILTER='^scripts/godo\.sh$'
status=$?
if [ "$status" -ne 0 ] && grep -q "^FAIL tally: the filter '^scripts/godo" "$W/nothing.txt"; then
	pass tally-empty-filter-fails
else
	fail tally-empty-filter-fails "status $status: $(tail -n 2 "$W/nothing.txt" | tr '\n' '|')"
fi

# Recording: the clean programs' counts are written (unlisted added), the
# others keep their entries, the comment stays.
run_tally record.txt TF_RECORD_COUNTS=1
want=$(sed -e 's/^scripts\/more\.sh .*/scripts\/more.sh 3 - -/' \
    -e 's/^scripts\/fewer\.sh .*/scripts\/fewer.sh 1 - -/' "$W/expected.orig"
    echo "scripts/unlisted.sh 1 - -")
got=$(cat "$W/tests/expected.txt")
norm() { grep -v '^#' | awk 'NF { print $1, $2, $3, $4 }' | sort; }
if [ "$(norm <<<"$got")" = "$(norm <<<"$want")" ] &&
    [ "$(grep '^#' <<<"$got")" = "# a comment the recording keeps" ]; then
	pass tally-record-writes-clean-counts
else
	fail tally-record-writes-clean-counts "$(diff <(norm <<<"$want") <(norm <<<"$got") | tr '\n' '|')"
fi
exit $failed
