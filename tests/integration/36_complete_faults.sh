# Outcome batches that fail for a reason that should pass. A batch too slow
# for the database's statement_timeout (here a trigger takes 50 ms a row)
# is written in smaller batches, still as the outcomes they are (before, the
# same batch was sent again for ever and no outcome was written at all). A
# single outcome that keeps failing so is given up after some attempts (its
# job stays running for the rescuer, as River's completer gives up), so it
# does not hold back the outcomes after it.
. tests/lib/common.sh
new_db complete_faults
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/' "$TMP/d.ini"
slow_completions "CASE WHEN NEW.kind = 'demo.echo' THEN 1.5 ELSE 0.05 END"
start_daemon "$TMP/d.ini" || finish

# 60 jobs that end together: one batch of 60 would take 3 s.
q "INSERT INTO river_job (kind, args) SELECT 'demo.sleep', '{\"ms\": 300}' FROM generate_series(1, 60)" >/dev/null
check "60 outcomes too slow as one batch are all written" \
	wait_for "SELECT count(*) = 60 FROM river_job WHERE state = 'completed'" 30
assert_eq "0|0" "$(q "SELECT count(*) FILTER (WHERE attempt <> 1), count(*) FILTER (WHERE errors IS NOT NULL) FROM river_job")" \
	"as completions of their first attempt, no errors"
assert_match "completion batch failed; writing it again.*57014" "$(cat "$DAEMON_LOG")" "after the timeouts were logged"
# How many outcomes the first batch holds depends on the build's speed
# (a sanitizer build ends the jobs less together): a retry of some batch
# must have been announced with a smaller one.
check "with smaller batches" awk '/completion batch failed; writing it again/ {
	b = n = -1
	for (i = 1; i <= NF; i++) { if ($i ~ /^batch=/) b = substr($i, 7) + 0; if ($i ~ /^next_batch=/) n = substr($i, 12) + 0 }
	if (n >= 0 && n < b) found = 1
} END { exit !found }' "$DAEMON_LOG"

# One outcome the database can never write in time.
poison=$(insert_job demo.echo '{}')
sleep 2
after=$(insert_job demo.noop '{}')
check "an outcome that cannot be written is given up" \
	bash -c "for i in \$(seq 600); do grep -q 'cannot write job outcome; leaving it to the rescuer.*job_id=$poison' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
assert_eq running "$(q "SELECT state FROM river_job WHERE id = $poison")" "its job stays running for the rescuer"
check "and an outcome held back behind it is written" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $after" 10
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
