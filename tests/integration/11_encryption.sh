# Encryption: args encrypted at rest and decrypted for the handler; children
# encrypted on the way in; key rotation A -> B,A -> B; decrypt_only; kind
# filters and strict kinds; tampering; bad key configuration.
. tests/lib/common.sh
new_db enc
S="$B/sluice"
"$S" keygen --out "$TMP/a.key" 2>"$TMP/a.id"; KA=$(sed 's/key id: //' "$TMP/a.id")
"$S" keygen --out "$TMP/b.key" 2>"$TMP/b.id"; KB=$(sed 's/key id: //' "$TMP/b.id")
assert_eq 600 "$(stat -c %a "$TMP/a.key")" "keygen --out writes a 0600 file"
assert_match "^k[0-9a-f]{16}$" "$KA" "keygen shows a key id"

conf() { # conf FILE encryption-lines...
	local f=$1; shift
	write_config "$f"
	sed -i 's/^level = debug/level = info/' "$f"
	{ echo "[encryption]"; local l; for l in "$@"; do echo "$l"; done; } >>"$f"
}
conf "$TMP/a.ini" "keys = file:$TMP/a.key"
conf "$TMP/ba.ini" "keys = file:$TMP/b.key, file:$TMP/a.key"
conf "$TMP/b.ini" "keys = file:$TMP/b.key"
kid() { q "SELECT split_part(args->>'river_encrypt', '.', 3) FROM river_job WHERE id = $1"; }
enq() { "$S" -c "$1" --json enqueue "${@:2}" | sed -n 's/.*"id":\([0-9]*\).*/\1/p'; }

# Phase 1: key A.
j1=$(enq "$TMP/a.ini" demo.echo '{"secret":"MARKER_ONE","n":1}')
assert_eq "river_encrypt" "$(q "SELECT string_agg(k, ',') FROM river_job, jsonb_object_keys(args) k WHERE id = $j1")" \
	"stored args hold only river_encrypt"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE row_to_json(river_job)::text LIKE '%MARKER_ONE%'")" \
	"no plaintext anywhere in the row"
assert_eq "$KA" "$(kid "$j1")" "encrypted under key A"
assert_match "^s2\.xchacha20poly1305\.$KA\." "$(q "SELECT args->>'river_encrypt' FROM river_job WHERE id = $j1")" "default algorithm"
assert_eq t "$(q "SELECT length(args->>'river_encrypt') > 125 FROM river_job WHERE id = $j1")" \
	"the token is long enough for River's GIN index on args to hash it"
j2=$(enq "$TMP/a.ini" demo.echo '{"left":"for later"}')

# Phase 2: B first, A still decrypts.
start_daemon "$TMP/ba.ini" || finish
check "old key-A job worked" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $j1" 10
assert_eq '{"n": 1, "secret": "MARKER_ONE"}' "$(q "SELECT metadata->'output' FROM river_job WHERE id = $j1")" \
	"the handler saw the original args"
j3=$(enq "$TMP/ba.ini" demo.echo '{"new":true}')
assert_eq "$KB" "$(kid "$j3")" "new jobs use key B"
sp=$(enq "$TMP/ba.ini" demo.spawn '{"children":[{"kind":"demo.echo","args":{"child":"MARKER_CHILD"}},{"kind":"demo.noop"}]}')
check "spawned children appear" wait_for "SELECT count(*) = 2 FROM river_job WHERE metadata->>'parent_id' = '$sp' AND state = 'completed'" 10
assert_eq "$KB $KB" "$(q "SELECT string_agg(split_part(args->>'river_encrypt', '.', 3), ' ') FROM river_job WHERE metadata->>'parent_id' = '$sp'")" \
	"children are encrypted with the current key"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE args::text LIKE '%MARKER_CHILD%'")" "no child plaintext at rest"
stop_daemon

# Phase 3: A removed. A job still under A (j2, worked in phase 2 and made
# available again here) fails, naming its key id.
q "UPDATE river_job SET state = 'available', finalized_at = NULL, attempt = 0 WHERE id = $j2"
start_daemon "$TMP/b.ini" || finish
check "the key-A job gets an error" wait_for "SELECT errors IS NOT NULL FROM river_job WHERE id = $j2" 10
assert_eq "cannot decrypt args: key id \"$KA\" is not configured here (keys: $KB)" \
	"$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $j2")" "error names the key id"
assert_match "^(available|retryable|running)$" "$(q "SELECT state FROM river_job WHERE id = $j2")" "retried by River's policy"

# Tampering: a ciphertext moved to another kind, a flipped byte.
moved=$(q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', args, 1 FROM river_job WHERE id = $j3 RETURNING id")
flip=$(q "INSERT INTO river_job (kind, args, max_attempts) SELECT kind, jsonb_build_object('river_encrypt',
          overlay(args->>'river_encrypt' placing CASE WHEN right(args->>'river_encrypt', 3) LIKE 'A%' THEN 'B' ELSE 'A' END
          from length(args->>'river_encrypt') - 2 for 1)), 1 FROM river_job WHERE id = $j3 RETURNING id")
junk=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.echo', '{\"river_encrypt\": \"s1.xchacha20poly1305\"}', 1) RETURNING id")
check "tampered jobs are discarded with errors" wait_for "SELECT count(*) = 3 FROM river_job WHERE id IN ($moved, $flip, $junk) AND state = 'discarded'" 10
assert_match "authentication failed with key id \"$KB\".*another kind" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $moved")" "moved to another kind"
assert_match "authentication failed with key id \"$KB\"" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $flip")" "flipped byte"
assert_match "malformed envelope" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $junk")" "malformed envelope is an error, not plaintext"
assert_eq "" "$(q "SELECT metadata->'output' FROM river_job WHERE id IN ($moved, $flip, $junk) AND metadata ? 'output'")" "no handler saw them"
kill -0 "$DAEMON_PID" && ok "the daemon survives" || not_ok "daemon died"
stop_daemon

# decrypt_only: encrypted jobs still worked, new ones stored in plaintext.
conf "$TMP/off.ini" "mode = decrypt_only" "keys = file:$TMP/b.key"
j4=$(enq "$TMP/b.ini" demo.spawn '{"children":[{"kind":"demo.echo","args":{"plain":"child"}}]}')
start_daemon "$TMP/off.ini" || finish
check "decrypt_only works an encrypted job" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $j4" 10
check "its child is stored in plaintext" wait_for "SELECT args = '{\"plain\": \"child\"}' FROM river_job WHERE metadata->>'parent_id' = '$j4'" 10
j5=$(enq "$TMP/off.ini" demo.noop '{"p":1}')
assert_eq '{"p": 1}' "$(q "SELECT args FROM river_job WHERE id = $j5")" "sluice enqueue stores plaintext too"
stop_daemon

# Filters.
conf "$TMP/inc.ini" "keys = file:$TMP/b.key" "kinds_include = demo.echo"
conf "$TMP/exc.ini" "keys = file:$TMP/b.key" "kinds_exclude = demo.noop"
for f in inc exc; do
	e=$(enq "$TMP/$f.ini" demo.echo '{}'); n=$(enq "$TMP/$f.ini" demo.noop '{}')
	assert_eq "$KB|" "$(kid "$e")|$(kid "$n")" "kinds_${f}lude: demo.echo encrypted, demo.noop not"
done
conf "$TMP/both.ini" "keys = file:$TMP/b.key" "kinds_include = demo.echo" "kinds_exclude = demo.noop"
assert_match "kinds_include and kinds_exclude cannot both be set" "$("$B/sluiced" --check-config -c "$TMP/both.ini" 2>&1)" "both filters: config error"

# Strict kinds: plaintext refused, the job cancelled, nothing run.
conf "$TMP/strict.ini" "keys = file:$TMP/b.key" "strict_kinds = demo.echo"
plain=$(insert_job demo.echo '{"x":1}')
out=$("$S" -c "$TMP/strict.ini" enqueue --no-encrypt demo.echo '{}' 2>&1); rc=$?
assert_eq 1 "$rc" "enqueue --no-encrypt of a strict kind: refused"
assert_match "strict_kinds: it must be encrypted; nothing inserted" "$out" "with a reason"
start_daemon "$TMP/strict.ini" || finish
check "plaintext strict job cancelled" wait_for "SELECT state = 'cancelled' FROM river_job WHERE id = $plain" 10
assert_eq "JobCancelError: plaintext args refused: kind demo.echo is in [encryption] strict_kinds|f" \
	"$(q "SELECT errors[1]->>'error', metadata ? 'output' FROM river_job WHERE id = $plain")" "with a clear error; handler not run"
stop_daemon

# Bad key configuration.
badconf() { # name line expected
	conf "$TMP/bad.ini" "$2"
	out=$("$B/sluiced" --check-config -c "$TMP/bad.ini" 2>&1); rc=$?
	assert_eq 78 "$rc" "$1: exit 78"
	assert_match "$3" "$out" "$1: message"
}
cp "$TMP/a.key" "$TMP/open.key"; chmod 644 "$TMP/open.key"
head -c 16 /dev/urandom | base64 >"$TMP/short.key"; chmod 600 "$TMP/short.key"
echo '%%%not base64%%%' >"$TMP/junk.key"; chmod 600 "$TMP/junk.key"
cp "$TMP/a.key" "$TMP/theirs.key"; chown 65534 "$TMP/theirs.key"
litkey=$(cat "$TMP/a.key")
badconf "world-readable key file" "keys = file:$TMP/open.key" "bad.ini:[0-9]+: \[encryption\] keys: file:$TMP/open.key: readable by group or others \(mode 0644\); run chmod 600"
badconf "key file another user owns" "keys = file:$TMP/theirs.key" "keys: file:$TMP/theirs.key: owned by uid 65534, neither this user \(uid $(id -u)\) nor root; chown it"
# Directories above a key file (as named, and as resolved): whoever may
# rename entries in one could swap the key.
mkdir -m 777 "$TMP/open-dir"; mkdir -m 700 "$TMP/their-dir" "$TMP/tidy-dir"; mkdir -m 1777 "$TMP/sticky-dir"
for d in open-dir their-dir sticky-dir; do cp -p "$TMP/a.key" "$TMP/$d/k.key"; done
chown 65534 "$TMP/their-dir"; chmod 777 "$TMP/open-dir"
ln -s "$TMP/open-dir/k.key" "$TMP/tidy-dir/link.key"
ln -s "$TMP/a.key" "$TMP/open-dir/link.key"
badconf "key file in a directory others may write" "keys = file:$TMP/open-dir/k.key" \
	"keys: file:$TMP/open-dir/k.key: directory $TMP/open-dir is writable by group or others \(mode 0777\); run chmod go-w on it"
badconf "key file in a directory another user owns" "keys = file:$TMP/their-dir/k.key" \
	"keys: file:$TMP/their-dir/k.key: directory $TMP/their-dir is owned by uid 65534, neither this user \(uid $(id -u)\) nor root"
badconf "symbolic link to a key in a directory others may write" "keys = file:$TMP/tidy-dir/link.key" \
	"keys: file:$TMP/tidy-dir/link.key: directory $TMP/open-dir \(reached through a symbolic link\) is writable by group or others"
mkdir -m 700 "$TMP/hop-dir"; ln -s "$TMP/open-dir/hop.key" "$TMP/hop-dir/k.key"; ln -s ../a.key "$TMP/open-dir/hop.key"
badconf "a chain of links through a directory others may write, to a tidy key" "keys = file:$TMP/hop-dir/k.key" \
	"keys: file:$TMP/hop-dir/k.key: directory $TMP/open-dir \(reached through a symbolic link\) is writable by group or others"
ln -s ../a.key "$TMP/tidy-dir/rel.key"; ln -s "$TMP/tidy-dir/rel.key" "$TMP/tidy-dir/abs.key"
conf "$TMP/links.ini" "keys = file:$TMP/tidy-dir/abs.key, file:$TMP/open-dir/../b.key"
check "links within tidy directories, and .. out of any directory, are accepted" "$B/sluiced" --check-config -c "$TMP/links.ini"
badconf "symbolic link, in a directory others may write, to a tidy key" "keys = file:$TMP/open-dir/link.key" \
	"keys: file:$TMP/open-dir/link.key: directory $TMP/open-dir is writable by group or others"
conf "$TMP/sticky.ini" "keys = file:$TMP/sticky-dir/k.key"
check "a key file in a sticky directory (as /tmp) is accepted" "$B/sluiced" --check-config -c "$TMP/sticky.ini"
badconf "missing key file" "keys = file:$TMP/none.key" "keys: file:$TMP/none.key: No such file or directory"
badconf "short key" "keys = file:$TMP/short.key" "not a base64-encoded 32-byte key"
badconf "bad base64" "keys = file:$TMP/junk.key" "not a base64-encoded 32-byte key"
badconf "literal key" "keys = $litkey" "looks like key material; keys are never accepted in the INI file: use file:/path"
check "the literal key is not echoed" test "$(echo "$out" | grep -c -F "$litkey")" = 0
badconf "unset env key" "keys = env:SLUICE_TEST_NO_SUCH_VAR" "env:SLUICE_TEST_NO_SUCH_VAR: environment variable not set"
badconf "unknown algorithm" "keys = file:$TMP/b.key
algorithm = rot13" "\[encryption\] algorithm: unknown encryptor 'rot13' \(known: xchacha20poly1305, secretbox\)"
badconf "mode without keys" "mode = encrypt" "mode: encrypt needs \[encryption\] keys"
conf "$TMP/env.ini" "keys = env:SLUICE_TEST_KEY"
out=$(SLUICE_TEST_KEY=$litkey "$B/sluiced" --check-config -c "$TMP/env.ini" 2>&1)
assert_match "OK \(1 queues, 7 kinds, 1 keys\)" "$out" "env: key source"
mkdir -p "$TMP/creds"; cp "$TMP/a.key" "$TMP/creds/sluice-a"
conf "$TMP/cred.ini" "keys = credential:sluice-a"
out=$(CREDENTIALS_DIRECTORY=$TMP/creds "$B/sluiced" --check-config -c "$TMP/cred.ini" 2>&1)
assert_match "OK \(1 queues, 7 kinds, 1 keys\)" "$out" "credential: key source (systemd LoadCredential)"
# systemd gives a non-root service's user its credentials by an ACL, whose
# mask shows as group bits: accepted for credentials, not for others' bits.
chmod 640 "$TMP/creds/sluice-a"
out=$(CREDENTIALS_DIRECTORY=$TMP/creds "$B/sluiced" --check-config -c "$TMP/cred.ini" 2>&1)
assert_match "OK \(1 queues, 7 kinds, 1 keys\)" "$out" "credential: group bits (an ACL's mask) accepted"
chmod 644 "$TMP/creds/sluice-a"
out=$(CREDENTIALS_DIRECTORY=$TMP/creds "$B/sluiced" --check-config -c "$TMP/cred.ini" 2>&1)
assert_match "credential:sluice-a: readable by others \(mode 0644\)" "$out" "credential: readable by others refused"

# secretbox works end to end too.
conf "$TMP/sb.ini" "keys = file:$TMP/b.key" "algorithm = secretbox"
s1=$(enq "$TMP/sb.ini" demo.echo '{"box":1}')
assert_match "^s2\.secretbox\.$KB\." "$(q "SELECT args->>'river_encrypt' FROM river_job WHERE id = $s1")" "algorithm = secretbox"
start_daemon "$TMP/b.ini" || finish # any node with the key decrypts either algorithm
check "secretbox job worked" wait_for "SELECT metadata->'output' = '{\"box\": 1}' FROM river_job WHERE id = $s1" 10
stop_daemon

# Nothing secret in logs or errors[].
secrets=("MARKER_ONE" "MARKER_CHILD" "$(cat "$TMP/a.key")" "$(cat "$TMP/b.key")")
for s in "${secrets[@]}"; do
	check "no log line holds a secret" test "$(cat "$TMP"/*.log | grep -c -F -- "$s")" = 0
	assert_eq 0 "$(q "SELECT count(*) FROM river_job, unnest(errors) e WHERE e::text LIKE '%' || \$\$$s\$\$ || '%'")" "no errors[] entry holds a secret"
done

# Envelopes in the unpadded s1 format (written before s2) still work, and
# reencrypt moves them to s2: README's test vectors, under its test key.
printf 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n' >"$TMP/t.key"; chmod 600 "$TMP/t.key"
conf "$TMP/t.ini" "keys = test-1=file:$TMP/t.key"
v1=$(q "INSERT INTO river_job (kind, args, max_attempts) VALUES
  ('demo.echo', '{\"river_encrypt\":\"s1.xchacha20poly1305.test-1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX.rxtxH_LaW3frlcfb1_0I4v7fg6d8NHHnSI3ioIgJkITi-NdNL_7o5A\"}', 1),
  ('demo.echo', '{\"river_encrypt\":\"s1.secretbox.test-1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX.SNKyOstk8QxzYzuHf3VmmDLwYLVxbKFO2tFQ9LkJwnK1FTI7T3l9qYC0Yq-BuO4kuFFHcoHa5Hk\"}', 1),
  ('demo.echo', '{\"river_encrypt\":\"s2.xchacha20poly1305.test-1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX.rxtxH_LaW3frlcfb1_0I4v7fg6d8NHHn6jH9RQkEI5AWhhQviy1oVVLkfL7Kwwng3A\"}', 1)
  RETURNING id" | paste -sd,)
start_daemon "$TMP/t.ini" || finish
check "s1 and s2 vectors worked" wait_for "SELECT count(*) = 3 FROM river_job WHERE id IN ($v1) AND state = 'completed'" 10
assert_eq '{"to": "ada@example.com"}' "$(q "SELECT DISTINCT metadata->>'output' FROM river_job WHERE id IN ($v1)")" \
	"each opened to the test vector's args"
stop_daemon
q "DELETE FROM river_job WHERE id NOT IN ($v1)" # what reencrypt below may touch
assert_match "test-1 +s1 +demo.echo +2 +0 +yes" "$("$S" -c "$TMP/t.ini" reencrypt --dry-run --include-finished --kinds demo.echo)" \
	"reencrypt --dry-run shows the s1 rows"
out=$("$S" -c "$TMP/t.ini" --json reencrypt --include-finished --kinds demo.echo)
assert_match '"rewritten":2,"from_plaintext":0,"from_other_keys":1,"from_s1_format":1' "$out" "reencrypt rewrote the two s1 rows (the secretbox one to the current algorithm too)"
assert_eq "s2 s2 s2" "$(q "SELECT string_agg(split_part(args->>'river_encrypt', '.', 1), ' ') FROM river_job WHERE id IN ($v1)")" \
	"all in s2 now"
assert_eq '{"to": "ada@example.com"}' "$(q "SELECT DISTINCT metadata->>'output' FROM river_job WHERE id IN ($v1)")" "metadata untouched"
finish
