#!/usr/bin/env bash
# docs_migrating.sh - the runnable examples of docs/migrating.md work (issue
# 20 item 4): every fenced block opened with "```sh runnable NAME" runs, in
# the order of the page, in a fresh bash (-e -o pipefail, at most 90 s), in
# the setting the page's first block describes for scripts/run-local: the
# CLI on the PATH, TASKFLEET_TABLE/TASKFLEET_QUEUE, the stand-ins' endpoints
# and keys, a consumer that may call loopback webhooks, the REST API without
# a key at $API and a webhook receiver at $HOOKS. One PASS or FAIL per
# block, named for its NAME; a failing block's output goes to its log.
# Blocks check what they show (they wait for a status, grep an answer), so a
# block that exits 0 did what the page says.
. "$(dirname "$0")/../tools/e2e.sh"
DOC=${TF_MIGRATING_DOC:-$TF_ROOT/docs/migrating.md}

for var in AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_DYNAMODB; do
	case ${!var:-} in
	http://127.*) ;;
	*) fail migrating-setup "$var must point at a loopback stand-in (run through tests/run)"; exit 1 ;;
	esac
done
e2e_init migrating
RECEIVER=$TF_ROOT/tests/tools/webhook_receiver.py
"$PY" "$RECEIVER" --bind 127.0.0.1 --port-file "$E2E_DIR/hooks.port" \
    --log "$E2E_DIR/hooks.jsonl" >"$E2E_DIR/receiver.log" 2>&1 &
receiver_pid=$!
: >"$E2E_DIR/serve.log"
"$TASKFLEET" serve --listen 127.0.0.1:0 --no-auth 2>"$E2E_DIR/serve.log" &
serve_pid=$!
trap 'e2e_cleanup; kill "$receiver_pid" "$serve_pid" 2>/dev/null' EXIT
listening() { grep -q 'listening on http://' "$E2E_DIR/serve.log"; }
wait_until 30 test -s "$E2E_DIR/hooks.port" ||
	{ fail migrating-setup "the webhook receiver did not start"; exit 1; }
wait_until 30 listening ||
	{ fail migrating-setup "taskfleet serve did not start: $(cat "$E2E_DIR/serve.log")"; exit 1; }
export API HOOKS
API=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$E2E_DIR/serve.log" | head -1)
HOOKS=http://127.0.0.1:$(cat "$E2E_DIR/hooks.port")
export PATH=$TF_BUILD/bin:$PATH
export TASKFLEET_HTTP_ALLOW=127.0.0.1
start_consumer migrating-c1

# The blocks, as NUL-separated "NAME\nTEXT" records.
blocks=$("$PY" - "$DOC" <<'EOF' | base64 -w0
import re, sys
text = open(sys.argv[1], encoding='utf-8').read()
out = []
for m in re.finditer(r'^```sh runnable (\S+)\n(.*?)^```$', text, re.M | re.S):
    out.append(m.group(1) + '\n' + m.group(2))
sys.stdout.write('\0'.join(out))
EOF
)
n=0
while IFS= read -r -d '' rec; do
	[ -n "$rec" ] || continue
	name=${rec%%$'\n'*}
	body=${rec#*$'\n'}
	n=$((n + 1))
	log=$E2E_DIR/block-$n-$name.log
	if (cd "$E2E_DIR" && timeout 90 bash -e -o pipefail -c "$body") >"$log" 2>&1; then
		pass "migrating-$name"
	else
		fail "migrating-$name" "block $n exited $? (output in $log): $(tail -3 "$log" | tr '\n' ' ')"
	fi
done < <(printf %s "$blocks" | base64 -d; printf '\0')
[ "$n" -gt 0 ] || fail migrating-blocks "no \"\`\`\`sh runnable NAME\" block in $DOC"
check migrating-consumer-exit-0 stop_consumers
exit $e2e_failed
