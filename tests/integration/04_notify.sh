# Fetch triggers: River Go's NOTIFY on <schema>.river_insert wakes the daemon
# at once; without it (Python, Ruby) the poll timer finds the job. Fetch
# order is River's: priority, scheduled_at, id.
. tests/lib/common.sh
new_db notify
write_config "$TMP/d.ini"
sed -i 's/^poll_interval = .*/poll_interval = 30s/; s/^\[worker\]$/[worker]\nqueues = default=5, quiet=5/' "$TMP/d.ini"
start_daemon "$TMP/d.ini" || finish
sleep 0.3 # past the first fetch

silent=$(insert_job demo.noop '{}' queue "'quiet'")
loud=$(q "WITH j AS (INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', '{}', 25) RETURNING id)
          SELECT id FROM j, pg_notify('public.river_insert', '{\"queue\": \"default\"}')")
check "NOTIFY public.river_insert: worked within 2s (poll is 30s)" \
	wait_for "SELECT state = 'completed' FROM river_job WHERE id = $loud" 2
assert_eq available "$(q "SELECT state FROM river_job WHERE id = $silent")" "without NOTIFY for its queue a job waits for the poll"
q "SELECT pg_notify('public.river_insert', '{\"queue\": \"other\"}'), pg_notify('public.river_insert', 'not json'),
          pg_notify('river_insert', '{\"queue\": \"quiet\"}')" >/dev/null
sleep 0.3
assert_eq available "$(q "SELECT state FROM river_job WHERE id = $silent")" "other queues, bad payloads, unprefixed channels wake nothing"
kill -0 "$DAEMON_PID" && ok "bad payloads do not hurt the daemon" || not_ok "daemon died on a bad payload"
q "SELECT pg_notify('public.river_insert', '{\"queue\": \"quiet\"}')" >/dev/null
check "NOTIFY for queue quiet wakes it" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $silent" 2
stop_daemon

# Polling alone, one worker: River's fetch order.
sed -i 's/^poll_interval = .*/poll_interval = 100ms/; s/^queues = .*/queues = default=1/' "$TMP/d.ini"
q "DELETE FROM river_job"
q "INSERT INTO river_job (kind, args, max_attempts, priority, scheduled_at) VALUES
   ('demo.noop', '{\"n\":1}', 25, 2, now() - interval '3 s'),
   ('demo.noop', '{\"n\":2}', 25, 1, now() - interval '1 s'),
   ('demo.noop', '{\"n\":3}', 25, 1, now() - interval '2 s'),
   ('demo.noop', '{\"n\":4}', 25, 4, now() - interval '9 s'),
   ('demo.noop', '{\"n\":5}', 25, 1, now() - interval '2 s')"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 5 FROM river_job WHERE state = 'completed'" 10
assert_eq "3 5 2 1 4" "$(q "SELECT string_agg(args->>'n', ' ' ORDER BY attempted_at, id) FROM river_job")" \
	"one worker takes jobs by priority, scheduled_at, id"
stop_daemon

# A configured schema prefixes the channel: "<schema>.river_insert".
cat >"$TMP/s.ini" <<INI
[database]
url = $DATABASE_URL
schema = tenant_a
[worker]
plugins = $PWD/$B/plugins/demo.so
poll_interval = 30s
INI
"$B/sluice" -c "$TMP/s.ini" migrate up >/dev/null
start_daemon "$TMP/s.ini" || finish
grep -q 'channel=tenant_a.river_insert' "$DAEMON_LOG" && ok "listens on tenant_a.river_insert" || not_ok "channel not prefixed with the schema"
sleep 0.3
id=$(q "WITH j AS (INSERT INTO tenant_a.river_job (kind, args, max_attempts) VALUES ('demo.noop', '{}', 25) RETURNING id)
        SELECT id FROM j, pg_notify('tenant_a.river_insert', '{\"queue\": \"default\"}')")
check "NOTIFY tenant_a.river_insert works jobs in tenant_a" \
	wait_for "SELECT state = 'completed' FROM tenant_a.river_job WHERE id = $id" 2
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
finish
