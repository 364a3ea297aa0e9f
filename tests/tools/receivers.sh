# receivers.sh - local webhook receivers (tests/tools/webhook_receiver.py)
# for end-to-end scripts, sourced after e2e.sh (it uses E2E_DIR, PY, TF_ROOT,
# wait_until, fail, kill_consumers):
#   start_receiver ADDR   listens on a free port of ADDR (127.0.0.0/8 only),
#                         logging to $E2E_DIR/requests-<ADDR's last byte>.jsonl,
#                         and sets PORT_<ADDR's last byte>;
#   receivers_cleanup     stops the consumers and the receivers (an EXIT trap).
RECEIVER=$TF_ROOT/tests/tools/webhook_receiver.py
receiver_pids=()
start_receiver() {
	local addr=$1 n=${1##*.}
	"$PY" "$RECEIVER" --bind "$addr" --port-file "$E2E_DIR/port-$n" \
	    --log "$E2E_DIR/requests-$n.jsonl" 2>>"$E2E_DIR/receiver.log" &
	receiver_pids+=($!)
	wait_until 10 test -s "$E2E_DIR/port-$n" || { fail receiver-listens "$addr: no port"; exit 1; }
	eval "PORT_$n=\$(cat \"\$E2E_DIR/port-$n\")"
}
receivers_cleanup() {
	kill_consumers
	kill "${receiver_pids[@]}" 2>/dev/null
}
