# A queue's slots bound what is fetched, not only what runs: a job is
# fetched (running, attempted_at set) only when a worker is free for it,
# so none waits in the daemon for a worker while another daemon could have
# taken it. The next fetch goes out while the rows of the last are still
# being decoded (fetch.c), and those rows hold their slots already.
. tests/lib/common.sh
new_db slots
q "CREATE TABLE torture_runs (job_id bigint, attempt int, kind text, what text, at timestamptz DEFAULT clock_timestamp())"
export TORTURE_URL=$DATABASE_URL
write_config "$TMP/s.ini"
sed -i "s/^fetch_cooldown = .*/fetch_cooldown = 0ms/" "$TMP/s.ini" # every fetch as soon as it is due
sed -i "s|^plugins = .*|plugins = $PWD/$B/tests/plugins/recorder.so\nqueues = default=4|; s/^level = debug/level = info/" "$TMP/s.ini"
# A backlog before the start, so every fetch comes back full.
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'torture.slow', '{\"ms\": 600}', 1 FROM generate_series(1, 16)"
start_daemon "$TMP/s.ini" || finish
check "all 16 completed" wait_for "SELECT count(*) = 16 FROM river_job WHERE state = 'completed'" 30
stop_daemon
check "no sanitizer reports" no_sanitizer_reports "$TMP/sluiced.1.log"

# Longest wait of a job between its fetch and its handler's start: a job
# fetched without a free worker waits a whole 600 ms job or more.
wait_ms=$(q "SELECT round(max(extract(epoch FROM r.at - j.attempted_at) * 1000)) FROM river_job j JOIN torture_runs r ON r.job_id = j.id AND r.what = 'start'")
echo "  (longest wait from fetch to start: $wait_ms ms)"
check "no job waited for a worker after its fetch (longest $wait_ms ms < 300 ms)" test "$wait_ms" -lt 300
# Handlers at once, from their start and done records: the 4 slots, used.
peak=$(q "SELECT max(n) FROM (SELECT sum(CASE what WHEN 'start' THEN 1 ELSE -1 END) OVER (ORDER BY at, what) AS n FROM torture_runs) s")
assert_eq 4 "$peak" "4 handlers ran at once"
check "no errors in the log" sh -c "! grep -q 'level=error' '$TMP/sluiced.1.log'"
finish
