# Lost connections: PostgreSQL restarted, or the daemon's backends killed,
# while jobs run. The daemon reconnects and every job ends; outcomes finished
# during the outage are written afterwards.
. tests/lib/common.sh
new_db reconnect
write_config "$TMP/d.ini"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 1500}', 25 FROM generate_series(1, 20)"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 20 FROM river_job WHERE state = 'running'" 10
pg_restart || fatal "pg_ctl restart failed"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', '{}', 25 FROM generate_series(1, 50)"
check "all 70 jobs completed after a PostgreSQL restart" \
	wait_for "SELECT count(*) = 70 FROM river_job WHERE state = 'completed'" 40
grep -q 'msg="database connection lost"' "$DAEMON_LOG" && ok "loss logged" || not_ok "loss not logged"
grep -q 'msg="database reconnected" conn=fetch' "$DAEMON_LOG" && ok "fetch connection back" || not_ok "no reconnect logged"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE attempt <> 1")" "no job ran twice"

q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 1000}', 25 FROM generate_series(1, 10)"
wait_for "SELECT count(*) = 10 FROM river_job WHERE state = 'running'" 10
q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sluiced'" >/dev/null
check "all jobs completed after pg_terminate_backend" \
	wait_for "SELECT count(*) = 80 FROM river_job WHERE state = 'completed'" 40
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
