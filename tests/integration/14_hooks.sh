# Plugin hooks and encryptors: a global insert hook and a kind's work hook
# see plaintext (encryption runs after insert hooks and before work hooks);
# a failing work hook fails the job without running it; a plugin cipher
# can be the algorithm; a plugin may not hook another plugin's kinds.
. tests/lib/common.sh
new_db hooks
"$B/sluice" keygen --out "$TMP/k.key" 2>/dev/null
TP=$PWD/$B/tests/plugins
write_config "$TMP/d.ini"
sed -i "s|^plugins = .*|plugins = $PWD/$B/plugins/demo.so, $TP/hooks.so|; s/^level = debug/level = info/" "$TMP/d.ini"
printf '[encryption]\nkeys = file:%s\nalgorithm = chacha20poly1305-ietf\n' "$TMP/k.key" >>"$TMP/d.ini"
enq() { "$B/sluice" -c "$TMP/d.ini" --json enqueue "$@" | sed -n 's/.*"id":\([0-9]*\).*/\1/p'; }

a=$(enq test.hooked '{"a":1}')
r=$(enq test.hooked '{"refuse":true}')
n=$(enq demo.echo '{"b":2}')
assert_match "^s2\.chacha20poly1305-ietf\.k" "$(q "SELECT args->>'river_encrypt' FROM river_job WHERE id = $a")" \
	"a plugin's encryptor is the algorithm"
start_daemon "$TMP/d.ini" || finish
check "jobs worked" wait_for "SELECT count(*) = 2 FROM river_job WHERE id IN ($a, $n) AND state = 'completed'" 10
assert_eq '{"a": 1, "stamped": true, "seen_by_kind_hook": true}' "$(q "SELECT metadata->'output' FROM river_job WHERE id = $a")" \
	"insert hook (global) and work hook (kind) both saw and changed plaintext"
assert_eq '{"b": 2, "stamped": true}' "$(q "SELECT metadata->'output' FROM river_job WHERE id = $n")" \
	"the kind hook applies to its kind only; the global one to all"
check "refusing work hook: job errors" wait_for "SELECT errors IS NOT NULL FROM river_job WHERE id = $r" 10
assert_eq "hook kind_check failed: refused by hook|f" "$(q "SELECT errors[1]->>'error', metadata ? 'output' FROM river_job WHERE id = $r")" \
	"with the hook's reason; the handler did not run"
# A child refused by an insert hook: the hook is named in the log, what it
# said is not (its words may quote the args).
s=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.spawn',
       '{\"children\": [{\"kind\": \"demo.noop\", \"args\": {\"x\": \"river_encrypt\"}}]}', 1) RETURNING id" | head -1)
check "the refused child fails its parent" \
	wait_for "SELECT errors[1]->>'error' = 'children[0] was refused' FROM river_job WHERE id = $s" 10
grep -q 'msg="enqueue refused".* reason="hook stamp failed"' "$DAEMON_LOG" && ok "the refusing hook is named in the log" ||
	not_ok "no 'enqueue refused' line naming the hook"
grep -q 'insert hook saw ciphertext' "$DAEMON_LOG" && not_ok "the hook's own words were logged" || ok "the hook's own words are not logged"
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"

sed -i "s|^plugins = .*|plugins = $PWD/$B/plugins/demo.so, $TP/foreign_hook.so|; /^algorithm/d" "$TMP/d.ini"
out=$("$B/sluiced" --check-config -c "$TMP/d.ini" 2>&1); rc=$?
assert_eq 78 "$rc" "hooking another plugin's kind: refused"
assert_match "foreign_hook.so: hook steal: kind demo.noop is not registered by this plugin" "$out" "with the reason"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
