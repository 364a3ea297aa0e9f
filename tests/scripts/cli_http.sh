#!/usr/bin/env bash
# tests/scripts/cli_http.sh - `taskfleet http`, the CLI of the http runner,
# end to end: the real binary against the local stand-ins.
#
# Runs $TF_BUILD/bin/taskfleet (TF_BUILD, else $BUILD, else build) with its own
# table and queue, named with a unique suffix and created with `taskfleet
# init`. Checks that the options become exactly the expected params (read back
# with `taskfleet get --json` and compared with python3's json module, numbers
# as Decimal), that the submit options work the same here, and that every bad
# input exits 2 with one line naming the option and writes nothing (the table
# stays empty). The type check loads the runners as submit does, so
# $TF_BUILD/runners must hold http.so.
#
# Needs what tests/run exports: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB
# and AWS keys. Prints "PASS name" or "FAIL name: why"; exits 1 on any failure.
set -u
CLI_PREFIX=cli-http
# shellcheck source=../tools/cli_common.sh
. "$(dirname "$0")/../tools/cli_common.sh"
if [ -z "${TASKFLEET_RUNNERS:-}" ] && [ ! -f "$BUILD_DIR/runners/http.so" ]; then
	fail setup "$BUILD_DIR/runners/http.so is missing (run make)"
	exit 1
fi
# count_tasks: the number of tasks in the table, all namespaces (a Scan).
count_tasks() {
	h ddb Scan "{\"TableName\":\"$NAME\",\"Select\":\"COUNT\"}" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Count"])'
}

# ---- set-up
tf init
if [ "$rc" -ne 0 ]; then
	fail init "exit $rc: $(cat "$TMP/err")"
	exit 1
fi
pass init

# ---- help
tf http --help
if [ "$rc" -eq 0 ] && grep -q '^usage: taskfleet http --url URL' "$TMP/out" &&
    grep -q -- '--json-body JSON' "$TMP/out" && grep -q -- '--max-attempts N' "$TMP/out" &&
    "$TF" --help | grep -q '^  http  '; then
	pass "http --help, and the command in the top-level help"
else
	fail "http --help, and the command in the top-level help" "exit $rc: $(head -c 300 "$TMP/out")"
fi

# ---- bad input: exit 2, one line naming the option, nothing written. Run
# first, so that the table must still be empty after all of them.
printf 'hello' >"$TMP/body.txt"
i=0
# bad OPTION ARGS...: `http ARGS` must fail with exit 2, nothing on stdout and
# one line on stderr that names OPTION; the id it would have had must not exist.
bad() {
	local opt=$1
	shift
	i=$((i + 1))
	tf http --id "bad-$SUFFIX-$i" "$@"
	if [ "$rc" -ne 2 ]; then
		fail "bad input $opt: $(printf '%q ' "$@")" "exit $rc, want 2: $(cat "$TMP/out" "$TMP/err")"
		return
	fi
	if [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$opt" "$TMP/err"; then
		fail "bad input $opt: $(printf '%q ' "$@")" "want one line naming $opt, got: $(cat "$TMP/err")"
		return
	fi
	if [ -s "$TMP/out" ]; then
		fail "bad input $opt: $(printf '%q ' "$@")" "printed on stdout: $(cat "$TMP/out")"
		return
	fi
	tf get "bad-$SUFFIX-$i"
	if [ "$rc" -ne 3 ]; then
		fail "bad input $opt: $(printf '%q ' "$@")" "the task was written (get: exit $rc)"
		return
	fi
	pass "bad input $opt: $(printf '%q ' "$@")"
}
U=https://hooks.example.com/in
bad --url --method POST
bad --url --url ftp://files.example.com/x
bad --url --url 'https://user:secret@hooks.example.com/in'
bad --url --url 'not a url'
bad --method --url "$U" --method FETCH
bad --header --url "$U" --header 'no-colon-here'
bad --header --url "$U" --header $'X-A: b\rc'
bad --header --url "$U" --header 'Host: evil.example.com'
bad --header --url "$U" --header 'Taskfleet-Id: x'
bad --header --url "$U" --header 'X-Dup: 1' --header 'x-dup: 2'
bad --header --url "$U" --header 'bad name: 1'
bad --body --url "$U" --body a --json-body '{"a":1}'
bad --body --url "$U" --method HEAD --body a
bad --json-body --url "$U" --method head --json-body '{"a":1}'
bad --body --url "$U" --body "@$TMP/no-such-file"
bad --json-body --url "$U" --json-body '{"a":'
bad --json-body --url "$U" --json-body '{"a":1} x'
bad --json-body --url "$U" --json-body "@$TMP/body.txt"
bad --timeout --url "$U" --timeout 5x
bad --timeout --url "$U" --timeout 16m
bad --timeout --url "$U" --timeout 0s
bad --success --url "$U" --success 700
bad --success --url "$U" --success 2xx,abc
bad --success --url "$U" --success 200,,204
bad --max-redirects --url "$U" --max-redirects 21
bad --result-header --url "$U" --result-header 'a b'
bad --type --url "$U" --type noop
bad --params --url "$U" --params '{}'
bad --every --url "$U" --every 5x
bad --at --url "$U" --at tomorrow
bad --max-attempts --url "$U" --max-attempts 0
bad --ns --url "$U" --ns 'has space'
bad --frob --url "$U" --frob
bad argument --url "$U" extra-argument
tf http --url "$U" --id 'has space'
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q -- "--id" "$TMP/err"; then
	pass "bad input --id: a space"
else
	fail "bad input --id: a space" "exit $rc: $(cat "$TMP/err")"
fi
# The messages say what is wrong, in the option's terms.
ok=1
for pair in "--url ftp://x/|--url: scheme \"ftp\" is not http or https" \
    "--url https://u:p@x/|--url: holds a user name or password" \
    "--header Host:x|--header: Host is set by the runner" \
    "--method fetch|--method: \"FETCH\" is not one of"; do
	# shellcheck disable=SC2086
	tf http --url "$U" ${pair%%|*}
	if ! grep -qF -- "taskfleet http: ${pair#*|}" "$TMP/err"; then
		miss "message for ${pair%%|*}: got: $(cat "$TMP/err")"
	fi
done
tf http --url "$U" --header $'X-A: b\rc'
if grep -q $'\r' "$TMP/err" || ! grep -qF -- "--header X-A: the value holds a CR or LF" "$TMP/err"; then
	miss "message for a header with CR: got: $(od -c "$TMP/err" | head -5 | tr '\n' ' ')"
fi
verdict "bad input: the messages name the option and say why"
tf --json list
n=$(count_tasks)
if [ "$rc" -eq 0 ] && [ ! -s "$TMP/out" ] && [ "$n" = 0 ]; then
	pass "bad input wrote nothing (list --json empty, the table empty)"
else
	fail "bad input wrote nothing (list --json empty, the table empty)" "list exit $rc: $(cat "$TMP/out"); scan count $n"
fi

# ---- a POST: two headers and a JSON body become exactly these params
tf http --url 'https://hooks.example.com/in?src=tf' --method post \
    --header 'X-Signature:   abc123  ' --header $'Authorization:\tBearer t0k:en' \
    --json-body '{"event": "ping", "n": 12345678901234567890, "f": 0.1000000000000000055511151231257827, "l": [1, null, true], "o": {}}' \
    --timeout 30s --success 200,2xx,300-302 --follow-redirects --max-redirects 3 \
    --result-header ETag --result-header X-Request-Id --max-attempts 4 --ns "hp-$SUFFIX"
ID1=$(cat "$TMP/out")
if [ "$rc" -ne 0 ] || [ -z "$ID1" ]; then
	fail "http POST prints the id" "exit $rc: $(cat "$TMP/err")"
	# The check of that task ends too, with its one line.
	fail "http POST: get --json shows exactly the expected params" "no task: http failed"
else
	pass "http POST prints the id"
	tf get "$ID1" --json
	if [ "$rc" -eq 0 ] && check "d['type'] == 'http' and d['status'] == 'PENDING' and d['ns'] == 'hp-$SUFFIX' and d['max_attempts'] == 4 and d['params'] == {'url': 'https://hooks.example.com/in?src=tf', 'method': 'POST', 'headers': {'X-Signature': 'abc123', 'Authorization': 'Bearer t0k:en'}, 'body': {'event': 'ping', 'n': 12345678901234567890, 'f': D('0.1000000000000000055511151231257827'), 'l': [1, None, True], 'o': {}}, 'timeout_ms': 30000, 'success': [200, '2xx', '300-302'], 'follow_redirects': True, 'max_redirects': 3, 'result_headers': ['ETag', 'X-Request-Id']}" &&
	    grep -qF '"n":12345678901234567890' "$TMP/out"; then
		pass "http POST: get --json shows exactly the expected params"
	else
		fail "http POST: get --json shows exactly the expected params" "exit $rc: $(cat "$TMP/out" "$TMP/err")"
	fi
fi

# ---- the smallest task: the url only; --json output as submit's
tf --json http --url http://127.0.0.1:9/ping
if [ "$rc" -eq 0 ] && check "d['created'] is True and d['type'] == 'http' and d['status'] == 'PENDING' and d['enqueued'] is True" &&
    ID2=$(h json 'd["id"]' <"$TMP/out") && tf get "$ID2" --json &&
    check "d['params'] == {'url': 'http://127.0.0.1:9/ping'}"; then
	pass "http --url only: params {url}, --json result as submit's"
else
	fail "http --url only: params {url}, --json result as submit's" "exit $rc: $(cat "$TMP/out" "$TMP/err")"
fi

# ---- --body @FILE and @-: the file's text as a string, byte for byte
printf 'line one\nline "two"\t\xc3\xa9\n' >"$TMP/body.txt"
tf http --url "$U" --method PUT --body "@$TMP/body.txt" --header 'Content-Type: text/csv'
FID=$(cat "$TMP/out")
"$TF" http --url "$U" --method patch --body @- <"$TMP/body.txt" >"$TMP/out2" 2>"$TMP/err"
SID=$(cat "$TMP/out2")
if tf get "$FID" --json &&
    check "d['params'] == {'url': '$U', 'method': 'PUT', 'headers': {'Content-Type': 'text/csv'}, 'body': 'line one\nline \"two\"\t\u00e9\n'}" &&
    tf get "$SID" --json &&
    check "d['params'] == {'url': '$U', 'method': 'PATCH', 'body': 'line one\nline \"two\"\t\u00e9\n'}"; then
	pass "http --body @FILE and @-"
else
	fail "http --body @FILE and @-" "$(cat "$TMP/out" "$TMP/err")"
fi
tf http --url "$U" --body 'plain text'
BID=$(cat "$TMP/out")
if [ "$rc" -eq 0 ] && tf get "$BID" --json && check "d['params'] == {'url': '$U', 'body': 'plain text'}"; then
	pass "http --body DATA"
else
	fail "http --body DATA" "$(cat "$TMP/out" "$TMP/err")"
fi
tf http --url "$U" --method POST --json-body '"just a string"'
JID=$(cat "$TMP/out")
if [ "$rc" -eq 0 ] && tf get "$JID" --json && check "d['params'] == {'url': '$U', 'method': 'POST', 'body': 'just a string'}"; then
	pass "http --json-body of any JSON type (a string)"
else
	fail "http --json-body of any JSON type (a string)" "$(cat "$TMP/out" "$TMP/err")"
fi

# ---- the submit options: --every, --id (twice), --at
tf --json http --url "$U" --every 1h --max-runs 5 --ns "hr-$SUFFIX"
if [ "$rc" -eq 0 ] && check "d['created'] is True and d['schedule'] == {'every': '1h', 'max_runs': 5} and d['type'] == 'http'" &&
    RID=$(h json 'd["id"]' <"$TMP/out") && tf get "$RID" --json &&
    check "d['schedule']['every'] == '1h' and d['params'] == {'url': '$U'} and d['ns'] == 'hr-$SUFFIX'"; then
	pass "http --every: a recurring http task"
else
	fail "http --every: a recurring http task" "exit $rc: $(cat "$TMP/out" "$TMP/err")"
fi
tf http --url "$U" --id "hid-$SUFFIX" --at +2h --body one
r1=$rc
tf --json http --url "$U" --id "hid-$SUFFIX" --body two
r2=$rc
if [ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] && check "d['created'] is False and d['type'] == 'http'" &&
    grep -q "exists already" "$TMP/err" &&
    tf get "hid-$SUFFIX" --json && check "d['params']['body'] == 'one'"; then
	pass "http --id twice: one task, created false"
else
	fail "http --id twice: one task, created false" "exit $r1/$r2: $(cat "$TMP/out" "$TMP/err")"
fi
# Without an http runner the type cannot be checked: exit 1, nothing written.
mkdir "$TMP/no-http"
cp "$BUILD_DIR/runners/noop.so" "$TMP/no-http/" 2>/dev/null
TASKFLEET_RUNNERS=$TMP/no-http tf http --url "$U" --id "nohttp-$SUFFIX"
r1=$rc
cp "$TMP/err" "$TMP/nohttp-err"
tf get "nohttp-$SUFFIX"
if [ "$r1" -eq 2 ] && [ "$rc" -eq 3 ] && grep -q 'no runner "http" is installed' "$TMP/nohttp-err"; then
	pass "http without the http runner: refused, nothing written"
else
	fail "http without the http runner: refused, nothing written" "http $r1, get $rc: $(cat "$TMP/nohttp-err")"
fi

# ---- submit --type http: the params are checked by the http runner's own
# validate() (the check each delivery makes first), before anything is
# written: exit 2, one line with the runner's message, no task.
j=0
refused() {
	local name=$1 want=$2 params=$3
	j=$((j + 1))
	tf submit --type http --id "sv-$SUFFIX-$j" --params "$params"
	r1=$rc
	cp "$TMP/err" "$TMP/sv-err"
	tf get "sv-$SUFFIX-$j"
	if [ "$r1" -eq 2 ] && [ "$rc" -eq 3 ] && [ "$(wc -l <"$TMP/sv-err")" -eq 1 ] &&
	    grep -qF -- "taskfleet submit: --params: refused by runner \"http\": $want" "$TMP/sv-err"; then
		pass "submit --type http refuses $name: exit 2, the runner's message, nothing written"
	else
		fail "submit --type http refuses $name: exit 2, the runner's message, nothing written" \
		    "submit $r1, get $rc: $(cat "$TMP/sv-err")"
	fi
}
refused "a file:// url" 'params.url: scheme "file" is not http or https' \
    '{"url": "file:///etc/passwd"}'
refused "CR/LF in a header value" 'params.headers.X-A: the value holds a CR or LF' \
    '{"url": "http://127.0.0.1:9/", "headers": {"X-A": "a\r\nInjected: 1"}}'
refused "CR/LF in the method" 'params.method: "GET??X: y" is not one of' \
    '{"url": "http://127.0.0.1:9/", "method": "GET\r\nX: y"}'
refused "a missing url" 'params.url: required' '{"method": "POST"}'
refused "an unknown field" 'params.mehtod: unknown field' \
    '{"url": "http://127.0.0.1:9/", "mehtod": "POST"}'
tf submit --type http --id "sv-$SUFFIX-ok" --params '{"url": "http://127.0.0.1:9/", "method": "post"}'
r1=$rc
tf get "sv-$SUFFIX-ok" --json
if [ "$r1" -eq 0 ] && [ "$rc" -eq 0 ] && check "d['params'] == {'url': 'http://127.0.0.1:9/', 'method': 'post'}"; then
	pass "submit --type http with params the runner accepts: written as given"
else
	fail "submit --type http with params the runner accepts: written as given" "submit $r1, get $rc: $(cat "$TMP/err")"
fi

# ---- clean up what this test created
h ddb DeleteTable "{\"TableName\":\"$NAME\"}" >/dev/null 2>&1
for q in "$NAME" "$NAME-dlq"; do
	u=$(queue_url "$q" 2>/dev/null) && h sqs DeleteQueue "{\"QueueUrl\":\"$u\"}" >/dev/null 2>&1
done

exit "$failed"
