#!/usr/bin/env bash
# engine_http_tls.sh - the http runner on the consumer's loop over HTTPS:
# webhooks to one origin make one full TLS handshake, and every other
# connection resumes its session (runners/http/client.c: the first
# connection's session is cached and shared, each connection resumes a copy
# of it, and new connections wait for it), with every request verified
# against the test's own CA (TASKFLEET_HTTP_CA_BUNDLE).
# Every target is on 127.0.0.0/8.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init httptls

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$E2E_DIR/key.pem" -out "$E2E_DIR/cert.pem" -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >"$E2E_DIR/openssl.log" 2>&1
# tls_receiver NAME: an HTTPS receiver with the test's certificate; its port
# in $E2E_DIR/port-NAME, its requests in $E2E_DIR/requests-NAME.jsonl.
tls_receiver() {
	"$PY" "$TF_ROOT/tests/tools/webhook_receiver.py" --bind 127.0.0.1 \
	    --port-file "$E2E_DIR/port-$1" --log "$E2E_DIR/requests-$1.jsonl" \
	    --tls-cert "$E2E_DIR/cert.pem" --tls-key "$E2E_DIR/key.pem" \
	    2>>"$E2E_DIR/receiver.log" &
	receiver_pids+=($!)
	wait_until 10 test -s "$E2E_DIR/port-$1" || { fail "httptls-receiver-$1" "no port"; exit 1; }
}
tls_receiver tls
URL=https://127.0.0.1:$(cat "$E2E_DIR/port-tls")

count_completed() {
	$TFCHECK scan "$E2E_NAME" | "$PY" -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l)["status"] == "COMPLETED"))'
}
all_completed() { [ "$(count_completed)" -eq "$1" ]; }

# 40 webhooks that answer after 1 s, all due now: each on a connection of
# its own (none is free while they wait), so 40 TLS handshakes.
N=40
for i in $(seq 1 $N); do
	tf_cli http --id "tls-$i" --url "$URL/sleep/1000?n=$i" >/dev/null
done
TASKFLEET_HTTP_ALLOW=127.0.0.1 TASKFLEET_HTTP_CA_BUNDLE=$E2E_DIR/cert.pem \
    start_consumer t1 --concurrency 64
ok=1
wait_until 60 all_completed $N || miss "completed: $(count_completed) of $N"
verdict "httptls-webhooks-complete"
# From the receiver's side: connections, and how many of them made a full
# handshake (did not resume a session).
read -r n_req conns full <<<"$("$PY" - "$E2E_DIR/requests-tls.jsonl" <<'EOF2'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
first = {}
for r in reqs:
    first.setdefault(r["conn"], r)
print(len(reqs), len(first), sum(1 for r in first.values() if not r.get("tls_resumed")))
EOF2
)"
ok=1
[ "$n_req" -eq $N ] || miss "$n_req requests for $N webhooks"
[ "$conns" -ge 20 ] || miss "only $conns connections: the test needs many at once"
verdict "httptls-one-connection-per-webhook-in-flight"
ok=1
# One full handshake; a second is tolerated for a machine so loaded that
# the first took longer than the ramp's wait (1 s).
[ "$full" -ge 1 ] && [ "$full" -le 2 ] || miss "$full full TLS handshakes for $conns connections"
verdict "httptls-sessions-resumed"

# The CA file is read once: libcurl keeps the certificate store it built
# (CURLOPT_CA_CACHE_TIMEOUT) once no CA directory is set beside the file
# (runners/http/exchange.c). With the file gone, 10 webhooks to a second
# receiver (new connections, a new origin) still verify and complete; had
# each new connection read the file again, they would fail.
tls_receiver tls2
mv "$E2E_DIR/cert.pem" "$E2E_DIR/cert-moved.pem"
M=10
for i in $(seq 1 $M); do
	tf_cli http --id "tls2-$i" --url "https://127.0.0.1:$(cat "$E2E_DIR/port-tls2")/hook?n=$i" >/dev/null
done
ok=1
wait_until 60 all_completed $((N + M)) || miss "completed: $(count_completed) of $((N + M))"
bad=$(grep '"run finished' "$E2E_DIR/t1.log" | grep -vc '"outcome":"completed"')
[ "$bad" -eq 0 ] || miss "$bad runs did not complete: $(grep -m1 '"run finished:' "$E2E_DIR/t1.log")"
verdict "httptls-ca-file-read-once"
check "httptls-consumer-exit-0" stop_consumers
exit $e2e_failed
