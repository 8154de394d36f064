# Jobs enqueued by handlers: inserted exactly once per parent that completes,
# in the same transaction as its outcome; never for a parent that fails,
# cancels or times out; still exactly once when completion batches are retried
# after lost connections.
. tests/lib/common.sh
new_db children
"$B/sluice" keygen --out "$TMP/k.key" 2>/dev/null
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/; s/^\[worker\]$/[worker]\njob_timeout = 500ms/' "$TMP/d.ini"
printf '[encryption]\nkeys = file:%s\n' "$TMP/k.key" >>"$TMP/d.ini"

spawn() { # spawn ARGS [max_attempts]
	q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.spawn', '$1', ${2:-25}) RETURNING id"
}
ok_parent=$(spawn '{"children":[{"kind":"demo.noop"},{"kind":"demo.noop","queue":"default"}]}')
failing=$(spawn '{"children":[{"kind":"demo.noop"},{"kind":"bad kind!"}]}' 1)
slow=$(spawn '{"children":[{"kind":"demo.noop"}],"ms":5000}' 1)
start_daemon "$TMP/d.ini" || finish
check "the completed parent's two children ran" \
	wait_for "SELECT count(*) = 2 FROM river_job WHERE metadata->>'parent_id' = '$ok_parent' AND state = 'completed'" 10
check "the failing and the timed-out parents are discarded" \
	wait_for "SELECT count(*) = 2 FROM river_job WHERE id IN ($failing, $slow) AND state = 'discarded'" 10
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE metadata->>'parent_id' IN ('$failing', '$slow')")" \
	"no child from a failed or timed-out parent (not even the valid one)"
assert_match "children\[1\] was refused" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $failing")" "refused child recorded on the parent"
assert_eq "job timed out after 500ms" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $slow")" "timeout recorded"
stop_daemon

# Many parents while the daemon's connections are killed over and over:
# whatever commits, a parent completes with exactly its two children.
q "INSERT INTO river_job (kind, args, max_attempts)
   SELECT 'demo.spawn', '{\"children\":[{\"kind\":\"demo.noop\"},{\"kind\":\"demo.echo\",\"args\":{\"i\":1}}]}', 25
   FROM generate_series(1, 2000)"
sed -i 's/^\[worker\]$/[worker]\nqueues = default=10/' "$TMP/d.ini" # slower: kills land mid-stream
start_daemon "$TMP/d.ini" || finish
kills=0
for i in $(seq 1 40); do
	sleep 0.05
	n=$(q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sluiced'")
	kills=$((kills + n))
done
echo "  ($kills daemon connections terminated; $(q "SELECT count(*) FROM river_job WHERE kind = 'demo.spawn' AND state = 'completed' AND id > $slow") of 2000 parents done by then)"
check "every parent completed" \
	wait_for "SELECT count(*) = 0 FROM river_job WHERE kind = 'demo.spawn' AND state <> 'completed' AND id > $slow" 60
stop_daemon
assert_eq 0 "$(q "SELECT count(*) FROM (SELECT p.id FROM river_job p LEFT JOIN river_job c ON c.metadata->>'parent_id' = p.id::text
                  WHERE p.kind = 'demo.spawn' AND p.id > $slow GROUP BY p.id HAVING count(c.id) <> 2) x")" \
	"each completed parent has exactly 2 children"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE metadata ? 'parent_id' AND NOT args ? 'river_encrypt'")" \
	"every child stored encrypted"
grep -q 'database connection lost' "$DAEMON_LOG" && ok "connections really were lost" || not_ok "no connection loss seen"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
