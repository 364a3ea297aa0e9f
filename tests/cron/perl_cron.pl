#!/usr/bin/perl
# tests/cron/perl_cron.pl - the Perl side of tests/scripts/cron_vs_perl.sh.
#
#   perl_cron.pl gen                 writes the cases, one per line:
#                                    id group expr perl-expr zone start n
#   perl_cron.pl compare CASES OURS  compares our fire times (from
#                                    tests/cron/cron_next.c) with those of
#                                    DateTime::Event::Cron and prints one
#                                    PASS/FAIL line per group (with
#                                    TF_CRON_VERBOSE=1 also each excluded
#                                    fire time)
#
# The cases are generated deterministically (a fixed-seed LCG), so every run
# compares the same few hundred (expression, zone, start) triples.
#
# Each fire time is compared on its own: Perl's next fire time is computed
# from the same instant ours was (the start, or our previous fire time), so
# one legitimate difference does not shift the rest of the case.
#
# Where Perl legitimately differs, the fire time is excluded from the plain
# comparison, and checked instead against a reference that does follow our
# rules (a difference there is a FAIL like any other):
#
#   vixie   DateTime::Event::Cron decides day-of-month versus day-of-week by
#           whether a field lists every value (Perl: "1-31" counts as "*"; a
#           starred step such as "*/2" does not), Vixie cron by whether the
#           field starts with "*". Reference: the same Perl module with its
#           days_contain() following the Vixie rule.
#   gap     A slot whose local time falls in a spring-forward gap: Perl skips
#           it (DateTime refuses the local time); we fire at the end of the
#           gap (documented DST policy).
#   overlap A local time that occurs twice: DateTime picks the later
#           occurrence (standard time), and it may also fire again in the
#           repeated stretch; we fire once, at the first occurrence.
#   died    DateTime::Event::Cron dies ("Invalid local time") when it
#           truncates to a local midnight that does not exist (zones that
#           changed at 00:00, such as America/Sao_Paulo until 2019).
#   skip    A bug in DateTime::Event::Cron 0.09 (_incr): when the next
#           matching day lies in a month the expression does not name, it
#           carries that day's number into the next month it does name, and
#           so skips that month's first matching days when days depend on
#           the weekday ("0 0 29 2 1" after Monday 2029-02-26: Perl says
#           2030-02-11; Monday 2030-02-04 comes first). Recognised only when
#           Perl's time is later in the same month as ours, ours is in a
#           later month than the start, and Perl itself fires at ours when
#           asked from just before it.
#   Reference for gap, overlap, died and skip: the policy oracle below,
#           which walks the local calendar day by day, takes the wall-clock
#           minutes the Perl module's parsed fields match (Vixie's day
#           rule), and maps each to UTC with DateTime::TimeZone's offsets,
#           a gap's minutes to its end, a repeated time to its first
#           occurrence.
# Only fire times near a zone change (the start, our time or Perl's is a
# repeated local time or the end of a gap) can be excluded for gap/overlap.
# In the "dst" group every fire time, also one equal to Perl's, is checked
# against the policy oracle as well (Perl and we could agree by mistake).
use strict;
use warnings;

use DateTime;
use DateTime::TimeZone;
use DateTime::Event::Cron;
use Scalar::Util qw(refaddr);

my $STEPS = 5;

# ---- deterministic random numbers ------------------------------------------

my $seed = 20260315;
sub rnd {
	my ($n) = @_;
	$seed = ($seed * 1103515245 + 12345) % 2147483648;
	return int($seed / 65536) % $n;
}
sub pick { return $_[rnd(scalar @_)]; }

# ---- the Vixie day rule, switched on per cron object -------------------------

# refaddr of an IntegratedSet -> [dom_star, dow_star]. The objects are kept
# in @KEEP so that no address is reused by a later (stock) object.
my (%VIXIE, @KEEP);
{
	no warnings 'redefine';
	my $orig = \&DateTime::Event::Cron::IntegratedSet::days_contain;
	*DateTime::Event::Cron::IntegratedSet::days_contain = sub {
		my ($self, $dom, $dow) = @_;
		my $v = $VIXIE{refaddr $self};
		return $orig->(@_) unless $v;
		my $dom_c = $self->dom->contains($dom);
		my $dow_c = $self->dow->contains($dow);
		return ($v->[0] || $v->[1]) ? ($dom_c && $dow_c) : ($dom_c || $dow_c);
	};
}

# ---- expressions -----------------------------------------------------------

my @MON = qw(jan feb mar apr may jun jul aug sep oct nov dec);
my @DOW = qw(sun mon tue wed thu fri sat);
my %MAX = (0 => 59, 1 => 23, 2 => 31, 3 => 12, 4 => 7);
my %SHORT = (
	'@yearly' => '0 0 1 1 *', '@annually' => '0 0 1 1 *',
	'@monthly' => '0 0 1 * *', '@weekly' => '0 0 * * 0',
	'@daily' => '0 0 * * *', '@midnight' => '0 0 * * *',
	'@hourly' => '0 * * * *',
);

# Our syntax to what Set::Crontab reads: names to numbers ("sun" ending a
# range to 7), N/S to N-max/S, a starred step in day-of-week to 0-7/S (Perl's
# "*" there is 1-7, Vixie's 0-7), shorthands to their five fields.
sub to_perl {
	my ($expr) = @_;
	$expr =~ s/^\s+|\s+$//g;
	$expr = $SHORT{lc $expr} if $expr =~ /^@/;
	my @f = split /\s+/, $expr;
	for my $i (0 .. 4) {
		my @el;
		for my $e (split /,/, $f[$i]) {
			my ($body, $step) = $e =~ m{^([^/]*)(?:/(\d+))?$};
			my @ends = split /-/, $body;
			for my $k (0 .. $#ends) {
				my $x = lc $ends[$k];
				if ($i == 3 && $x =~ /^[a-z]+$/) {
					my ($n) = grep { $MON[$_] eq $x } 0 .. 11;
					$ends[$k] = $n + 1;
				} elsif ($i == 4 && $x =~ /^[a-z]+$/) {
					my ($n) = grep { $DOW[$_] eq $x } 0 .. 6;
					$n = 7 if $n == 0 && $k == 1;
					$ends[$k] = $n;
				}
			}
			$body = join '-', @ends;
			if (defined $step) {
				$body = "$body-$MAX{$i}" if $body =~ /^\d+$/;
				$body = "0-7" if $i == 4 && $body eq '*';
				$e = "$body/$step";
			} else {
				$e = $body;
			}
			push @el, $e;
		}
		$f[$i] = join ',', @el;
	}
	return join ' ', @f;
}

# Whether the day-of-month and day-of-week fields start with "*".
sub stars {
	my ($expr) = @_;
	$expr =~ s/^\s+|\s+$//g;
	$expr = $SHORT{lc $expr} if $expr =~ /^@/;
	my @f = split /\s+/, $expr;
	return ($f[2] =~ /^\*/ ? 1 : 0, $f[4] =~ /^\*/ ? 1 : 0);
}

# ---- case generation ---------------------------------------------------------

sub num_field {
	my ($lo, $hi) = @_;
	my $r = rnd(10);
	my $x = $lo + rnd($hi - $lo + 1);
	my $y = $x + rnd($hi - $x + 1);
	my $s = 2 + rnd(int(($hi - $lo) / 2) + 1);
	return '*' if $r == 0;
	return $x if $r == 1;
	if ($r == 2) {
		my %v = map { ($lo + rnd($hi - $lo + 1)) => 1 } 1 .. 3;
		return join ',', sort { $a <=> $b } keys %v;
	}
	return "$x-$y" if $r == 3;
	return "*/$s" if $r == 4;
	return "$x-$y/$s" if $r == 5;
	return "$x/$s" if $r == 6;
	return "$x,$y-$hi/$s" if $r == 7 && $y < $hi;
	return "$x-$y" if $r == 7;
	return "$x";
}

sub cased {
	my ($w) = @_;
	my $r = rnd(3);
	return $r == 0 ? lc $w : $r == 1 ? uc $w : ucfirst $w;
}

my @ZONES = qw(Europe/Berlin America/New_York Australia/Sydney Asia/Kolkata
    UTC America/Sao_Paulo Pacific/Auckland);
my @DST_ZONES = qw(Europe/Berlin America/New_York Australia/Sydney
    America/Sao_Paulo Pacific/Auckland);

sub random_start {
	# 1990 to 2100, any second
	return 631152000 + rnd(110 * 365) * 86400 + rnd(86400);
}

sub offset_at {
	my ($tz, $t) = @_;
	return $tz->offset_for_datetime(DateTime->from_epoch(epoch => $t));
}

# The instants of the zone's changes in year y (at most one per half year).
sub changes_in_year {
	my ($tz, $y) = @_;
	my @edges = (
		DateTime->new(year => $y, month => 1, day => 1, time_zone => 'UTC')->epoch,
		DateTime->new(year => $y, month => 7, day => 1, time_zone => 'UTC')->epoch,
		DateTime->new(year => $y + 1, month => 1, day => 1, time_zone => 'UTC')->epoch,
	);
	my @out;
	for my $h (0, 1) {
		my ($lo, $hi) = ($edges[$h], $edges[$h + 1]);
		my $olo = offset_at($tz, $lo);
		next if $olo == offset_at($tz, $hi);
		while ($hi - $lo > 1) {
			my $mid = int(($lo + $hi) / 2);
			if (offset_at($tz, $mid) == $olo) { $lo = $mid } else { $hi = $mid }
		}
		push @out, $hi;
	}
	return @out;
}

sub gen {
	my @cases;
	my $add = sub {
		my ($group, $expr, $zone, $start) = @_;
		push @cases, [$group, $expr, $zone, $start];
	};
	for (1 .. 80) {
		my $e = join ' ', num_field(0, 59), num_field(0, 23), '*',
		    pick('*', '*', num_field(1, 12)), '*';
		$add->('fields', $e, pick(@ZONES), random_start());
	}
	for (1 .. 30) {
		my $e = join ' ', num_field(0, 59), num_field(0, 23),
		    pick('*', num_field(1, 28)), num_field(1, 12), '*';
		$add->('fields', $e, pick(@ZONES), random_start());
	}
	for (1 .. 50) {
		my $m1 = rnd(12);
		my $m2 = $m1 + rnd(12 - $m1);
		my $d1 = rnd(7);
		my $d2 = $d1 + rnd(7 - $d1);
		my $mon = pick(cased($MON[$m1]),
		    cased($MON[$m1]) . '-' . cased($MON[$m2]),
		    cased($MON[$m1]) . ',' . cased($MON[$m2]),
		    cased($MON[$m1]) . '-' . cased($MON[$m2]) . '/2', '*');
		my $dow = pick(cased($DOW[$d1]),
		    cased($DOW[$d1]) . '-' . cased($DOW[$d2]),
		    cased($DOW[$d1]) . ',' . cased($DOW[$d2]),
		    cased($DOW[$d1]) . '-sun', 'fri-sun', 'sun-sat/2', '*');
		my $e = join ' ', rnd(60), num_field(0, 23), '*', $mon, $dow;
		$add->('names', $e, pick(@ZONES), random_start());
	}
	for (1 .. 40) {
		my $dow = pick('7', '0', '0-7', '*/2', '*/3', '*/7', '5-7', '1-7/2',
		    '0,7', '6,7', '3/2', num_field(0, 7));
		my $e = join ' ', rnd(60), rnd(24), '*', '*', $dow;
		$add->('day_of_week', $e, pick(@ZONES), random_start());
	}
	for (1 .. 50) {
		my $dom = pick(num_field(1, 31), '13', '1,15', '1-7', '*/2', '*/10',
		    '1-31', '15/5');
		my $dow = pick(num_field(0, 7), '5', '1-5', '*/2', '0-7', '0,6');
		my $e = join ' ', rnd(60), rnd(24), $dom, pick('*', num_field(1, 12)),
		    $dow;
		$add->('dom_dow', $e, pick(@ZONES), random_start());
	}
	for my $s (sort keys %SHORT) {
		$add->('shorthands', $s, pick(@ZONES), random_start()) for 1 .. 4;
	}
	for my $e ('0 0 29 2 *', '30 12 29 2 *', '0 0 31 * *', '59 23 31 12 *',
	    '0 0 1 1 *', '0 0 31 1,3,5 *', '0 0 30 */2 *', '15 6 28-31 2 *',
	    '0 0 29 2 1', '0 0 13 * 5', '0 0 31 12 0', '0 0 29 2,3 *') {
		$add->('sparse', $e, pick(@ZONES), random_start()) for 1 .. 3;
	}
	# DST: starts close to changes in both directions, 2000-2040 and 2090s.
	my @dst_exprs = ('*/15 2 * * *', '30 2 * * *', '0 2,3 * * *',
	    '30 1 * * *', '*/30 * * * *', '0 * * * *', '59 1 * * *',
	    '0 0 * * *', '*/10 0-4 * * *', '0 3 * * *', '45 1,2 * * *',
	    '30 0 * * *', '*/20 23,0 * * *', '0 1-3 * * 0', '* 2 * * *',
	    '15 2,3 * * *');
	my @offsets = (-86400, -10800, -5400, -3660, -1800, -60, -1, 0, 1, 1800,
	    3540, 7200);
	for my $zone (@DST_ZONES) {
		my $tz = DateTime::TimeZone->new(name => $zone);
		my @ch;
		for my $y (2000 .. 2040, 2095 .. 2099) {
			push @ch, changes_in_year($tz, $y);
		}
		for (1 .. 36) {
			$add->('dst', pick(@dst_exprs), $zone, pick(@ch) + pick(@offsets));
		}
	}
	my $id = 0;
	for my $c (@cases) {
		my ($group, $expr, $zone, $start) = @$c;
		printf "%d\t%s\t%s\t%s\t%s\t%d\t%d\n", ++$id, $group, $expr,
		    to_perl($expr), $zone, $start, $STEPS;
	}
}

# ---- comparison ------------------------------------------------------------

my %TZ;
sub tz { return $TZ{$_[0]} //= DateTime::TimeZone->new(name => $_[0]); }

# The instants whose local time in the zone is L (local seconds), ascending.
sub solutions {
	my ($tz, $L) = @_;
	my %offs;
	$offs{offset_at($tz, $L + $_)} = 1 for (-93600, -46800, 0, 46800, 93600);
	my @sol = sort { $a <=> $b } map { $L - $_ }
	    grep { offset_at($tz, $L - $_) == $_ } keys %offs;
	return @sol;
}

# Our DST policy, independently: local seconds L to an instant.
sub policy_map {
	my ($tz, $L) = @_;
	my @sol = solutions($tz, $L);
	return $sol[0] if @sol;
	# In a gap: the first instant whose local time is past L.
	my ($lo, $hi) = ($L - 93600, $L + 93600);
	while ($hi - $lo > 1) {
		my $mid = int(($lo + $hi) / 2);
		if ($mid + offset_at($tz, $mid) > $L) { $hi = $mid } else { $lo = $mid }
	}
	return $hi;
}

sub local_secs {
	my ($tz, $t) = @_;
	return $t + offset_at($tz, $t);
}

sub is_repeated {
	my ($tz, $t) = @_;
	my @sol = solutions($tz, local_secs($tz, $t));
	return @sol > 1;
}

sub month_of {
	my ($tz, $t) = @_;
	return DateTime->from_epoch(epoch => $t, time_zone => $tz)->strftime('%Y-%m');
}

sub is_gap_end {
	my ($tz, $t) = @_;
	return offset_at($tz, $t - 1) < offset_at($tz, $t);
}

# The policy oracle: walks the local calendar day by day from the local
# time of s, takes the wall-clock minutes the Perl module's parsed fields
# match (days by the Vixie rule: $cron is the Vixie-rule object), maps each
# to an instant with policy_map and returns the first one past s. It does
# not use the module's own next(), which has its own bug (see "skip").
sub oracle_next {
	my ($cron, $zone, $s) = @_;
	my $tz = tz($zone);
	my $set = $cron->_cronset;
	my @hours = $set->hour->list;
	my @mins = $set->minute->list;
	my $from = (int(local_secs($tz, $s) / 60) + 1) * 60;
	my $day0 = int($from / 86400) - ($from < 0 && $from % 86400 ? 1 : 0);
	for my $d ($day0 .. $day0 + 4000) {
		my $dt = DateTime->from_epoch(epoch => $d * 86400);
		next unless $set->month->contains($dt->month) &&
		    $set->days_contain($dt->day, $dt->dow);
		for my $h (@hours) {
			for my $m (@mins) {
				my $c = $d * 86400 + $h * 3600 + $m * 60;
				next if $c < $from;
				my $u = policy_map($tz, $c);
				return $u if $u > $s;
			}
		}
	}
	return undef;
}

# DateTime::Event::Cron's next fire time after s in the zone; undef if it dies.
sub perl_next {
	my ($cron, $zone, $s) = @_;
	my $r = eval {
		$cron->next(DateTime->from_epoch(epoch => $s, time_zone => $zone))->epoch;
	};
	return $r;
}

sub fmt {
	my ($zone, $t) = @_;
	return 'none' unless defined $t;
	my $d = DateTime->from_epoch(epoch => $t, time_zone => $zone);
	return sprintf "%d (%s %s)", $t, $d->strftime('%Y-%m-%dT%H:%M:%S%z'),
	    $d->time_zone_short_name;
}

sub compare {
	my ($cases_file, $ours_file) = @_;
	my (%ours, @order, %case);
	open my $cf, '<', $cases_file or die "$cases_file: $!\n";
	while (<$cf>) {
		chomp;
		my ($id, $group, $expr, $pexpr, $zone, $start, $n) = split /\t/;
		$case{$id} = [$group, $expr, $pexpr, $zone, $start, $n];
		push @order, $id;
	}
	close $cf;
	open my $of, '<', $ours_file or die "$ours_file: $!\n";
	while (<$of>) {
		chomp;
		my ($id, $rest) = split /\t/, $_, 2;
		$ours{$id} = $rest;
	}
	close $of;

	my (%stat, %fails, @groups);
	for my $id (@order) {
		my ($group, $expr, $pexpr, $zone, $start, $n) = @{$case{$id}};
		push @groups, $group unless $stat{$group};
		my $st = $stat{$group} //= { cases => 0, compared => 0, equal => 0,
		    vixie => 0, gap => 0, overlap => 0, died => 0, skip => 0,
		    oracle => 0 };
		$st->{cases}++;
		my $fail = sub {
			push @{$fails{$group}}, "case $id: \"$expr\" ($pexpr) in $zone: "
			    . join('', @_);
		};
		my $line = $ours{$id};
		if (!defined $line || $line =~ /^error|never/) {
			$fail->("ours: ", $line // 'no output');
			next;
		}
		my @ours = split / /, $line;
		if (@ours != $n) {
			$fail->("ours gave ", scalar(@ours), " times, want $n");
			next;
		}
		my ($stock, $vix);
		eval {
			$stock = DateTime::Event::Cron->new(cron => $pexpr);
			$vix = DateTime::Event::Cron->new(cron => $pexpr);
			$VIXIE{refaddr $vix->_cronset} = [stars($expr)];
			push @KEEP, $stock, $vix;
			1;
		} or do {
			$fail->("Perl refuses it: $@");
			next;
		};
		# Does the Vixie rule give other days than Perl's for this expression?
		my $rules_differ = 0;
		for my $dom (1 .. 31) {
			for my $dow (1 .. 7) {
				$rules_differ = 1 if
				    ($stock->_cronset->days_contain($dom, $dow) ? 1 : 0) !=
				    ($vix->_cronset->days_contain($dom, $dow) ? 1 : 0);
			}
		}
		my $tz = tz($zone);
		my $s = $start;
		for my $k (0 .. $n - 1) {
			my $o = $ours[$k];
			$st->{compared}++;
			my $p = perl_next($stock, $zone, $s);
			if (defined $p && $p == $o) {
				$st->{equal}++;
				# Near DST changes Perl may agree with us for the wrong
				# reason (both skipping a gap, say): check the policy too.
				if ($group eq 'dst') {
					my $want = oracle_next($vix, $zone, $s);
					$st->{oracle}++;
					$fail->("after ", fmt($zone, $s), ": ours and Perl ",
					    fmt($zone, $o), ", policy oracle ", fmt($zone, $want))
					    unless defined $want && $want == $o;
				}
				$s = $o;
				next;
			}
			my $ref = $p;
			if ($rules_differ) {
				$ref = perl_next($vix, $zone, $s);
				if (defined $ref && $ref == $o) {
					$st->{vixie}++;
					print "# excluded (vixie) case $id: \"$expr\" in $zone after ",
					    fmt($zone, $s), ": ours ", fmt($zone, $o), ", Perl ",
					    fmt($zone, $p), "\n" if $ENV{TF_CRON_VERBOSE};
					$s = $o;
					next;
				}
			}
			my $why;
			if (!defined $ref) {
				$why = 'died';
			} elsif (is_repeated($tz, $s) || is_repeated($tz, $o) ||
			    is_repeated($tz, $ref)) {
				$why = 'overlap';
			} elsif (is_gap_end($tz, $o)) {
				$why = 'gap';
			} elsif ($ref > $o && month_of($tz, $ref) eq month_of($tz, $o) &&
			    month_of($tz, $s) ne month_of($tz, $o) &&
			    (perl_next($rules_differ ? $vix : $stock, $zone, $o - 60) // 0)
			    == $o) {
				$why = 'skip';
			}
			my $want = $why ? oracle_next($vix, $zone, $s) : undef;
			if ($why && defined $want && $want == $o) {
				$st->{$why}++;
				print "# excluded ($why) case $id: \"$expr\" in $zone after ",
				    fmt($zone, $s), ": ours ", fmt($zone, $o), ", Perl ",
				    fmt($zone, $ref), "\n" if $ENV{TF_CRON_VERBOSE};
			} else {
				$fail->("after ", fmt($zone, $s), ": ours ", fmt($zone, $o),
				    ", Perl ", fmt($zone, $p),
				    $rules_differ ? ", Perl with the Vixie rule " .
				    fmt($zone, $ref) : '',
				    $why ? ", policy oracle ($why) " . fmt($zone, $want) : '');
			}
			$s = $o;
		}
	}
	my $bad = 0;
	for my $g (@groups) {
		my $st = $stat{$g};
		my $excl = $st->{vixie} + $st->{gap} + $st->{overlap} + $st->{died} +
		    $st->{skip};
		my $summary = sprintf "%d cases, %d fire times: %d equal to Perl's, "
		    . "%d excluded (vixie %d, gap %d, overlap %d, died %d, skip %d) "
		    . "and equal to the reference", $st->{cases}, $st->{compared},
		    $st->{equal}, $excl, $st->{vixie}, $st->{gap}, $st->{overlap},
		    $st->{died}, $st->{skip};
		$summary .= sprintf "; the %d equal ones also equal to the policy "
		    . "oracle", $st->{oracle} if $st->{oracle};
		if ($fails{$g}) {
			$bad = 1;
			printf "FAIL cron_vs_perl %s: %d mismatches; %s\n", $g,
			    scalar @{$fails{$g}}, $summary;
			my @f = @{$fails{$g}};
			print "    $_\n" for @f[0 .. ($#f < 4 ? $#f : 4)];
		} else {
			print "PASS cron_vs_perl $g: $summary\n";
		}
	}
	return $bad;
}

my $mode = shift // '';
if ($mode eq 'gen') {
	gen();
} elsif ($mode eq 'compare' && @ARGV == 2) {
	exit(compare(@ARGV) ? 1 : 0);
} else {
	die "usage: perl_cron.pl gen | compare CASES OURS\n";
}
