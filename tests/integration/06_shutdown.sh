# SIGTERM: running jobs may finish within shutdown_timeout; after it they
# are asked to stop, and those that fail or do not return go back to
# available with their attempt restored and no error; exit 0.
. tests/lib/common.sh
new_db shutdown
write_config "$TMP/d.ini"
sed -i 's/^\[worker\]$/[worker]\nshutdown_timeout = 1s/' "$TMP/d.ini"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 60000}', 25 FROM generate_series(1, 5)"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 5 FROM river_job WHERE state = 'running'" 10
t0=$(date +%s%N)
stop_daemon
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq 0 "$STOP_RC" "exit 0 after the shutdown timeout"
check "stopped within shutdown_timeout plus a little (${ms}ms)" test "$ms" -lt 3000
check "and not before it (${ms}ms)" test "$ms" -ge 900
assert_eq "5|available|0|0" "$(q "SELECT count(*), min(state::text), max(attempt), count(*) FILTER (WHERE errors IS NOT NULL OR finalized_at IS NOT NULL) FROM river_job")" \
	"unfinished jobs: available, attempt restored, no error"
grep -q 'shutdown timeout: asking running jobs to stop.*jobs=5' "$DAEMON_LOG" && ok "logged" || not_ok "not logged"

# Asked to stop at the timeout, a handler may return an outcome of its own
# (River's soft stop waits for it): here a snooze, written as such.
q "DELETE FROM river_job"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 60000, \"on_stop\": \"snooze\"}', 25 FROM generate_series(1, 3)"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 3 FROM river_job WHERE state = 'running'" 10
stop_daemon
assert_eq 0 "$STOP_RC" "exit 0"
assert_eq "3|scheduled|0|1" "$(q "SELECT count(*), min(state::text), max(attempt), min(metadata->>'snoozes') FROM river_job")" \
	"handlers that snooze when asked to stop: snoozed (attempt restored, snoozes 1), not put back"

# Short jobs finish during the grace period and are recorded.
q "DELETE FROM river_job"
sed -i 's/^shutdown_timeout = .*/shutdown_timeout = 20s/' "$TMP/d.ini"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 700}', 25 FROM generate_series(1, 5)"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 5 FROM river_job WHERE state = 'running'" 10
stop_daemon
assert_eq 0 "$STOP_RC" "exit 0"
assert_eq "5|completed" "$(q "SELECT count(*), min(state::text) FROM river_job WHERE state = 'completed'")" \
	"jobs running at SIGTERM complete within the grace period"

# A second signal stops waiting.
q "DELETE FROM river_job"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 60000}', 25 FROM generate_series(1, 3)"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 3 FROM river_job WHERE state = 'running'" 10
kill -INT "$DAEMON_PID"; sleep 0.2
stop_daemon "$DAEMON_PID" INT
assert_eq 0 "$STOP_RC" "second SIGINT: exit 0 at once"
assert_eq "3|available" "$(q "SELECT count(*), min(state::text) FROM river_job WHERE attempt = 0")" "jobs put back"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
