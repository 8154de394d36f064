# Queue control the River way: river_queue rows reported by every daemon;
# pause/resume through river_control NOTIFY (at once) or river_queue alone
# (within the poll); remote cancel of a running job reaches its handler.
. tests/lib/common.sh
new_db control
maint_config "$TMP/d.ini" worker-a
sed -i 's/^\[worker\]$/[worker]\nqueues = default=10, mail=2/' "$TMP/d.ini"
start_daemon "$TMP/d.ini" || finish
check "queues reported in river_queue" wait_for "SELECT count(*) = 2 FROM river_queue WHERE name IN ('default', 'mail')" 5

pause() { q "UPDATE river_queue SET paused_at = now(), updated_at = now() WHERE name = '$1'; SELECT pg_notify('public.river_control', '{\"action\":\"pause\",\"queue\":\"$1\"}')" >/dev/null; }
resume() { q "UPDATE river_queue SET paused_at = NULL, updated_at = now() WHERE name = '$1' OR '$1' = '*'; SELECT pg_notify('public.river_control', '{\"action\":\"resume\",\"queue\":\"$1\"}')" >/dev/null; }
pause default
sleep 0.3
id=$(q "WITH j AS (INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', '{}', 25) RETURNING id)
        SELECT id FROM j, pg_notify('public.river_insert', '{\"queue\":\"default\"}')")
m=$(insert_job demo.noop '{}' queue "'mail'")
sleep 1.5
assert_eq available "$(q "SELECT state FROM river_job WHERE id = $id")" "paused queue: nothing fetched"
check "other queues keep working" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $m" 3
t0=$(date +%s%N)
resume '*'
check "resume: worked at once" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $id" 2
echo "  (resume to completion: $((($(date +%s%N) - t0) / 1000000))ms)"

# Paused in river_queue only (a client that missed or does not NOTIFY).
q "UPDATE river_queue SET paused_at = now() WHERE name = 'mail'"
check "picked up from river_queue" bash -c "for i in \$(seq 80); do grep -q 'msg=\"queue paused\" queue=mail via=river_queue' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
resume mail

# Remote cancel (River's JobCancel: cancel_attempted_at + NOTIFY).
s=$(insert_job demo.sleep '{"ms": 30000}')
wait_for "SELECT state = 'running' FROM river_job WHERE id = $s" 5
q "UPDATE river_job SET metadata = jsonb_set(metadata, '{cancel_attempted_at}', to_jsonb(now())) WHERE id = $s;
   SELECT pg_notify('public.river_control', json_build_object('action', 'cancel', 'job_id', $s, 'queue', 'default')::text)" >/dev/null
check "running job cancelled through its handler" wait_for "SELECT state = 'cancelled' FROM river_job WHERE id = $s" 3
assert_eq "JobCancelError: job cancelled remotely" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $s")" "River's error text"

# A job whose cancellation was requested is cancelled instead of retried.
f=$(insert_job demo.fail '{"message":"x"}' metadata "'{\"cancel_attempted_at\": \"2026-01-01T00:00:00Z\"}'")
check "cancelled instead of retried" wait_for "SELECT state = 'cancelled' AND finalized_at IS NOT NULL FROM river_job WHERE id = $f" 5
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
