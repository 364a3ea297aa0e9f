#!/usr/bin/env bash
# engine_custom_runner.sh - a runner written outside the tree, exactly as
# runners/README.md tells authors (one cc line against the public header;
# runner_out_of_tree.sh checks that the installed header is this one), is
# loaded and run by the consumer: the task completes and the runner's result
# document lands in the item; its validate() refuses params before submit
# writes anything. The guide's own submit line, as a reader types it in the
# directory where hello.so was built, submits a task that completes.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init custom

mkdir -p "$E2E_DIR/src"
cp "$TF_ROOT/runners/example/hello.c" "$E2E_DIR/src/"
(cd "$E2E_DIR/src" && cc -shared -fPIC -fvisibility=hidden -I"$TF_ROOT/include" \
    -o hello.so hello.c) >"$E2E_DIR/cc.log" 2>&1
check "custom-runner-builds-out-of-tree" test -f "$E2E_DIR/src/hello.so"

export TASKFLEET_RUNNERS=$TASKFLEET_RUNNERS:$E2E_DIR/src/hello.so
start_consumer k1 --concurrency 2
tf_cli submit --type hello --id hello-1 >/dev/null
done_() { $TFCHECK scan "$E2E_NAME" | grep '"id": "hello-1"' | grep -q '"status": "COMPLETED"'; }
check "custom-runner-task-completed" wait_until 20 done_
check "custom-runner-result-stored" sh -c "$TFCHECK scan $E2E_NAME | grep '\"id\": \"hello-1\"' | grep -q '\"greeting\": \"hello\"'"
check "custom-runner-logged-with-task-id" grep -q '"msg":"hello, task hello-1 (attempt 1)","task":"hello-1","runner":"hello"' "$E2E_DIR/k1.log"
# Its validate() (the example shows the entry) is asked before writing.
"$TASKFLEET" submit --type hello --id hello-2 --params '{"x": 1}' >/dev/null 2>"$E2E_DIR/submit.err"
check "custom-runner-validate-refuses" test "$?" -eq 2
check "custom-runner-validate-message" grep -q 'params: refused by runner "hello": hello takes no params' "$E2E_DIR/submit.err"
check "custom-runner-validate-wrote-nothing" sh -c "! $TFCHECK scan $E2E_NAME | grep -q '\"id\": \"hello-2\"'"
# runners/README.md's submit line, word for word, run where hello.so was
# built (so its $PWD is that directory) with taskfleet on the PATH and the
# runner set a reader has without it: the line itself must name hello.so.
readme_submit=$(sed -n 's/^    \(.*taskfleet submit --type hello\)$/\1/p' "$TF_ROOT/runners/README.md")
mkdir -p "$E2E_DIR/bin"
ln -sf "$TASKFLEET" "$E2E_DIR/bin/taskfleet"
readme_id=$(cd "$E2E_DIR/src" && PATH="$E2E_DIR/bin:$PATH" \
    TASKFLEET_RUNNERS=$TF_BUILD/runners sh -c "$readme_submit" 2>"$E2E_DIR/readme-submit.err")
readme_status=$?
check "custom-runner-readme-submit-line-exit-0" test -n "$readme_submit" -a "$readme_status" -eq 0 -a -n "$readme_id"
readme_done() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$readme_id\"" | grep -q '"status": "COMPLETED"'; }
check "custom-runner-readme-submit-line-completes" wait_until 20 readme_done
check "custom-runner-consumer-exit-0" stop_consumers
exit $e2e_failed
