#!/usr/bin/env bash
# tests/scripts/cli_targets.sh - `taskfleet sns|lambda|events|sfn`, the AWS
# targets' shorthands (docs/targets.md), end to end: the real binary against
# the local stand-ins (`sqs` is driven by engine_targets_sqs.sh).
#
# Checks that each command's options become exactly the expected params and
# type (read back with `taskfleet get --json`), and that bad input exits 2
# with one line naming the option and writes nothing. The params are checked
# by tf_target_parse(), the runners' own check.
#
# Needs what tests/run exports: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB
# and AWS keys. Prints "PASS name" or "FAIL name: why"; exits 1 on any failure.
set -u
CLI_PREFIX=cli-targets
# shellcheck source=../tools/cli_common.sh
. "$(dirname "$0")/../tools/cli_common.sh"

tf init
if [ "$rc" -ne 0 ]; then
	fail init "exit $rc: $(cat "$TMP/err")"
	exit 1
fi
pass init

ACCT=123456789012
TOPIC=arn:aws:sns:eu-west-1:$ACCT:alerts.fifo
FN=arn:aws:lambda:us-east-1:$ACCT:function:nightly
SM=arn:aws:states:us-east-1:$ACCT:stateMachine:etl

# made NAME TYPE PARAMS-EXPR -- ARGS...: `taskfleet ARGS` creates a task whose
# type is TYPE and whose params equal PARAMS-EXPR (Python).
made() {
	local name=$1 type=$2 want=$3
	shift 4
	tf "$@" --id "$name-$SUFFIX"
	if [ "$rc" -ne 0 ]; then
		fail "$name" "exit $rc: $(cat "$TMP/err")"
		return
	fi
	tf get "$name-$SUFFIX" --json
	if [ "$rc" -eq 0 ] && check "d['type'] == '$type' and d['params'] == $want"; then
		pass "$name"
	else
		fail "$name" "exit $rc: $(cat "$TMP/out" "$TMP/err")"
	fi
}

made sns-params sns "{'topic_arn': '$TOPIC', 'message': {'id': '<taskfleet.task-id>'}, 'subject': 's', 'attributes': {'kind': 'x'}, 'message_group_id': 'g'}" -- \
    sns --topic-arn "$TOPIC" --json-message '{"id": "<taskfleet.task-id>"}' --subject s \
    --attribute kind=x --group-id g
made lambda-params lambda "{'function': '$FN', 'qualifier': 'live', 'payload': {'at': '<taskfleet.scheduled-time>'}, 'invocation_type': 'Event', 'handled_error': 'retry', 'region': 'us-east-1'}" -- \
    lambda --function "$FN" --qualifier live --payload '{"at": "<taskfleet.scheduled-time>"}' \
    --async --retry-handled --region us-east-1
made events-params eventbridge "{'event_bus': 'ops', 'source': 'app.jobs', 'detail_type': 'tick', 'detail': {'n': '<taskfleet.iteration>'}, 'resources': ['$FN', '$SM']}" -- \
    events --bus ops --source app.jobs --detail-type tick --detail '{"n": "<taskfleet.iteration>"}' \
    --resource "$FN" --resource "$SM"
made sfn-params stepfunctions "{'state_machine_arn': '$SM', 'input': {'day': '<taskfleet.scheduled-time>'}}" -- \
    sfn --state-machine-arn "$SM" --input '{"day": "<taskfleet.scheduled-time>"}'
ROLE=arn:aws:iam::210987654321:role/publisher
made role-params stepfunctions "{'state_machine_arn': '$SM', 'role_arn': '$ROLE', 'external_id': 'team-7'}" -- \
    sfn --state-machine-arn "$SM" --role-arn "$ROLE" --external-id team-7

# bad OPTION ARGS...: exit 2, one line on stderr naming OPTION, nothing
# written.
i=0
bad() {
	local opt=$1 name
	shift
	i=$((i + 1))
	name="bad input $opt: $(printf '%q ' "$@")"
	tf "$@" --id "bad-$SUFFIX-$i"
	if [ "$rc" -ne 2 ] || [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$opt" "$TMP/err"; then
		fail "$name" "exit $rc, want 2 and one line naming $opt: $(cat "$TMP/err")"
		return
	fi
	tf get "bad-$SUFFIX-$i"
	if [ "$rc" -ne 3 ]; then
		fail "$name" "the task was written (get: exit $rc)"
		return
	fi
	pass "$name"
}
bad --topic-arn sns --topic-arn arn:aws:sqs:us-east-1:$ACCT:q --message m
bad --role-arn sfn --state-machine-arn "$SM" --role-arn arn:aws:s3:::bucket
bad --external-id sfn --state-machine-arn "$SM" --external-id team-7
bad --dedup-id sns --topic-arn arn:aws:sns:us-east-1:$ACCT:plain --message m --dedup-id d
bad --json-message sns --topic-arn "$TOPIC" --json-message '{"x": "<taskfleet.nope>"}'
bad --function lambda --function 'bad name!'
bad --function lambda
bad --source events --detail-type t
bad --source events --source aws.ec2 --detail-type t
bad --detail events --source a --detail-type t --detail '[1]'
bad --input sfn --state-machine-arn "$SM" --input '{"try": "<taskfleet.attempt>"}'
bad --state-machine-arn sfn --state-machine-arn "$FN"
bad --type sfn --state-machine-arn "$SM" --type http

# Every `taskfleet` command in docs/targets.md's sh blocks makes its task
# against the stand-ins: exit 0, of the type its shorthand names.
n=0
while IFS= read -r -d '' cmd; do
	n=$((n + 1))
	eval "set -- ${cmd#taskfleet }"
	case $1 in
	events) want=eventbridge ;;
	sfn) want=stepfunctions ;;
	submit) want=$3 ;;  # submit --type T
	*) want=$1 ;;
	esac
	tf "$@" --id "doc-$n-$SUFFIX"
	if [ "$rc" -eq 0 ] && tf get "doc-$n-$SUFFIX" --json && check "d['type'] == '$want'"; then
		pass "docs-example-$n-$1"
	else
		fail "docs-example-$n-$1" "exit $rc: $cmd: $(cat "$TMP/err")"
	fi
done < <("$PY" - "$(dirname "$0")/../../docs/targets.md" <<'EOF'
import re, sys
for block in re.findall(r"```sh\n(.*?)```", open(sys.argv[1]).read(), re.S):
    cmds = []
    for line in block.splitlines():
        if line.startswith("taskfleet "):
            cmds.append(line)
        elif cmds:
            cmds[-1] += "\n" + line
    for c in cmds:
        sys.stdout.write(c.replace("\\\n", " ") + "\0")
EOF
)

for q in "$NAME" "$NAME-dlq"; do
	u=$(queue_url "$q" 2>/dev/null) && h sqs DeleteQueue "{\"QueueUrl\":\"$u\"}" >/dev/null 2>&1
done

exit "$failed"
