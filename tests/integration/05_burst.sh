# A burst of 10,000 jobs: every one completed exactly once, none left running.
. tests/lib/common.sh
new_db burst
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/' "$TMP/d.ini"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', jsonb_build_object('i', i), 25 FROM generate_series(1, 10000) i"
t0=$(date +%s.%N)
start_daemon "$TMP/d.ini" || finish
check "10,000 jobs completed" wait_for "SELECT count(*) = 10000 FROM river_job WHERE state = 'completed'" 120
t1=$(date +%s.%N)
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
assert_eq "10000|1|1|0" "$(q "SELECT count(*), min(attempt), max(attempt), count(*) FILTER (WHERE array_length(attempted_by, 1) <> 1) FROM river_job")" \
	"each worked exactly once (attempt 1, one attempted_by entry)"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE state <> 'completed' OR finalized_at IS NULL")" "none left running or unfinalized"
echo "  (10,000 jobs in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')s, default settings)"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
