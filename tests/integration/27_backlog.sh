# Outcome backlog: when the database stops taking outcomes, fetching stops
# at COMPLETE_BACKLOG_WAIT (10,000) unwritten ones instead of fetching every
# available job into memory; once outcomes are written again, all finish.
. tests/lib/common.sh
new_db backlog
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/; s/^\[worker\]$/[worker]\nqueues = default=2000/' "$TMP/d.ini"
# The blocker: its outcome waits on a row lock held here, and every batch
# after it waits behind it (one completion statement in flight). It runs
# long enough for the lock to be taken first on a loaded machine (with
# 300 ms, once under ASan, it had finished before).
blocker=$(insert_job demo.sleep '{"ms": 2000}')
start_daemon "$TMP/d.ini" || finish
check "blocker running" wait_for "SELECT state = 'running' FROM river_job WHERE id = $blocker" 10
coproc LOCKER { psql -XAtq -v ON_ERROR_STOP=1 -d "$DB"; }
locker_pid=$LOCKER_PID # bash unsets LOCKER_PID once psql has exited
printf 'BEGIN;\nSELECT id FROM river_job WHERE id = %s FOR UPDATE;\n' "$blocker" >&"${LOCKER[1]}"
read -r -t 10 -u "${LOCKER[0]}" locked
assert_eq "$blocker" "${locked:-}" "row lock taken"
check "the blocker's outcome waits on the lock" wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH input AS%')" 10
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', jsonb_build_object('i', i), 25 FROM generate_series(1, 40000) i"
# Without the limit all 40,000 would be fetched (running) within seconds.
sleep 4
read -r running available < <(q "SELECT count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'available') FROM river_job" | tr '|' ' ')
echo "  (while outcomes are blocked: $running running, $available available)"
check "fetching stopped near the backlog limit (running $running <= 10,000 + 2,000 slots + one batch)" \
	test "$running" -le 14000
check "jobs left available while blocked ($available)" test "$available" -ge 26000
printf 'COMMIT;\n' >&"${LOCKER[1]}"
exec {LOCKER[1]}>&-
wait "$locker_pid"
check "all finish once outcomes are written again" wait_for "SELECT count(*) = 40001 FROM river_job WHERE state = 'completed'" 120
assert_eq "1|1" "$(q "SELECT min(attempt), max(attempt) FROM river_job")" "each worked exactly once"
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
finish
