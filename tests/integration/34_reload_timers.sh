# Reloaded time settings and what is already under way. A reload that lowers
# [worker] job_timeout leaves the jobs already running here their old limit:
# the rescuer must not take one that is still within it (it would run twice
# at once); a stuck job that nobody runs is still rescued under the new
# limit. A shorter interval applies to the timer already armed for the old.
. tests/lib/common.sh
new_db reloadtimers
maint_config "$TMP/d.ini" solo "rescue_after = 1s"
sed -i 's/^\[worker\]$/[worker]\njob_timeout = 30s/; s/^scheduler_interval = .*/scheduler_interval = 1h/' "$TMP/d.ini"

q "INSERT INTO river_job (kind, args) VALUES ('demo.sleep', '{\"ms\": 5000}')"
mine=$(q "SELECT max(id) FROM river_job")
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT state = 'running' FROM river_job WHERE id = $mine" 10
check "a leader runs the rescuer" wait_for "SELECT count(*) = 1 FROM river_leader" 10

sed -i 's/^job_timeout = 30s$/job_timeout = 1s/' "$TMP/d.ini"
kill -HUP "$DAEMON_PID"
check "reload applied" \
	bash -c "for i in \$(seq 50); do grep -q 'msg=\"configuration reloaded\"' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
# Stuck for an hour, attempted by a worker that is gone: past any limit.
q "INSERT INTO river_job (kind, args, state, attempt, attempted_at, attempted_by)
   VALUES ('demo.noop', '{}', 'running', 1, now() - interval '1 hour', '{gone}')" >/dev/null
stuck=$(q "SELECT max(id) FROM river_job")
check "the stuck job is rescued" wait_for "SELECT state <> 'running' FROM river_job WHERE id = $stuck" 10
sleep 2 # the rescuer (every 300 ms) sees ours well past 1 s and past rescue_after
assert_eq "running 1" "$(q "SELECT state || ' ' || attempt FROM river_job WHERE id = $mine")" \
	"the job started under job_timeout = 30s is not rescued at 1s"
check "it completes on its first attempt" \
	wait_for "SELECT state = 'completed' AND attempt = 1 AND errors IS NULL FROM river_job WHERE id = $mine" 15

q "INSERT INTO river_job (kind, args, state, scheduled_at) VALUES ('demo.noop', '{}', 'scheduled', now() + interval '500 ms')" >/dev/null
later=$(q "SELECT max(id) FROM river_job")
sleep 1.5
assert_eq scheduled "$(q "SELECT state FROM river_job WHERE id = $later")" "due, but the scheduler is an hour away"
sed -i 's/^scheduler_interval = 1h$/scheduler_interval = 300ms/' "$TMP/d.ini"
kill -HUP "$DAEMON_PID"
check "after scheduler_interval = 300ms is reloaded, it runs within that" \
	wait_for "SELECT state = 'completed' FROM river_job WHERE id = $later" 5

# Every retention -1 (keep everything), then a reload sets one: it applies.
q "INSERT INTO river_job (kind, args, state, attempt, finalized_at) VALUES ('demo.noop', '{}', 'completed', 1, now() - interval '1 hour')" >/dev/null
old=$(q "SELECT max(id) FROM river_job")
sed -i 's/^scheduler_interval = 300ms$/scheduler_interval = 300ms\ncompleted_retention = -1\ncancelled_retention = -1\ndiscarded_retention = -1/' "$TMP/d.ini"
kill -HUP "$DAEMON_PID"; sleep 1
assert_eq 1 "$(q "SELECT count(*) FROM river_job WHERE id = $old")" "kept while every retention is -1"
sed -i 's/^completed_retention = -1$/completed_retention = 1s/' "$TMP/d.ini"
kill -HUP "$DAEMON_PID"
check "deleted once a reload sets completed_retention" wait_for "SELECT count(*) = 0 FROM river_job WHERE id = $old" 5
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
grep -q 'no longer running' "$DAEMON_LOG" && not_ok "an outcome was refused: the job ran twice" || ok "its outcome was written"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
