# River's reindexer: the leader rebuilds River's job indexes on
# [maintenance] reindex_schedule with REINDEX INDEX CONCURRENTLY, on a
# connection of its own, while jobs are worked; an index with artifacts of
# an unfinished rebuild is skipped with a warning, as River does.
. tests/lib/common.sh
new_db reindex
IDX="'river_job_args_index','river_job_kind','river_job_metadata_index','river_job_pkey',
     'river_job_prioritized_fetching_index','river_job_state_and_finalized_at_index','river_job_unique_idx'"
filenodes() { q "SELECT string_agg(relname || '=' || pg_relation_filenode(oid), ' ' ORDER BY relname) FROM pg_class WHERE relkind = 'i' AND relname IN ($IDX)"; }
q "INSERT INTO river_job (kind, args, max_attempts, state, finalized_at)
   SELECT 'demo.noop', jsonb_build_object('i', i), 25, 'completed', now() FROM generate_series(1, 2000) i" >/dev/null
q "CREATE INDEX river_job_kind_ccnew ON river_job (kind)"
before=$(filenodes)
assert_eq 7 "$(wc -w <<<"$before")" "River's seven job indexes exist"

bad() { # value message
	maint_config "$TMP/bad.ini" worker-x "reindex_schedule = $1"
	out=$("$B/sluiced" --check-config -c "$TMP/bad.ini" 2>&1); rc=$?
	assert_eq 78 "$rc" "reindex_schedule = $1: exit 78"
	assert_match "bad.ini:[0-9]+: \[maintenance\] reindex_schedule: $2" "$out" "reindex_schedule = $1: message"
}
bad "sometimes" ".*\(or off\)"
bad "@daily now" "unexpected text after the schedule: now"
maint_config "$TMP/off.ini" worker-x "reindex_schedule = off"
check "reindex_schedule = off is accepted" "$B/sluiced" --check-config -c "$TMP/off.ini"

maint_config "$TMP/a.ini" worker-a "reindex_schedule = @every 2s" "reindex_timeout = 30s"
maint_config "$TMP/b.ini" worker-b "reindex_schedule = @every 2s"
start_daemon "$TMP/a.ini" "$TMP/a.log" || finish; A=$DAEMON_PID
start_daemon "$TMP/b.ini" "$TMP/b.log" || finish; B_=$DAEMON_PID
check "a leader is elected" wait_for "SELECT count(*) = 1 FROM river_leader" 10
L=$(q "SELECT leader_id FROM river_leader")
if [ "$L" = worker-a ]; then LL=$TMP/a.log; OL=$TMP/b.log; else LL=$TMP/b.log; OL=$TMP/a.log; fi
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', '{}', 25 FROM generate_series(1, 500)" >/dev/null
check "the leader rebuilds the six indexes without artifacts" wait_lines "$LL" 'msg=reindexed ' 6 20
check "jobs are worked meanwhile" wait_for "SELECT count(*) = 0 FROM river_job WHERE state <> 'completed'" 20
after=$(filenodes)
changed=$(join -v1 <(tr ' ' '\n' <<<"$before" | sort) <(tr ' ' '\n' <<<"$after" | sort) | cut -d= -f1 | tr '\n' ' ')
assert_eq "river_job_args_index river_job_metadata_index river_job_pkey river_job_prioritized_fetching_index river_job_state_and_finalized_at_index river_job_unique_idx " \
	"$changed" "each index but river_job_kind is a new one (its file changed)"
check "river_job_kind skipped, its artifact named" grep -q 'reindex artifacts of an earlier rebuild found; skipping the index.*index=river_job_kind .*artifacts=river_job_kind_ccnew' "$LL"
assert_eq 0 "$(grep -c 'msg=reindexed ' "$OL")" "the other daemon does not reindex"
check "on a connection of its own, closed after the run" \
	wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'REINDEX%'" 10
stop_daemon "$A"; assert_eq 0 "$STOP_RC" "daemon a exits 0"
stop_daemon "$B_"; assert_eq 0 "$STOP_RC" "daemon b exits 0"

# reindex_timeout is the rebuild's statement_timeout. A transaction that
# wrote to river_job and stays open holds every rebuild up; the one that
# times out leaves its artifact (<index>_ccnew, invalid), and later runs
# skip that index, as River's do, rather than time out again.
maint_config "$TMP/c.ini" worker-c "reindex_schedule = @every 2s" "reindex_timeout = 1s"
q "DROP INDEX river_job_kind_ccnew"
psql -XAtq -d "$DB" -c "BEGIN; UPDATE river_job SET priority = priority WHERE id = 1; SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
holder=$!
start_daemon "$TMP/c.ini" "$TMP/c.log" || finish
check "a rebuild held up past reindex_timeout fails, saying why" \
	wait_lines "$TMP/c.log" 'msg="reindex failed" index=river_job_args_index err="canceling statement due to statement timeout (SQLSTATE 57014)"' 1 15
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$holder"
check "the next index is rebuilt once the transaction is gone" wait_lines "$TMP/c.log" 'msg=reindexed index=river_job_kind ' 1 10
check "the artifact is skipped by the next run" \
	wait_lines "$TMP/c.log" 'index=river_job_args_index artifacts=river_job_args_index_ccnew' 1 10
assert_eq 1 "$(q "SELECT count(*) FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = 'river_job_args_index_ccnew' AND NOT i.indisvalid")" \
	"the artifact is the invalid index PostgreSQL left"
stop_daemon; assert_eq 0 "$STOP_RC" "daemon c exits 0"

# A reload (SIGHUP) takes a new reindex_schedule at once.
q "DROP INDEX river_job_args_index_ccnew"
maint_config "$TMP/d.ini" worker-d "reindex_schedule = off"
start_daemon "$TMP/d.ini" "$TMP/d.log" || finish
check "a leader is elected (d)" wait_for "SELECT leader_id = 'worker-d' FROM river_leader" 10
sleep 1.5
assert_eq 0 "$(grep -c 'msg="reindexing River' "$TMP/d.log")" "reindex_schedule = off: no run"
sed -i 's/^reindex_schedule = off$/reindex_schedule = @every 1s/' "$TMP/d.ini"
kill -HUP "$DAEMON_PID"
check "after a reload with a schedule, it runs" wait_lines "$TMP/d.log" 'msg=reindexed index=river_job_unique_idx ' 1 10
stop_daemon; assert_eq 0 "$STOP_RC" "daemon d exits 0"
# A run whose connection is refused gives up at its deadline (a minute) or
# when the next run is due, whichever comes first; that run starts afresh
# rather than being skipped behind one that never connected. The limit is
# a role's CONNECTION LIMIT (superusers have none): the daemon's own
# connections fit in it, the reindexer's is one too many.
R=sluice_reindex_$$
q "SET client_min_messages = warning; DROP ROLE IF EXISTS $R; CREATE ROLE $R LOGIN IN ROLE postgres"
maint_config "$TMP/e.ini" worker-e "reindex_schedule = off"
DATABASE_URL=${DATABASE_URL/user=postgres/user=$R} start_daemon "$TMP/e.ini" "$TMP/e.log" || finish
check "a leader is elected (e)" wait_for "SELECT leader_id = 'worker-e' FROM river_leader" 10
sleep 1
conns=$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = '$R'")
check "the daemon connects as the role" test "$conns" -gt 0
q "ALTER ROLE $R CONNECTION LIMIT $conns"
sed -i 's/^reindex_schedule = off$/reindex_schedule = @every 2s/' "$TMP/e.ini"
kill -HUP "$DAEMON_PID"
check "a refused reindex connection is given up when the next run is due" \
	wait_lines "$TMP/e.log" 'msg="reindexer cannot connect; next run as scheduled"' 2 10
check "the connection was refused by the role's limit" \
	grep -q 'conn=reindex .*too many connections for role' "$TMP/e.log"
assert_eq 0 "$(grep -c 'still in progress' "$TMP/e.log")" "no run is skipped behind one that never connected"
q "ALTER ROLE $R CONNECTION LIMIT -1"
check "once connections are allowed, the next run rebuilds" wait_lines "$TMP/e.log" 'msg=reindexed index=river_job_unique_idx ' 1 10
stop_daemon; assert_eq 0 "$STOP_RC" "daemon e exits 0"
q "SET client_min_messages = warning; DROP ROLE $R"
for l in a b c d e; do check "no sanitizer reports ($l)" no_sanitizer_reports "$TMP/$l.log"; done
finish
