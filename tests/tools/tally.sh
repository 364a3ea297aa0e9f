# tally.sh - tests/run's counting (sourced, not run): runs test programs,
# counts their result lines, holds each count against the manifest
# (tests/expected.txt), scans what each program wrote for sanitizer and
# valgrind reports, and prints the final line. tests/scripts/tally_selftest.sh
# runs it on fake programs.
#
# A test program prints one line per check: "PASS name" or "FAIL name: why".
# "SKIP name: why" is a check it did not run: shown, counted as skipped, and
# not a check, so the program falls short of its expected count and fails.
# A program fails (one FAIL line with the reason) when it exits non-zero
# without a FAIL line, prints no PASS or FAIL line, prints more or fewer checks
# than the manifest expects for this pass, has no entry there, or left a
# sanitizer or valgrind report in its log or in a file under $TALLY_OUT that
# changed while it ran. When no filter is set, a program the manifest expects
# in this pass that never ran (missing, not executable, filtered out) fails
# too.
#
# The manifest: "#" comments, then one line per program: its name and the
# count for each pass, in the columns plain, asan, ubsan ("-": not run in that
# pass). TALLY_RECORD=1 rewrites the entries of this pass's column for the
# programs that ran cleanly (exit 0, no FAIL, no SKIP) instead of comparing,
# adding programs it has not seen; other columns and lines stay as they are.
#
# Set before calling tally_init: TALLY_MANIFEST (the manifest's path),
# TALLY_PASS (plain, asan or ubsan), TALLY_OUT (the log folder), TALLY_FILTER
# (a grep -E pattern on program names; empty runs all), TALLY_RECORD (1 to
# record).

TALLY_PASSES="plain asan ubsan"
# A report from ASan, LSan, UBSan, TSan or valgrind: the header each prints.
TALLY_REPORT_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error: |SUMMARY: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]'

# tally_init: reads the manifest's column for $TALLY_PASS.
tally_init() {
	local col=0 i=1 p name counts
	tally_passed=0
	tally_failed=0
	tally_skipped=0
	declare -gA tally_expect=() tally_seen=() tally_record=()
	for p in $TALLY_PASSES; do
		i=$((i + 1))
		[ "$p" = "$TALLY_PASS" ] && col=$i
	done
	if [ "$col" -eq 0 ]; then
		tally_fail tally "unknown pass '$TALLY_PASS' (one of: $TALLY_PASSES)"
		return
	fi
	[ -f "$TALLY_MANIFEST" ] || : >"$TALLY_MANIFEST"
	while read -r name counts; do
		tally_expect[$name]=$counts
	done < <(awk -v c="$col" '!/^#/ && NF { print $1, $c }' "$TALLY_MANIFEST")
}

# tally_wanted NAME: true unless a filter is set and NAME does not match it.
tally_wanted() {
	[ -z "$TALLY_FILTER" ] || echo "$1" | grep -Eq "$TALLY_FILTER"
}

# tally_fail NAME WHY: one failed check that the runner itself found.
tally_fail() {
	echo "FAIL $1: $2"
	tally_failed=$((tally_failed + 1))
	tally_seen[$1]=1
}

# tally_skip NAME WHY: NAME is not run, on purpose (say why): one counted skip.
tally_skip() {
	echo "SKIP $1: $2"
	tally_skipped=$((tally_skipped + 1))
	tally_seen[$1]=1
}

# tally_scan NAME STAMP LOG: one FAIL line when LOG or a file under
# $TALLY_OUT newer than STAMP holds a sanitizer or valgrind report: how many
# files do, and the first one's report line.
tally_scan() {
	local name=$1 stamp=$2 log=$3 file first="" n=0 line
	while IFS= read -r file; do
		line=$(grep -E -m 1 -a "$TALLY_REPORT_RE" "$file") || continue
		n=$((n + 1))
		[ -n "$first" ] || first="$file: $line"
	done < <({ echo "$log"; find "$TALLY_OUT" -type f -newer "$stamp" ! -name timings.txt \
	    ! -name '.tally-*' 2>/dev/null; } | sort -u)
	[ "$n" -eq 0 ] ||
	    echo "FAIL $name: sanitizer or valgrind reports in $n file(s), the first $first"
}

# tally_run NAME COMMAND...: runs one test program (stdout and stderr to its
# log), shows its result lines and adds them to the totals.
tally_run() {
	local name=$1; shift
	local log="$TALLY_OUT/$(echo "$name" | tr '/' '_').log"
	local stamp="$TALLY_OUT/.tally-stamp"
	local p f s status want reports started

	tally_wanted "$name" || return 0
	echo "== $name"
	tally_seen[$name]=1
	: >"$stamp"
	started=$SECONDS
	"$@" >"$log" 2>&1 </dev/null
	status=$?
	# How long each program took, slowest first at the end of the run.
	printf '%5d s  %s\n' $((SECONDS - started)) "$name" >>"$TALLY_OUT/timings.txt"
	grep -E '^(PASS|FAIL|SKIP) ' "$log"
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	s=$(grep -c '^SKIP ' "$log")
	want=${tally_expect[$name]:--}
	tally_passed=$((tally_passed + p))
	tally_failed=$((tally_failed + f))
	tally_skipped=$((tally_skipped + s))
	reports=$(tally_scan "$name" "$stamp" "$log")
	if [ -n "$reports" ]; then
		echo "$reports"
		tally_failed=$((tally_failed + 1))
	fi
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		tally_fail "$name" "exited with status $status"
		tail -n 20 "$log" | sed 's/^/    /'
	elif [ $((p + f)) -eq 0 ]; then
		tally_fail "$name" "printed no PASS or FAIL line"
	elif [ "${TALLY_RECORD:-}" = 1 ]; then
		if [ "$f" -eq 0 ] && [ "$s" -eq 0 ] && [ -z "$reports" ]; then
			tally_record[$name]=$p
		else
			echo "   (not recorded: $name failed or skipped)"
		fi
	elif [ "$want" = - ]; then
		tally_fail "$name" "no $TALLY_PASS count in $TALLY_MANIFEST (TF_RECORD_COUNTS=1 tests/run records it)"
	elif [ $((p + f)) -ne "$want" ]; then
		tally_fail "$name" "printed $((p + f)) checks ($p PASS, $f FAIL, $s SKIP), $TALLY_MANIFEST expects $want"
	fi
	if [ "$f" -gt 0 ] || [ "$status" -ne 0 ] || [ -n "$reports" ] || [ "$s" -gt 0 ]; then
		echo "   (log: $log)"
	fi
	rm -f "$stamp"
}

# tally_write: puts this pass's recorded counts into the manifest, holding a
# lock on its folder (the sanitizer passes record side by side).
tally_write() {
	local col=0 i=1 p name rec=""
	for p in $TALLY_PASSES; do
		i=$((i + 1))
		[ "$p" = "$TALLY_PASS" ] && col=$i
	done
	for name in "${!tally_record[@]}"; do
		rec+="$name ${tally_record[$name]}"$'\n'
	done
	(
		flock 9
		{
			grep '^#' "$TALLY_MANIFEST"
			printf '%s' "$rec" | awk -v c="$col" '
				FNR == NR { rec[$1] = $2; next }
				/^#/ || !NF { next }
				{ for (i = NF + 1; i <= 4; i++) $i = "-"
				  if ($1 in rec) { $c = rec[$1]; delete rec[$1] }
				  printf "%-36s %5s %5s %5s\n", $1, $2, $3, $4 }
				END { for (n in rec) { f[1] = n; f[2] = f[3] = f[4] = "-"
				      f[c] = rec[n]
				      printf "%-36s %5s %5s %5s\n", f[1], f[2], f[3], f[4] } }
			' - "$TALLY_MANIFEST" | sort
		} >"$TALLY_MANIFEST.new.$$" && mv "$TALLY_MANIFEST.new.$$" "$TALLY_MANIFEST"
	) 9<"$(dirname "$TALLY_MANIFEST")"
	echo "recorded ${#tally_record[@]} $TALLY_PASS counts in $TALLY_MANIFEST"
}

# tally_finish: fails each expected program that did not run (when nothing
# is filtered) or a filter that matched nothing, records, and prints
# "N passed, N failed[, N skipped]".
# Returns non-zero when anything failed.
tally_finish() {
	local name
	if [ -z "$TALLY_FILTER" ] && [ "${TALLY_RECORD:-}" != 1 ]; then
		for name in $(printf '%s\n' "${!tally_expect[@]}" | sort); do
			[ "${tally_expect[$name]}" = - ] && continue
			[ -n "${tally_seen[$name]:-}" ] && continue
			tally_fail "$name" "did not run ($TALLY_MANIFEST expects ${tally_expect[$name]} checks in the $TALLY_PASS pass)"
		done
	fi
	if [ -n "$TALLY_FILTER" ] && [ "${#tally_seen[@]}" -eq 0 ]; then
		tally_fail tally "the filter '$TALLY_FILTER' names no test program"
	fi
	[ "${TALLY_RECORD:-}" = 1 ] && tally_write
	if [ "$tally_skipped" -gt 0 ]; then
		echo "$tally_passed passed, $tally_failed failed, $tally_skipped skipped"
	else
		echo "$tally_passed passed, $tally_failed failed"
	fi
	[ "$tally_failed" -eq 0 ]
}
