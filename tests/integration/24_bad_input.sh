# Bad input gets a clear error and loses nothing: args that are not JSON
# objects, oversized args (work and insert paths), a plugin that crashes in
# its init, an unreachable database (logged, retried, no password shown),
# malformed notifications on River's channels.
. tests/lib/common.sh
new_db badin
write_config "$TMP/d.ini"
sed -i 's/^\[worker\]$/[worker]\nmax_args_size = 1KB/; s/^level = debug/level = info/' "$TMP/d.ini"
arr=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', '[1, 2]', 1) RETURNING id")
str=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', '\"text\"', 1) RETURNING id")
nul=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', 'null', 1) RETURNING id")
big=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.echo', jsonb_build_object('blob', repeat('x', 2000)), 1) RETURNING id")
fine=$(insert_job demo.noop '{}')
start_daemon "$TMP/d.ini" || finish
check "bad jobs end with errors, good ones complete" \
	wait_for "SELECT count(*) = 4 FROM river_job WHERE id IN ($arr, $str, $nul, $big) AND state = 'discarded'" 10
for id in $arr $str $nul; do
	assert_eq "args are not a JSON object (River args are objects)" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $id")" \
		"job $id: args not an object"
done
assert_match "^args too large: 20[0-9][0-9] bytes \(\[worker\] max_args_size is 1024\)$" \
	"$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $big")" "oversized args"
assert_eq "f" "$(q "SELECT metadata ? 'output' FROM river_job WHERE id = $big")" "its handler never ran"
assert_eq completed "$(q "SELECT state FROM river_job WHERE id = $fine")" "the daemon goes on"
# Anyone who can connect may NOTIFY River's channels: payloads with nulls,
# numbers or no JSON at all are ignored (a null action crashed the daemon).
for p in '{"action":null}' '{"action":"pause","queue":null}' '{"action":5}' '{"action":"resigned","leader_id":null}' \
	'{"action":"cancel","job_id":null}' '{"queue":null}' 'not json' '[1]' '""'; do
	q "SELECT pg_notify(c, '$p') FROM unnest(ARRAY['public.river_control', 'public.river_leadership', 'public.river_insert']) c" >/dev/null
done
after=$(insert_job demo.noop '{}')
check "malformed notifications are ignored" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $after" 10
kill -0 "$DAEMON_PID" && ok "the daemon is still up" || not_ok "the daemon died"
stop_daemon
out=$("$B/sluice" -c "$TMP/d.ini" enqueue demo.noop "{\"blob\": \"$(head -c 2000 /dev/zero | tr '\0' x)\"}" 2>&1); rc=$?
assert_eq 1 "$rc" "enqueue of oversized args refused"
assert_match "args too large: 2012 bytes \(\[worker\] max_args_size is 1024\); nothing inserted" "$out" "with the reason"

# A plugin that crashes in its init: --check-config (systemd's ExecStartPre) reports it.
sed -i "s|^plugins = .*|plugins = $PWD/$B/tests/plugins/crash_init.so|" "$TMP/d.ini"
out=$("$B/sluiced" --check-config -c "$TMP/d.ini" 2>&1); rc=$?
assert_eq 78 "$rc" "crashing plugin init: exit 78"
assert_match "\[worker\] plugins: a plugin crashed while loading \((Segmentation fault|Aborted)\)" "$out" "says so"

# Database unreachable at start: retried with backoff, logged without the password.
cat >"$TMP/down.ini" <<INI
[database]
url = postgresql://postgres:PW_MARKER_77@127.0.0.1:1/nowhere?connect_timeout=2
[worker]
plugins = $PWD/$B/plugins/demo.so
INI
env -u DATABASE_URL "$B/sluiced" -c "$TMP/down.ini" 2>"$TMP/down.log" &
dp=$!; DAEMON_PIDS+=("$dp")
sleep 1.5
kill -0 "$dp" && ok "keeps running while the database is unreachable" || not_ok "gave up"
grep -q 'msg="database connection failed" conn=fetch err=.*retry_in_ms=' "$TMP/down.log" && ok "logs each failure with the retry" || not_ok "no failure logged"
check "the DSN password is never logged" test "$(grep -c PW_MARKER_77 "$TMP/down.log")" = 0
stop_daemon "$dp"
assert_eq 0 "$STOP_RC" "stops cleanly"
finish
