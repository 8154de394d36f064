# /metrics in Prometheus text format with counters matching the jobs worked
# and no args in any label; /healthz 200 only when connected.
. tests/lib/common.sh
new_db metrics
PORT=$(free_port)
maint_config "$TMP/d.ini" worker-a
printf '[metrics]\nlisten = 127.0.0.1:%s\n' "$PORT" >>"$TMP/d.ini"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', '{\"secret\":\"ARG_MARKER\"}', 25 FROM generate_series(1, 37)"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.fail', '{\"message\":\"ARG_MARKER\"}', 1 FROM generate_series(1, 5)"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'nobody.k' || i, '{}', 1 FROM generate_series(1, 3) i"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 45 FROM river_job WHERE state IN ('completed', 'discarded')" 10
sleep 0.5
curl -sf "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics.txt"; rc=$?
assert_eq 0 "$rc" "GET /metrics"
check "parses as Prometheus text format" tests/lib/promcheck "$TMP/metrics.txt"
assert_eq 37 "$(awk '$1 == "sluice_jobs_total{kind=\"demo.noop\",queue=\"default\",outcome=\"completed\"}" {print $2}' "$TMP/metrics.txt")" \
	"jobs_total counts completed jobs"
assert_eq 5 "$(awk '$1 == "sluice_jobs_total{kind=\"demo.fail\",queue=\"default\",outcome=\"errored\"}" {print $2}' "$TMP/metrics.txt")" \
	"and errored ones"
assert_eq 37 "$(awk '$1 == "sluice_job_duration_seconds_count{kind=\"demo.noop\"}" {print $2}' "$TMP/metrics.txt")" \
	"duration histogram count"
for m in sluice_fetch_duration_seconds_count sluice_complete_duration_seconds_count sluice_jobs_in_flight \
	sluice_db_connected sluice_db_reconnects_total sluice_leader sluice_decrypt_failures_total sluice_up; do
	grep -q "^$m\|^# TYPE $m " "$TMP/metrics.txt" && ok "exports $m" || not_ok "missing $m"
done
# Drained queues report 0 rather than vanishing (sampled every 10 s).
check "queue depth sampled by the leader, 0 once drained" bash -c "for i in \$(seq 50); do curl -s http://127.0.0.1:$PORT/metrics | grep -qx 'sluice_queue_depth{queue=\"default\",state=\"available\"} 0' && exit 0; sleep 0.5; done; exit 1"
assert_eq 3 "$(awk '$1 ~ /^sluice_jobs_total\{kind="unknown",/ {n += $2} END {print n + 0}' "$TMP/metrics.txt")" \
	"kinds no plugin handles are counted as kind=unknown"
check "and add no series of their own" test "$(grep -c 'nobody\.k' "$TMP/metrics.txt")" = 0
check "no args in any label or value" test "$(grep -c ARG_MARKER "$TMP/metrics.txt")" = 0
assert_eq "ok" "$(curl -sf "http://127.0.0.1:$PORT/healthz")" "/healthz 200 when connected"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" "unknown path 404"
stop_daemon

# Not connected: 503, with a reason.
PORT2=$(free_port)
cat >"$TMP/down.ini" <<INI
[database]
url = postgresql:///nope?host=$TMP/nowhere
[metrics]
listen = 127.0.0.1:$PORT2
INI
env -u DATABASE_URL "$B/sluiced" -c "$TMP/down.ini" 2>"$TMP/down.log" &
DP=$!; DAEMON_PIDS+=("$DP")
sleep 1
assert_eq 503 "$(curl -s -o "$TMP/h.txt" -w '%{http_code}' "http://127.0.0.1:$PORT2/healthz")" \
	"/healthz 503 while the database is unreachable"
assert_eq "unhealthy: starting" "$(cat "$TMP/h.txt")" "with a reason"
grep -q 'database connection failed' "$TMP/down.log" && ok "and the failure is logged" || not_ok "failure not logged"
# The port is taken now: a second daemon refuses to start.
out=$(env -u DATABASE_URL timeout 10 "$B/sluiced" -c "$TMP/down.ini" 2>&1); rc=$?
assert_eq 78 "$rc" "metrics port in use: exit 78"
assert_match "\[metrics\] listen: cannot listen on 127.0.0.1:$PORT2: address already in use" "$out" "with the reason"
stop_daemon "$DP"
assert_eq 0 "$STOP_RC" "stops cleanly even never connected"
finish
