# sluice reencrypt over big args holds a bounded amount in memory: a batch
# stops at --batch-bytes of args as text (not as stored: these compress to
# almost nothing), whatever --batch says, and loses no row at the cuts.
# Before, one batch read up to --batch rows whole: here all 40 MB at once.
. tests/lib/common.sh
new_db reencbig
S="$B/sluice"
"$S" keygen --out "$TMP/k.key" 2>/dev/null
write_config "$TMP/b.ini" "[encryption]" "keys = file:$TMP/k.key"
q "INSERT INTO river_job (kind, args, max_attempts)
   SELECT 'demo.noop', jsonb_build_object('n', i, 'blob', repeat('x', 1000000)), 25 FROM generate_series(1, 40) i"
# ASan's quarantine holds freed memory back from reuse (256 MB by default),
# which would count every batch; the bound is about live memory.
export ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=1
"$B/tests/tools/maxrss" "$TMP/dry.kib" "$S" -c "$TMP/b.ini" reencrypt --dry-run >/dev/null || fatal "dry run"
"$B/tests/tools/maxrss" "$TMP/run.kib" "$S" -c "$TMP/b.ini" reencrypt --batch 500 --batch-bytes 2MB >"$TMP/out" 2>&1
assert_eq 0 "$?" "reencrypt exits 0 ($(cat "$TMP/out"))"
assert_match "^rewrote 40 rows" "$(cat "$TMP/out")" "every row rewritten across the cuts"
more=$(($(cat "$TMP/run.kib") - $(cat "$TMP/dry.kib")))
limit=24
# ThreadSanitizer shadows the memory the program touches several times over
# and its allocator hands little back: the same run peaks at about 4x (69 MB
# against 17 MB in the normal build).
case $B in *tsan*) limit=$((limit * 5)) ;; esac
check "peak memory beyond a dry run's is under $limit MB (was $more KiB)" test "$more" -lt $((limit * 1024))
assert_eq 40 "$(q "SELECT count(*) FROM river_job WHERE args ? 'river_encrypt' AND NOT args ? 'blob'")" "all encrypted"
check "bad sizes are refused" sh -c "'$S' -c '$TMP/b.ini' reencrypt --batch-bytes 1TB 2>&1 | grep -q 'batch-bytes must be a size'"

start_daemon "$TMP/b.ini" || finish
check "every job works (each opens to its 1 MB args)" \
	wait_for "SELECT count(*) = 40 FROM river_job WHERE state = 'completed' AND errors IS NULL" 60
stop_daemon
assert_eq 0 "$STOP_RC" "stops cleanly"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
