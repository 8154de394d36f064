# A pause by NOTIFY that commits while a river_queue poll is in flight is
# not undone by that poll's reply (its row was read before the pause): the
# poll after it, sent later, is what settles the queue's state.
. tests/lib/common.sh
new_db pauserace
write_config "$TMP/d.ini"
start_daemon "$TMP/d.ini" || finish
check "queue reported in river_queue" wait_for "SELECT count(*) = 1 FROM river_queue WHERE name = 'default'" 5

# From here every read of river_queue takes a second: a poll's snapshot is
# taken, the pause commits and is notified, then the poll's reply comes.
q "ALTER TABLE river_queue RENAME TO river_queue_t;
   CREATE FUNCTION slow_read() RETURNS boolean LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(1); RETURN true; END \$\$;
   CREATE VIEW river_queue AS SELECT * FROM river_queue_t WHERE slow_read()"
in_poll="SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
         AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'SELECT name, paused_at IS NOT NULL%')"
check "a poll of river_queue in flight" wait_for "$in_poll" 12
q "UPDATE river_queue_t SET paused_at = now(), updated_at = now() WHERE name = 'default';
   SELECT pg_notify('public.river_control', '{\"action\":\"pause\",\"queue\":\"default\"}')" >/dev/null
check "paused by NOTIFY while the poll ran" wait_lines "$DAEMON_LOG" 'msg="queue paused" queue=default via=river_control' 1 2
check "the poll's reply came back" bash -c "while psql -XAtq -d '$DB' -c \"$in_poll\" | grep -q t; do sleep 0.05; done"
sleep 0.3
check "... and did not resume the queue" bash -c "! grep -q 'queue resumed' '$DAEMON_LOG'"
id=$(q "WITH j AS (INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', '{}', 25) RETURNING id)
        SELECT id FROM j, pg_notify('public.river_insert', '{\"queue\":\"default\"}')")
sleep 1
assert_eq available "$(q "SELECT state FROM river_job WHERE id = $id")" "paused queue: nothing fetched"

# The polls still count: resumed in river_queue alone, picked up by the next.
q "UPDATE river_queue_t SET paused_at = NULL, updated_at = now() WHERE name = 'default'"
check "resumed by a later poll" wait_lines "$DAEMON_LOG" 'msg="queue resumed" queue=default via=river_queue' 1 10
check "then worked" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $id" 3
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
