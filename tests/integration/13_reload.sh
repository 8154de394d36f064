# SIGHUP: the new file and keys are validated first and swapped atomically;
# running jobs are unaffected; a bad file is refused and the old one kept.
# A SIGHUP during start-up (here while a plugin initialises) does not end
# the daemon: it reloads once its handler is in place. Meanwhile a thread
# another plugin started cannot register kinds (init only, loading thread).
. tests/lib/common.sh
new_db reload
S="$B/sluice"
"$S" keygen --out "$TMP/a.key" 2>"$TMP/a.id"; KA=$(sed 's/key id: //' "$TMP/a.id")
"$S" keygen --out "$TMP/b.key" 2>"$TMP/b.id"; KB=$(sed 's/key id: //' "$TMP/b.id")
write_config "$TMP/d.ini"
sed -i 's/^level = debug/level = info/' "$TMP/d.ini"
cp "$TMP/d.ini" "$TMP/base.ini"
printf '[encryption]\nkeys = file:%s\n' "$TMP/a.key" >>"$TMP/d.ini"

spawn() { "$S" -c "$TMP/d.ini" --json enqueue demo.spawn "$1" | sed -n 's/.*"id":\([0-9]*\).*/\1/p'; }
child_kid() { q "SELECT split_part(args->>'river_encrypt', '.', 3) FROM river_job WHERE metadata->>'parent_id' = '$1'"; }

q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.sleep', '{\"ms\": 1500}', 25 FROM generate_series(1, 10)"
start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 10 FROM river_job WHERE state = 'running'" 10
p1=$(spawn '{"children":[{"kind":"demo.noop"}]}')
wait_for "SELECT count(*) = 1 FROM river_job WHERE metadata->>'parent_id' = '$p1'" 10
assert_eq "$KA" "$(child_kid "$p1")" "before reload: children under key A"

# New key first, old key kept for decryption; job_timeout changes too.
{ cat "$TMP/base.ini"; printf '[encryption]\nkeys = file:%s, file:%s\n' "$TMP/b.key" "$TMP/a.key"; } >"$TMP/d.ini"
kill -HUP "$DAEMON_PID"
check "reload logged with the new encrypting key" \
	bash -c "for i in \$(seq 50); do grep -q 'msg=\"configuration reloaded\".*encrypt_key=$KB keys=2' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
p2=$(spawn '{"children":[{"kind":"demo.noop"}]}')
wait_for "SELECT count(*) = 1 FROM river_job WHERE metadata->>'parent_id' = '$p2'" 10
assert_eq "$KB" "$(child_kid "$p2")" "after reload: children under key B"

# A bad file: refused, old configuration kept.
{ cat "$TMP/base.ini"; printf '[encryption]\nkeys = file:%s/missing.key\n' "$TMP"; echo "bogus_key = 1"; } >"$TMP/d.ini"
kill -HUP "$DAEMON_PID"
check "bad reload refused and logged" \
	bash -c "for i in \$(seq 50); do grep -q 'reload refused; running configuration kept' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
grep -q 'missing.key: No such file or directory' "$DAEMON_LOG" && ok "with each problem" || not_ok "problem not logged"
# (sluice enqueue would refuse the broken file too: insert directly)
q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.spawn', '{\"children\":[{\"kind\":\"demo.noop\"}]}', 25)" >/dev/null
p3=$(q "SELECT max(id) FROM river_job WHERE kind = 'demo.spawn'")
wait_for "SELECT count(*) = 1 FROM river_job WHERE metadata->>'parent_id' = '$p3'" 10
assert_eq "$KB" "$(child_kid "$p3")" "still key B after the refused reload"

# Restart-only settings are reported, not applied.
{ sed 's/^\[worker\]$/[worker]\nqueues = default=5, other=1/' "$TMP/base.ini"; printf '[encryption]\nkeys = file:%s\n' "$TMP/b.key"; } >"$TMP/d.ini"
kill -HUP "$DAEMON_PID"
check "queue change needs a restart" \
	bash -c "for i in \$(seq 50); do grep -q 'changed setting needs a restart.*setting=\"\[worker\] queues\"' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"

{ cat "$TMP/base.ini"; printf '[encryption]\nkeys = file:%s\n[periodic]\ntick = @every 1h kind=demo.noop\n[metrics]\nlisten = 127.0.0.1:%s\n' "$TMP/b.key" "$(free_port)"; } >"$TMP/d.ini"
kill -HUP "$DAEMON_PID"
for s in 'setting=\[periodic\]' 'setting=\"\[metrics\] listen\"'; do
	check "$s change needs a restart" \
		bash -c "for i in \$(seq 50); do grep -q 'changed setting needs a restart.*$s' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
done

# A child enqueued under key B by a parent still running when B is replaced
# by A (B removed from the ring) goes in under A, not under a key no node
# has any more (it would fail on every attempt).
{ cat "$TMP/base.ini"; printf '[encryption]\nkeys = file:%s\n' "$TMP/b.key"; } >"$TMP/d.ini"
kill -HUP "$DAEMON_PID"; sleep 0.5
p4=$(spawn '{"children":[{"kind":"demo.noop"}],"ms":2500}')
wait_for "SELECT state = 'running' FROM river_job WHERE id = $p4" 10; sleep 0.5
{ cat "$TMP/base.ini"; printf '[encryption]\nkeys = file:%s\n' "$TMP/a.key"; } >"$TMP/d.ini"
kill -HUP "$DAEMON_PID"
wait_for "SELECT count(*) = 1 FROM river_job WHERE metadata->>'parent_id' = '$p4'" 15
assert_eq "$KA" "$(child_kid "$p4")" "a child sealed under B before the rotation is written under A"
check "and is worked" wait_for "SELECT state = 'completed' FROM river_job WHERE metadata->>'parent_id' = '$p4'" 10

check "jobs running across reloads all completed" wait_for "SELECT count(*) = 10 FROM river_job WHERE kind = 'demo.sleep' AND state = 'completed' AND attempt = 1" 10
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"

write_config "$TMP/early.ini"
sed -i "s|^plugins = .*|&, $PWD/$B/tests/plugins/late_register.so, $PWD/$B/tests/plugins/slow_init.so|" "$TMP/early.ini"
${SLUICED_WRAP:-} "$B/sluiced" -c "$TMP/early.ini" 2>"$TMP/early.log" &
EARLY=$!; DAEMON_PIDS+=("$EARLY")
check "a plugin is initialising" \
	bash -c "for i in \$(seq 200); do grep -q 'slow_init: initialising' '$TMP/early.log' && exit 0; sleep 0.05; done; exit 1"
kill -HUP "$EARLY"
check "SIGHUP during start-up: the daemon still becomes ready" \
	bash -c "for i in \$(seq 300); do grep -q 'msg=\"sluiced ready\"' '$TMP/early.log' && exit 0; kill -0 $EARLY || exit 1; sleep 0.05; done; exit 1"
assert_eq 1 "$(grep -c 'msg="configuration reloaded"' "$TMP/early.log")" "and reloads once"
# (late_register.so registers from its own thread during slow_init's init.)
assert_match "register_kind from another thread refused" "$(cat "$TMP/early.log")" \
	"a plugin's thread cannot register while another plugin initialises"
assert_match 'msg="\(no message\)"' "$(cat "$TMP/early.log")" "a NULL log format is logged as no message"
stop_daemon "$EARLY"
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$TMP/early.log"
finish
