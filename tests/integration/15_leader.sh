# Leadership through river_leader and the leader's maintenance: exactly one
# leader; failover after kill -9 within River's TTL; resignation hands over at
# once; scheduler, rescuer (with the guard, never discarding an unknown kind
# just for being unknown) and cleaner do River's work.
. tests/lib/common.sh
new_db leader
# Queues nobody reported for over 24 h, more than one batch of River's
# queue cleaner (10,000), which the leader runs 3 s after it is elected.
q "INSERT INTO river_queue (name, created_at, updated_at)
   SELECT 'stale_' || i, now() - interval '2 days', now() - interval '2 days' FROM generate_series(1, 10050) i"
maint_config "$TMP/a.ini" worker-a "rescue_after = 10s"
maint_config "$TMP/b.ini" worker-b "rescue_after = 10s"
# No time limit for the kinds they handle: River never rescues such jobs.
sed -i 's/^\[worker\]$/[worker]\njob_timeout = 0/' "$TMP/a.ini" "$TMP/b.ini"
start_daemon "$TMP/a.ini" "$TMP/a.log" || finish; A=$DAEMON_PID
start_daemon "$TMP/b.ini" "$TMP/b.log" || finish; B_=$DAEMON_PID
check "a leader is elected" wait_for "SELECT count(*) = 1 FROM river_leader" 10
sleep 1
L=$(q "SELECT leader_id FROM river_leader")
assert_eq 1 "$(cat "$TMP/a.log" "$TMP/b.log" | grep -c 'msg="elected leader"')" "exactly one daemon says it leads ($L)"
assert_eq 15 "$(q "SELECT round(extract(epoch FROM expires_at - elected_at)) FROM river_leader")" "River's 15 s TTL"

# Scheduler: due retryable/scheduled jobs become available (then are worked).
r=$(insert_job demo.noop '{}' "state, scheduled_at" "'retryable', now() + interval '1 second'")
s=$(insert_job demo.noop '{}' "state, scheduled_at" "'scheduled', now() + interval '1 second'")
later=$(insert_job demo.noop '{}' "state, scheduled_at" "'retryable', now() + interval '1 hour'")
check "retryable and scheduled jobs run once due" \
	wait_for "SELECT count(*) = 2 FROM river_job WHERE id IN ($r, $s) AND state = 'completed'" 10
assert_eq retryable "$(q "SELECT state FROM river_job WHERE id = $later")" "not before"
# River's unique handling. States 213 leave out retryable, so retryable rows
# hold no claim on their key until the scheduler makes them available:
# a key already claimed (u0, completed) discards the due one; of two due
# ones sharing a free key, the first runs and the second is discarded.
q "INSERT INTO river_job (kind, args, max_attempts, state, finalized_at, unique_key, unique_states)
   VALUES ('demo.noop', '{}', 25, 'completed', now(), '\\x01', 213::bit(8))" >/dev/null
u1=$(insert_job demo.noop '{"u":1}' "state, scheduled_at, unique_key, unique_states" "'retryable', now(), '\\x01', 213::bit(8)")
u2=$(insert_job demo.noop '{"u":2}' "state, scheduled_at, unique_key, unique_states" "'retryable', now() - interval '2 s', '\\x02', 213::bit(8)")
u3=$(insert_job demo.noop '{"u":3}' "state, scheduled_at, unique_key, unique_states" "'retryable', now() - interval '1 s', '\\x02', 213::bit(8)")
check "unique conflicts discarded by the scheduler" \
	wait_for "SELECT count(*) = 2 FROM river_job WHERE id IN ($u1, $u3) AND state = 'discarded' AND metadata->>'unique_key_conflict' = 'scheduler_discarded'" 10
check "the first of a free key runs" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $u2" 10

# Rescuer.
stuck() { insert_job "$1" '{}' "state, attempt, max_attempts, attempted_at, metadata" "'running', $2, $3, now() - interval '1 hour', '$4'"; }
unk=$(stuck nobody.home 1 25 '{}')
last=$(stuck nobody.home 3 3 '{}')
cancel=$(stuck nobody.home 1 25 '{"cancel_attempted_at": "2026-01-01T00:00:00Z"}')
fresh=$(insert_job nobody.home '{}' "state, attempt, attempted_at" "'running', 1, now()")
nolimit=$(stuck demo.noop 1 25 '{}')
done_=$(insert_job demo.noop '{}' "state, attempt, attempted_at, finalized_at" "'completed', 1, now() - interval '1 hour', now()")
check "stuck jobs rescued" wait_for "SELECT count(*) = 3 FROM river_job WHERE id IN ($unk, $last, $cancel) AND state <> 'running'" 10
# Retryable, or already due again (1 s) and fetched: not discarded.
assert_eq "t|Stuck job rescued by JobRescuer|1" \
	"$(q "SELECT state IN ('retryable', 'available', 'running'), errors[1]->>'error', metadata->>'river:rescue_count' FROM river_job WHERE id = $unk")" \
	"unknown kind: retried by its attempts, not discarded"
assert_eq discarded "$(q "SELECT state FROM river_job WHERE id = $last")" "at max_attempts: discarded"
assert_eq cancelled "$(q "SELECT state FROM river_job WHERE id = $cancel")" "cancel requested: cancelled"
assert_eq "running|" "$(q "SELECT state, errors FROM river_job WHERE id = $fresh")" "a job running less than rescue_after is left alone"
assert_eq "running|" "$(q "SELECT state, errors FROM river_job WHERE id = $nolimit")" "a kind with no time limit (job_timeout = 0) is never rescued"
assert_eq "completed|" "$(q "SELECT state, errors FROM river_job WHERE id = $done_")" "a finished row is not touched"
sleep 1
assert_eq "1|1" "$(q "SELECT count(*) FILTER (WHERE e->>'error' = 'Stuck job rescued by JobRescuer'), max(metadata->>'river:rescue_count')
                     FROM river_job, unnest(errors) e WHERE id = $unk")" "rescued once"

# Queue cleaner: every stale queue gone, past one batch; live ones kept.
check "stale queues forgotten, batch after batch" \
	wait_for "SELECT count(*) = 0 FROM river_queue WHERE name LIKE 'stale_%'" 15
assert_eq 1 "$(q "SELECT count(*) FROM river_queue WHERE name = 'default'")" "the queue in use is kept"

# Cleaner: River's retention (24 h completed, 24 h cancelled, 7 d discarded).
old() { insert_job demo.noop '{}' "state, finalized_at" "'$1', now() - interval '$2'"; }
c_old=$(old completed '25 hours'); c_new=$(old completed '23 hours')
x_old=$(old cancelled '25 hours'); d_old=$(old discarded '8 days'); d_new=$(old discarded '6 days')
check "finished jobs past retention deleted" wait_for "SELECT count(*) = 0 FROM river_job WHERE id IN ($c_old, $x_old, $d_old)" 10
assert_eq 2 "$(q "SELECT count(*) FROM river_job WHERE id IN ($c_new, $d_new)")" "newer ones kept"

# Failover after kill -9 of the leader: within River's TTL (15 s) plus an election round.
if [ "$L" = worker-a ]; then LP=$A; OP=$B_; OTHER=worker-b; else LP=$B_; OP=$A; OTHER=worker-a; fi
t0=$(date +%s)
kill -9 "$LP"; wait "$LP" 2>/dev/null
check "the other daemon takes over" wait_for "SELECT leader_id = '$OTHER' FROM river_leader" 25
echo "  (failover took $(($(date +%s) - t0))s)"

# Resignation on SIGTERM is announced, and a waiting daemon takes over at once.
maint_config "$TMP/c.ini" worker-c "rescue_after = 10s"
start_daemon "$TMP/c.ini" "$TMP/c.log" || finish; C=$DAEMON_PID
t0=$(date +%s%N)
stop_daemon "$OP"
assert_eq 0 "$STOP_RC" "leader exits 0"
check "worker-c elected right after the resignation" wait_for "SELECT leader_id = 'worker-c' FROM river_leader" 3
echo "  (handover took $((($(date +%s%N) - t0) / 1000000))ms)"
grep -q 'msg="resigned leadership"' "$TMP/a.log" "$TMP/b.log" && ok "resignation logged" || not_ok "no resignation logged"
stop_daemon "$C"
check "no leader left behind" wait_for "SELECT count(*) = 0 FROM river_leader" 3

# River's scheduler looks one interval ahead: a job due before the next run
# is made available now and fetched once due, not up to an interval late.
# Four jobs 0.7 s apart, each due at least one run after it was inserted:
# without the look-ahead, at most the jobs of one 1.5 s span (of every 4 s)
# could start within 1.5 s of their time. (Test configs poll every 200 ms.)
maint_config "$TMP/ahead.ini" worker-ahead
sed -i 's/^scheduler_interval = .*/scheduler_interval = 4s/' "$TMP/ahead.ini"
start_daemon "$TMP/ahead.ini" "$TMP/ahead.log" || finish
check "worker-ahead leads" wait_for "SELECT leader_id = 'worker-ahead' FROM river_leader" 10
ids=$(for i in 0 1 2 3; do
	insert_job demo.noop '{}' "state, scheduled_at" "'scheduled', now() + interval '5 s' + $i * interval '700 ms'"
done | paste -sd,)
check "scheduled jobs become available before they are due" \
	wait_for "SELECT count(*) > 0 FROM river_job WHERE id IN ($ids) AND state = 'available' AND scheduled_at > now()" 10
check "all four worked" wait_for "SELECT count(*) = 4 FROM river_job WHERE id IN ($ids) AND state = 'completed'" 15
late=$(q "SELECT string_agg(round(extract(epoch FROM attempted_at - scheduled_at)::numeric, 2)::text, ' ' ORDER BY id) FROM river_job WHERE id IN ($ids)")
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE id IN ($ids) AND attempted_at < scheduled_at")" "none started before it was due ($late s)"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE id IN ($ids) AND attempted_at > scheduled_at + interval '1.5 s'")" \
	"each started within 1.5 s of its time"
stop_daemon

# [maintenance] enabled = false: works jobs, never bids.
maint_config "$TMP/off.ini" worker-off "enabled = false"
start_daemon "$TMP/off.ini" "$TMP/off.log" || finish
sleep 2
assert_eq 0 "$(q "SELECT count(*) FROM river_leader")" "disabled maintenance never leads"
stop_daemon
for f in a b c ahead off; do check "no sanitizer reports ($f)" no_sanitizer_reports "$TMP/$f.log"; done
finish
