# Once outcome batches too slow for statement_timeout have been halved down
# to a size that is written in time, the completer does not double straight
# back to the size that failed while the backlog lasts: it did, and every
# other batch then timed out twice (a statement_timeout and a pause each),
# 600 outcomes taking about 30 failed statements instead of a few.
. tests/lib/common.sh
new_db complete_regrow
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/' "$TMP/d.ini"
# 20 ms a row: a batch of up to ~45 is written in time.
slow_completions 0.02
start_daemon "$TMP/d.ini" || finish

q "INSERT INTO river_job (kind, args) SELECT 'demo.sleep', '{\"ms\": 100}' FROM generate_series(1, 600)" >/dev/null
check "600 outcomes written through a statement_timeout" \
	wait_for "SELECT count(*) = 600 FROM river_job WHERE state = 'completed'" 120
assert_eq "0|0" "$(q "SELECT count(*) FILTER (WHERE attempt <> 1), count(*) FILTER (WHERE errors IS NOT NULL) FROM river_job")" \
	"as completions of their first attempt, no errors"
fails=$(grep -c 'completion batch failed; writing it again' "$DAEMON_LOG")
check "batches halved to a size that fits, then kept below the one that failed ($fails failed statements)" \
	test "$fails" -ge 2 -a "$fails" -le 12
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
