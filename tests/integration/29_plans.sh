# Plans: the fetch and completion statements find their rows by primary key,
# whatever the statistics say, and the daemon plans each run afresh.
# River's join of the locked rows with the table lets PostgreSQL hash the
# whole table on every fetch: with good statistics up to ~100k rows, and
# with a plan cached while the table was small, at any size (seen: a seq
# scan of 600k rows per fetch, 4k instead of 20k jobs/s under continuous
# inserts). With statistics taken while no job was running, the completion
# read every running row per statement.
. tests/lib/common.sh
new_db plans
fetch=$("$B/tests/tools/sql-text" fetch) || fatal "sql-text"
complete=$("$B/tests/tools/sql-text" complete) || fatal "sql-text"

# The statements, as PostgreSQL plans them for 20,000 queued jobs with
# fresh statistics...
plan=$(psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" <<SQL
INSERT INTO river_job (kind, args, max_attempts)
  SELECT 'demo.noop', jsonb_build_object('i', i), 25 FROM generate_series(1, 20000) i;
VACUUM ANALYZE river_job;
PREPARE f AS $fetch;
EXPLAIN EXECUTE f('default', 1000, 'w');
SQL
) || fatal "explain fetch"
check "fetch: no scan of the whole table" bash -c '! grep -q "Seq Scan on river_job" <<<"$1"' _ "$plan"
check "fetch: locked rows updated through the primary key" grep -q "river_job_pkey" <<<"$plan"
# ...and the completion with those statistics (no job running) once all are.
plan=$(psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" <<SQL
UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now();
PREPARE c AS $complete;
EXPLAIN EXECUTE c('[{"id": 5, "fa": 1, "state": "completed", "finalized_at": "2026-01-01T00:00:00Z"}]');
SQL
) || fatal "explain completion"
check "completion: rows found through the primary key" grep -q "river_job_pkey" <<<"$plan"
check "completion: not every running row through the fetching index" bash -c '! grep -q "river_job_prioritized_fetching_index" <<<"$1"' _ "$plan"
check "completion: no scan of the whole table" bash -c '! grep -q "Seq Scan on river_job" <<<"$1"' _ "$plan"

# The daemon: it polls an empty table every 200 ms (a generic plan would be
# cached by now), then 20,000 jobs come. Its sessions log every plan
# (auto_explain, this database only) to the server's log.
q "TRUNCATE river_job"
q "ALTER DATABASE $DB SET session_preload_libraries = 'auto_explain'"
q "ALTER DATABASE $DB SET auto_explain.log_min_duration = 0"
q "ALTER DATABASE $DB SET auto_explain.log_analyze = on"
q "ALTER DATABASE $DB SET auto_explain.log_timing = off"
q "ALTER DATABASE $DB SET log_min_messages = log"
LOGF=$PG_DIR/server.log
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/' "$TMP/d.ini"
start_daemon "$TMP/d.ini" || finish
sleep 2
mark=$(($(stat -c %s "$LOGF") + 1))
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', jsonb_build_object('i', i), 25 FROM generate_series(1, 20000) i"
check "all 20,000 worked" wait_for "SELECT count(*) = 20000 FROM river_job WHERE state = 'completed'" 120
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
# The plans of the fetches that got jobs, one block per statement (a poll
# planned over the empty table just before the jobs came is not one).
tail -c +"$mark" "$LOGF" | awk '
	function flush() { if (fetch && got) printf "%s", blk; blk = ""; fetch = got = 0 }
	/LOG:  duration: / { flush() }
	/WITH locked_jobs/ { fetch = 1 }
	/Update on river_job .*actual rows=[1-9]/ { got = 1 }
	{ blk = blk $0 "\n" }
	END { flush() }' >"$TMP/fetch-plans.log"
nplans=$(grep -c 'LOG:  duration: ' "$TMP/fetch-plans.log")
check "fetch plans logged during the burst ($nplans)" test "$nplans" -gt 0
check "no fetch plan scans the whole table" bash -c '! grep -q "Seq Scan on river_job" "$1"' _ "$TMP/fetch-plans.log"
check "each fetch planned for its parameters (no generic plan)" bash -c '! grep -q "Cond: .*queue = \$1" "$1"' _ "$TMP/fetch-plans.log"
check "the queue is a constant in the plans" grep -qF "queue = 'default'::text" "$TMP/fetch-plans.log"
finish
