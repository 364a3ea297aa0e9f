#!/usr/bin/env bash
# tests/scripts/cron_vs_perl.sh - our cron fire times against Perl's
# DateTime::Event::Cron.
#
# tests/cron/perl_cron.pl generates a few hundred (expression, zone, start)
# cases deterministically: every field feature (lists, ranges, steps, N/S,
# names, day-of-week 7, shorthands, the day-of-month/day-of-week rule, leap
# days and other sparse dates) in Europe/Berlin, America/New_York,
# Australia/Sydney, Asia/Kolkata, UTC, America/Sao_Paulo and
# Pacific/Auckland, and starts close to DST changes in both directions. For
# each case lib/time/cron.c (through tests/cron/cron_next.c) gives the next 5
# fire times, and the Perl side checks each one against
# DateTime::Event::Cron from the same instant. The few fire times where
# Perl's rules legitimately differ from ours (the Vixie day rule, DST gaps
# and repeated hours: see perl_cron.pl) are excluded from that comparison
# and checked against a reference that follows our rules instead.
#
# Needs `make` to have run: links $TF_BUILD/lib/libtaskfleet.a (TF_BUILD,
# else $BUILD, else build) with the sanitizer that build directory was made
# with. Needs Debian's libdatetime-event-cron-perl (scripts/setup installs
# it). Prints one PASS or FAIL line per group of cases; TF_CRON_VERBOSE=1
# also lists every excluded fire time.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${TF_BUILD:-$ROOT/${BUILD:-build}}
LIB=$BUILD_DIR/lib/libtaskfleet.a
CC=${CC:-cc}

TMP=$(mktemp -d /tmp/taskfleet-cron.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if ! perl -MDateTime::Event::Cron -MDateTime::TimeZone -e 1 2>"$TMP/pl.err"; then
	echo "FAIL cron_vs_perl setup: Perl lacks DateTime::Event::Cron (apt-get install libdatetime-event-cron-perl): $(head -n 1 "$TMP/pl.err")"
	exit 1
fi
echo "# DateTime::Event::Cron $(perl -MDateTime::Event::Cron -e 'print $DateTime::Event::Cron::VERSION'), DateTime::TimeZone $(perl -MDateTime::TimeZone -e 'print $DateTime::TimeZone::VERSION') (Olson $(perl -MDateTime::TimeZone -e 'print DateTime::TimeZone->new(name => "Europe/Berlin")->olson_version // "?"' 2>/dev/null))"
if [ ! -f "$LIB" ]; then
	echo "FAIL cron_vs_perl setup: $LIB is missing: run make first"
	exit 1
fi
case $(basename "$BUILD_DIR") in
asan) SAN="-fsanitize=address -fno-omit-frame-pointer" ;;
ubsan) SAN="-fsanitize=undefined -fno-sanitize-recover=all" ;;
tsan) SAN="-fsanitize=thread" ;;
*) SAN="" ;;
esac
# shellcheck disable=SC2086
if ! $CC -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror $SAN -Ilib \
    -o "$TMP/cron_next" tests/cron/cron_next.c "$LIB" \
    -lcurl -lcjson -lcrypto -luuid -ldl -lpthread -lm 2>"$TMP/cc.err"; then
	echo "FAIL cron_vs_perl build: cannot build cron_next: $(head -n 5 "$TMP/cc.err")"
	exit 1
fi

if ! perl tests/cron/perl_cron.pl gen >"$TMP/cases.tsv" 2>"$TMP/gen.err"; then
	echo "FAIL cron_vs_perl generate: $(head -n 5 "$TMP/gen.err")"
	exit 1
fi
if ! "$TMP/cron_next" <"$TMP/cases.tsv" >"$TMP/ours.tsv" 2>"$TMP/ours.err"; then
	echo "FAIL cron_vs_perl ours: cron_next failed: $(head -n 5 "$TMP/ours.err")"
	exit 1
fi
echo "# $(wc -l <"$TMP/cases.tsv") cases"
perl tests/cron/perl_cron.pl compare "$TMP/cases.tsv" "$TMP/ours.tsv"
