# Worker threads follow the handlers: blocking handlers get threads as their
# jobs wait (80 jobs sleeping 1 s finish in about a second, not the 40 s two
# threads would take), while a burst of quick ones stays on about one thread
# per CPU (every extra thread takes CPU from PostgreSQL on the same machine).
. tests/lib/common.sh
new_db pool
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/' "$TMP/d.ini"
start_daemon "$TMP/d.ini" || finish
threads() { awk '/^Threads:/ {print $2}' "/proc/$DAEMON_PID/status"; }

q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', jsonb_build_object('i', i), 25 FROM generate_series(1, 30000) i"
check "a burst of 30,000 quick jobs completes" wait_for "SELECT count(*) = 30000 FROM river_job WHERE state = 'completed'" 120
quick=$(threads)
echo "  (threads after the quick burst: $quick on $(nproc) CPUs)"
case $B in
*asan* | *tsan*)
	# Instrumented handlers are slow enough to look blocked now and then.
	echo "  (sanitizer build: thread count after quick jobs not checked)" ;;
*)
	# The loop thread, one worker per CPU, and a few for preemption.
	check "quick handlers stay on few threads ($quick <= $(($(nproc) + 6)))" test "$quick" -le $(($(nproc) + 6)) ;;
esac

q "TRUNCATE river_job"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 1000}', 25 FROM generate_series(1, 80)"
check "80 sleeping jobs finish side by side" wait_for "SELECT count(*) = 80 FROM river_job WHERE state = 'completed'" 10
# (attempted_at is when the batch was fetched; the handlers' ends tell.)
spread=$(q "SELECT round(extract(epoch FROM max(finalized_at) - min(finalized_at)) * 1000) FROM river_job")
span=$(q "SELECT round(extract(epoch FROM max(finalized_at) - min(attempted_at)) * 1000) FROM river_job")
echo "  (finished within $spread ms of each other; all done $span ms after the fetch)"
check "all 80 finished within a second of each other ($spread ms)" test "$spread" -lt 1000
check "all done within 3 s of the fetch ($span ms; 2 threads would need 40 s)" test "$span" -lt 3000
slow=$(threads)
check "threads were added for them ($slow > $quick)" test "$slow" -gt "$quick"
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"

# Handlers that block a few milliseconds each keep the queue's head moving
# faster than a stall shows, yet leave a large fetch's jobs waiting ever
# longer: threads are added for those too (before, 1,000 jobs of 8 ms ran
# on two threads for 4 s). And a job's timeout counts from when a thread
# takes it, not from the fetch: none of them times out while it waits.
q "TRUNCATE river_job"
write_config "$TMP/b.ini"
sed -i 's/^level = debug/level = info/; s/^\[worker\]$/[worker]\nqueues = default=1000\njob_timeout = 2s/' "$TMP/b.ini"
start_daemon "$TMP/b.ini" || finish
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 8}', 25 FROM generate_series(1, 1000)"
check "1,000 jobs of 8 ms each complete" wait_for "SELECT count(*) = 1000 FROM river_job WHERE state = 'completed'" 20
span=$(q "SELECT round(extract(epoch FROM max(finalized_at) - min(attempted_at)) * 1000) FROM river_job")
assert_eq "0|0" "$(q "SELECT count(*) FILTER (WHERE attempt > 1), count(*) FILTER (WHERE errors IS NOT NULL) FROM river_job")" \
	"none timed out or was tried twice"
check "within 2 s of the first fetch ($span ms; two threads need 4 s)" test "$span" -lt 2000
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
finish
