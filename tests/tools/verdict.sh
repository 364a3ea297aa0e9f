# verdict.sh - one check over several conditions (sourced, not run):
#   ok=1; cond || miss WHY; ...; verdict NAME
# prints one "PASS NAME", or one "FAIL NAME: every reason". miss without WHY
# takes $why (which expect.sh's helpers set) and clears it. Uses the sourcing
# script's pass and fail.
ok=1
whys=
miss() {
	ok=0
	whys="$whys${1:-${why:-a condition failed}}; "
	why=
}
verdict() {
	if [ "$ok" -eq 1 ]; then pass "$1"; else fail "$1" "$whys"; fi
	ok=1
	whys=
}
