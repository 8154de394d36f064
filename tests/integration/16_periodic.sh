# Periodic jobs: enqueued by the leader only, once per tick even with two
# daemons, through the encrypt hook.
. tests/lib/common.sh
new_db periodic
"$B/sluice" keygen --out "$TMP/k.key" 2>/dev/null
for id in a b; do
	maint_config "$TMP/$id.ini" "worker-$id"
	printf '[periodic]\nticker = @every 2s kind=demo.echo queue=default args={"tick": true}\n' >>"$TMP/$id.ini"
	printf 'nightly = 0 3 * * * kind=demo.noop\n' >>"$TMP/$id.ini"
	printf '[encryption]\nkeys = file:%s\n' "$TMP/k.key" >>"$TMP/$id.ini"
	start_daemon "$TMP/$id.ini" "$TMP/$id.log" || finish
done
sleep 9
# One statement: a tick enqueued between two counts would look like a duplicate.
read -r ticks distinct < <(q "SELECT count(*), count(DISTINCT metadata->>'periodic_tick') FROM river_job WHERE metadata->>'river:periodic_job_id' = 'ticker'" | tr '|' ' ')
check "ticks enqueued (${ticks} in 9s)" test "$ticks" -ge 3
assert_eq "$distinct" "$ticks" "each tick exactly once with two daemons"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE metadata->>'river:periodic_job_id' = 'ticker' AND NOT args ? 'river_encrypt'")" \
	"periodic args pass the encrypt hook"
# (counted as the rows lacking it: another tick may arrive meanwhile)
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE metadata->>'river:periodic_job_id' = 'ticker' AND NOT (metadata->'periodic' = 'true' AND scheduled_at = (metadata->>'periodic_tick')::timestamptz)")" \
	"River's periodic metadata, scheduled at the tick"
check "and they run" wait_for "SELECT count(*) >= 3 FROM river_job WHERE metadata->>'river:periodic_job_id' = 'ticker' AND metadata->'output' = '{\"tick\": true}'" 5
assert_eq 0 "$(q "SELECT count(*) FROM (SELECT extract(epoch FROM (metadata->>'periodic_tick')::timestamptz)::bigint % 2 AS r FROM river_job WHERE metadata->>'river:periodic_job_id' = 'ticker') x WHERE r <> 0")" \
	"@every ticks are aligned (every daemon computes the same ones)"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE metadata->>'river:periodic_job_id' = 'nightly'")" "a 3 AM job is not run now"
# The leader held up past two ticks (stopped 5 s) enqueues them when it
# resumes, as River's enqueuer does: the ticks stay 2 s apart, no gap.
L=$(q "SELECT leader_id FROM river_leader")
LP=${DAEMON_PIDS[$([ "$L" = worker-a ] && echo 0 || echo 1)]}
before=$(q "SELECT max(metadata->>'periodic_tick') FROM river_job WHERE metadata->>'river:periodic_job_id' = 'ticker'")
kill -STOP "$LP"; sleep 5; kill -CONT "$LP"; sleep 1.5
read -r n span < <(q "SELECT count(*), extract(epoch FROM max((metadata->>'periodic_tick')::timestamptz) - min((metadata->>'periodic_tick')::timestamptz))::int
                      FROM river_job WHERE metadata->>'river:periodic_job_id' = 'ticker' AND metadata->>'periodic_tick' >= '$before'" | tr '|' ' ')
check "ticks missed while the leader was stopped are enqueued ($n from $before over ${span}s)" test "$n" -ge 3
assert_eq $((2 * (n - 1))) "$span" "with none skipped"
for id in a b; do stop_daemon "${DAEMON_PIDS[$([ $id = a ] && echo 0 || echo 1)]}"; done
finish
