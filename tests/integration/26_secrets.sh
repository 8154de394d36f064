# Secret hygiene: marker strings planted in args (plaintext and encrypted),
# in key files and in the DSN password must not appear in any log line (at
# debug level), any errors[] entry, /metrics, or command output — through
# every error path: decrypt failures (unknown key, tampered, wrong kind,
# malformed), strict refusals, hook refusals, timeouts, unknown kinds,
# oversized args, reloads with bad keys, and the admin tool.
. tests/lib/common.sh
new_db secrets
S="$B/sluice"
M=ARGSECRET_9f2c
# Rows the test writes in plaintext itself carry P: the admin tool shows
# plaintext args as stored, so P is only looked for where it must never be.
P=PLAINSECRET_3e1a
# A plaintext secret stored under the envelope's key (8 characters: as
# long as the envelope version sluiced once quoted in its error).
L=LOOKSEC7
"$S" keygen --out "$TMP/a.key" 2>/dev/null
"$S" keygen --out "$TMP/b.key" 2>"$TMP/b.id"; KB=$(sed "s/key id: //" "$TMP/b.id")
PORT=$(free_port)
url_pw=$(echo "$DATABASE_URL" | sed "s|postgresql:///|postgresql://postgres:PWSECRET_71@/|")
cat >"$TMP/d.ini" <<INI
[database]
url = $url_pw
[worker]
plugins = $PWD/$B/plugins/demo.so, $PWD/$B/tests/plugins/hooks.so
poll_interval = 200ms
job_timeout = 300ms
max_args_size = 4KB
[log]
level = debug
[encryption]
keys = file:$TMP/a.key
strict_kinds = demo.echo
[metrics]
listen = 127.0.0.1:$PORT
INI
enc() { "$S" -c "$TMP/d.ini" --json enqueue "$@" | sed -n 's/.*"id":\([0-9]*\).*/\1/p'; }
ok1=$(enc demo.noop "{\"s\":\"$M\"}")
echo1=$(enc demo.echo "{\"s\":\"$M\"}")
slow=$(enc demo.sleep "{\"ms\":5000,\"s\":\"$M\"}" --max-attempts 1)
hook=$(enc test.hooked "{\"refuse\":true,\"s\":\"$M\"}" --max-attempts 1)
moved=$(q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', args, 1 FROM river_job WHERE id = $echo1 RETURNING id")
plainstrict=$(insert_job demo.echo "{\"s\":\"$P\"}")
unknown=$(insert_job nobody.home "{\"s\":\"$P\"}" max_attempts 1)
lookalike=$(insert_job demo.noop "{\"river_encrypt\":\"$L\"}" max_attempts 1)
# ... and sluice enqueue refuses to store one, rather than keep it as if encrypted
# (without the test hooks: one of them refuses anything that looks encrypted)
sed "s|, $PWD/$B/tests/plugins/hooks.so||" "$TMP/d.ini" >"$TMP/nohooks.ini"
out=$("$S" -c "$TMP/nohooks.ini" enqueue demo.noop "{\"river_encrypt\":\"${L}x\"}" 2>&1); rc=$?
check "enqueue of a lookalike envelope is refused" test "$rc" != 0
assert_match 'args carry "river_encrypt" but' "$out" "enqueue of a lookalike envelope: says why"
check "enqueue of a lookalike envelope: not echoed" test "$(echo "$out" | grep -c "$L")" = 0
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE args::text LIKE '%${L}x%'")" "enqueue of a lookalike envelope: nothing stored"
big=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', jsonb_build_object('s', '$P', 'pad', repeat('y', 5000)), 1) RETURNING id")
# one under a key this daemon does not have
bkey=$(sed "s|file:$TMP/a.key|file:$TMP/b.key|" "$TMP/d.ini" >"$TMP/b.ini"; "$S" -c "$TMP/b.ini" --json enqueue demo.noop "{\"s\":\"$M\"}" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
q "UPDATE river_job SET max_attempts = 1 WHERE id = $bkey"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE args::text LIKE '%$M%' AND args ? 'river_encrypt'")" "stored encrypted"

start_daemon "$TMP/d.ini" || finish
check "every job reaches a final state" wait_for "SELECT count(*) = 0 FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')" 20
# a reload with a broken key file, then a good one
echo 'not a key' >"$TMP/bad.key"; chmod 600 "$TMP/bad.key"
sed "s|file:$TMP/a.key|file:$TMP/bad.key|" "$TMP/d.ini" >"$TMP/d2.ini"; cp "$TMP/d.ini" "$TMP/d.orig"; cp "$TMP/d2.ini" "$TMP/d.ini"
kill -HUP "$DAEMON_PID"; sleep 0.3; cp "$TMP/d.orig" "$TMP/d.ini"; kill -HUP "$DAEMON_PID"; sleep 0.3
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics.txt"
"$S" -c "$TMP/d.ini" jobs list >"$TMP/cli.txt" 2>&1
"$S" -c "$TMP/d.ini" --json jobs get "$ok1" >>"$TMP/cli.txt" 2>&1
"$S" -c "$TMP/d.ini" keys status >>"$TMP/cli.txt" 2>&1
"$S" -c "$TMP/d.ini" reencrypt --dry-run >>"$TMP/cli.txt" 2>&1
stop_daemon
grep -q 'decrypt_failures_total{key_id=' "$TMP/metrics.txt" && ok "decrypt failures counted by key id" || not_ok "no decrypt failure metric"
# Key ids this node does not have are one series, not one per job.
grep -q 'decrypt_failures_total{key_id="unknown"}' "$TMP/metrics.txt" && ok "unconfigured key ids counted as unknown" || not_ok "no key_id=\"unknown\" series"
grep -q 'decrypt_failures_total{key_id="malformed"}' "$TMP/metrics.txt" && ok "malformed envelopes counted as malformed" || not_ok "no key_id=\"malformed\" series"
check "the key id of a key this node lacks is no label" test "$(grep -c "key_id=\"$KB\"" "$TMP/metrics.txt")" = 0

secrets=("$M" "$P" "$L" "PWSECRET_71" "$(cat "$TMP/a.key")" "$(cat "$TMP/b.key")")
for s in "${secrets[@]}"; do
	name=${s:0:6}...
	check "$name: not in any log line" test "$(grep -c -F -- "$s" "$DAEMON_LOG")" = 0
	check "$name: not in /metrics" test "$(grep -c -F -- "$s" "$TMP/metrics.txt")" = 0
	[ "$s" = "$P" ] ||
		check "$name: not in the admin tool's output (without --decrypt)" test "$(grep -c -F -- "$s" "$TMP/cli.txt")" = 0
	assert_eq 0 "$(q "SELECT count(*) FROM river_job, unnest(errors) e WHERE strpos(e::text, \$\$$s\$\$) > 0")" "$name: not in errors[]"
done
# The paths above really ran:
for pat in "is not configured here" "authentication failed" "plaintext args refused" "hook kind_check failed" \
	"job timed out" "not registered" "args too large"; do
	assert_eq t "$(q "SELECT count(*) > 0 FROM river_job, unnest(errors) e WHERE e->>'error' LIKE '%$pat%'")" "exercised: $pat"
done
grep -q 'reload refused' "$DAEMON_LOG" && ok "exercised: bad reload" || not_ok "bad reload not exercised"
finish
