# Key rotation with re-encryption while a daemon works: plaintext and key-A
# jobs (available, scheduled, retryable, completed) move to key B; keys
# status then shows no key-A job; A is removed and every job still works;
# nothing is worked twice or skipped. SIGKILL midway leaves no broken row.
# Then what it must leave alone and say so (exit 2): malformed envelopes,
# never quoted; args that would outgrow max_args_size once encrypted; jobs
# running under the old key.
. tests/lib/common.sh
new_db reenc
S="$B/sluice"
"$S" keygen --out "$TMP/a.key" 2>"$TMP/a.id"; KA=$(sed 's/key id: //' "$TMP/a.id")
"$S" keygen --out "$TMP/b.key" 2>"$TMP/b.id"; KB=$(sed 's/key id: //' "$TMP/b.id")
mk() { maint_config "$TMP/$1.ini" "worker-$1" "${@:3}"; printf '[encryption]\nkeys = %s\n' "$2" >>"$TMP/$1.ini"; }
mk a "file:$TMP/a.key"
mk ba "file:$TMP/b.key, file:$TMP/a.key"
mk b "file:$TMP/b.key"
sed -i 's/^\[worker\]$/[worker]\nqueues = default=5/' "$TMP/ba.ini" # slow, so re-encryption overlaps work
gen() { seq 1 "$1" | awk -v t="$2" '{print "{\"n\":" $1 ",\"tag\":\"" t "\"}"}'; }

gen 1500 A | "$S" -c "$TMP/a.ini" enqueue --stdin demo.noop >/dev/null
gen 300 Asched | "$S" -c "$TMP/a.ini" enqueue --stdin demo.noop --scheduled-at +1h >/dev/null
gen 300 Adone | "$S" -c "$TMP/a.ini" enqueue --stdin demo.noop --scheduled-at +1h >/dev/null
q "UPDATE river_job SET state = 'completed', finalized_at = now(), attempt = 1 WHERE args @> '{}' AND id IN (SELECT id FROM river_job ORDER BY id DESC LIMIT 300)"
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', jsonb_build_object('n', i, 'tag', 'P'), 25 FROM generate_series(1, 1500) i"
q "INSERT INTO river_job (kind, args, max_attempts, state, scheduled_at, attempt, errors)
   SELECT 'demo.noop', jsonb_build_object('n', i, 'tag', 'Pretry'), 25, 'retryable', now() + interval '1 hour', 1,
          ARRAY['{\"at\":\"2026-01-01T00:00:00Z\",\"attempt\":1,\"error\":\"x\",\"trace\":\"\"}'::jsonb]
   FROM generate_series(1, 300) i"
TOTAL=$(q "SELECT count(*) FROM river_job")
assert_match "$KA +yes, encrypts" "$("$S" -c "$TMP/a.ini" keys status)" "keys status before: key A encrypts"

start_daemon "$TMP/ba.ini" || finish
sleep 0.5
assert_match "would be rewritten to key $KB" "$("$S" -c "$TMP/ba.ini" reencrypt --dry-run --include-finished)" "--dry-run counts"
out=$("$S" -c "$TMP/ba.ini" reencrypt --include-finished --batch 100); rc=$?
assert_eq 0 "$rc" "reencrypt exits 0 ($out)"
assert_match "^rewrote [0-9]+ rows to key $KB \([0-9]+ from plaintext, [0-9]+ from other keys, 0 from the s1 format\)" "$out" "with a summary"
st=$("$S" -c "$TMP/ba.ini" --json keys status)
assert_match "\"key_id\":\"$KA\",\"kind\":\"key\",\"configured\":true,\"encrypting\":false,\"live\":0,\"finished\":0" "$st" "keys status: no job under key A"
check "and no live plaintext job" bash -c "! echo '$st' | grep -qE '\"kind\":\"plaintext\",[^}]*\"live\":[1-9]'"
assert_match "$KA has no live jobs: it may be removed" "$("$S" -c "$TMP/ba.ini" keys status)" "says A may be removed"
check "the daemon worked every available job meanwhile" \
	wait_for "SELECT count(*) = 0 FROM river_job WHERE state IN ('available', 'running')" 60
stop_daemon

# Remove key A; make the waiting jobs due: all work under key B alone.
q "UPDATE river_job SET scheduled_at = now() WHERE state IN ('scheduled', 'retryable')"
start_daemon "$TMP/b.ini" || finish
check "every job works with key A gone" wait_for "SELECT count(*) = $TOTAL FROM river_job WHERE state = 'completed'" 60
stop_daemon
# (the retryable ones were seeded with one failed attempt: error "x")
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE attempt <> CASE WHEN errors[1]->>'error' = 'x' THEN 2 ELSE 1 END")" "no job worked twice or skipped"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE array_length(errors, 1) > (CASE WHEN state = 'completed' AND attempt = 2 THEN 1 ELSE 0 END)")" \
	"no decrypt error anywhere"
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE NOT args ? 'river_encrypt'")" "everything encrypted now"

# SIGKILL midway, then run again.
q "TRUNCATE river_job"
gen 20000 K | "$S" -c "$TMP/a.ini" enqueue --stdin demo.noop --scheduled-at +1h >/dev/null
"$S" -c "$TMP/ba.ini" reencrypt --batch 50 >/dev/null 2>&1 &
rp=$!
# Killed once its first batches have committed (polled, not a fixed sleep:
# on a busy machine the first commit took longer than 0.6 s).
rewritten() { q "SELECT count(*) FILTER (WHERE split_part(args->>'river_encrypt', '.', 3) = '$KB') FROM river_job"; }
for _ in $(seq 1 200); do [ "$(rewritten)" -gt 0 ] && break; sleep 0.05; done
kill -9 "$rp"; wait "$rp" 2>/dev/null
mid=$(rewritten)
check "killed midway ($mid of 20000 rewritten)" test "$mid" -gt 0 -a "$mid" -lt 20000
assert_eq 20000 "$(q "SELECT count(*) FROM river_job WHERE split_part(args->>'river_encrypt', '.', 3) IN ('$KA', '$KB') AND split_part(args->>'river_encrypt', '.', 1) = 's2'")" \
	"every row either old or new"
out=$("$S" -c "$TMP/ba.ini" reencrypt); rc=$?
assert_eq 0 "$rc" "rerun finishes ($out)"
assert_eq 20000 "$(q "SELECT count(*) FROM river_job WHERE split_part(args->>'river_encrypt', '.', 3) = '$KB'")" "all under key B"
q "UPDATE river_job SET scheduled_at = now()"
start_daemon "$TMP/b.ini" || finish
check "and all decrypt and work with key B alone" wait_for "SELECT count(*) = 20000 FROM river_job WHERE state = 'completed'" 60
assert_eq 0 "$(q "SELECT count(*) FROM river_job WHERE errors IS NOT NULL")" "no errors"
stop_daemon

# Left alone, and said so: malformed envelopes (their text may be a secret:
# never shown), one under the current key's own prefix, args that would
# outgrow max_args_size once encrypted, and a job running under key A.
q "TRUNCATE river_job"
q "INSERT INTO river_job (kind, args, max_attempts) VALUES
   ('demo.noop', '{\"river_encrypt\": \"mysecretpassword\"}', 25),
   ('demo.noop', '{\"river_encrypt\": {\"password\": \"hunter2\"}}', 25),
   ('demo.noop', '{\"river_encrypt\": \"s2.xchacha20poly1305.$KB.!!.AAAA\"}', 25),
   ('demo.noop', '{\"river_encrypt\": \"s2.alg\"}', 25),
   ('demo.noop', '\"river_encrypt\"', 25),
   ('demo.noop', '[\"river_encrypt\"]', 25)"
cp "$TMP/ba.ini" "$TMP/small.ini"
sed -i 's/^\[worker\]$/[worker]\nmax_args_size = 1KB/' "$TMP/small.ini"
big=$(head -c 900 /dev/zero | tr '\0' 'x')
q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', '{\"s\": \"$big\"}', 25)"
gen 1 Arun | "$S" -c "$TMP/a.ini" enqueue --stdin demo.noop --scheduled-at +1h >/dev/null
q "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE args ? 'river_encrypt' AND split_part(args->>'river_encrypt', '.', 3) = '$KA'"
dry=$("$S" -c "$TMP/small.ini" reencrypt --dry-run 2>&1)
assert_match "1 rows would be rewritten to key $KB \(xchacha20poly1305\); 6 cannot be read here \(malformed, or under keys not configured\); 1 more are running" "$dry" "--dry-run counts what it can and cannot rewrite"
st=$("$S" -c "$TMP/small.ini" keys status 2>&1)
assert_match "\(malformed envelope\) +- +6 " "$st" "keys status counts the malformed envelopes as such"
assert_match "available +running +retryable +scheduled +pending +completed +cancelled +discarded" "$st" "keys status has a column for every state"
for secret in mysecretpassword hunter2 password; do
	check "neither shows '$secret'" bash -c "! printf '%s\n%s' \"\$1\" \"\$2\" | grep -q '$secret'" _ "$dry" "$st"
done
out=$("$S" -c "$TMP/small.ini" reencrypt 2>&1); rc=$?
assert_eq 2 "$rc" "reencrypt exits 2 when rows are left ($out)"
assert_match "rewrote 0 rows .* 8 left; 6 under keys not configured here, or malformed; 1 over \[worker\] max_args_size once encrypted \(left as they are\); 1 running" "$out" "and says why"
assert_eq 1 "$(q "SELECT count(*) FROM river_job WHERE args->>'s' = '$big'")" "the big args are as they were"
assert_eq 3 "$(q "SELECT count(*) FROM river_job WHERE args::text LIKE '%mysecretpassword%' OR args::text LIKE '%hunter2%' OR args::text LIKE '%!!.AAAA%'")" "the malformed ones too"
assert_eq '2' "$(q "SELECT count(*) FROM river_job WHERE args IN ('\"river_encrypt\"', '[\"river_encrypt\"]')")" \
	"args that are no object, a string or array holding \"river_encrypt\", left alone (they made every command fail)"
out=$(printf '{"s":"%s"}\n' "$big" | "$S" -c "$TMP/small.ini" enqueue --stdin demo.noop 2>&1); rc=$?
check "enqueue refuses args too large once encrypted (rc $rc)" test "$rc" -ne 0
assert_match "args too large once encrypted: [0-9]+ bytes \(\[worker\] max_args_size is 1024\)" "$out" "and says so"
# The limit applies to the args as the row will hold them: jsonb prints an
# envelope one byte longer than it is written.
q "DELETE FROM river_job" >/dev/null
pad=$(head -c 1100 /dev/zero | tr '\0' 'y')
printf '{"s":"%s"}\n' "$pad" | "$S" -c "$TMP/ba.ini" enqueue --stdin demo.noop >/dev/null
L=$(q "SELECT length(args::text) FROM river_job")
q "DELETE FROM river_job" >/dev/null
sed "s/^max_args_size = .*/max_args_size = $((L - 1))/" "$TMP/small.ini" >"$TMP/edge.ini"
out=$(printf '{"s":"%s"}\n' "$pad" | "$S" -c "$TMP/edge.ini" enqueue --stdin demo.noop 2>&1); rc=$?
assert_eq "1 0" "$rc $(q "SELECT count(*) FROM river_job")" "enqueue at max_args_size $((L - 1)): refused, as a fetch would refuse $L bytes"
q "INSERT INTO river_job (kind, args, max_attempts) VALUES ('demo.noop', '{\"s\": \"$pad\"}', 25)" >/dev/null
out=$("$S" -c "$TMP/edge.ini" reencrypt 2>&1); rc=$?
assert_match "1 over \[worker\] max_args_size once encrypted" "$out" "reencrypt at $((L - 1)): left as it is"
sed -i "s/^max_args_size = .*/max_args_size = $L/" "$TMP/edge.ini"
q "INSERT INTO river_job (id, kind, args, max_attempts) VALUES (-5, 'demo.noop', '{\"neg\": 1}', 25), (0, 'demo.noop', '{}', 25)" >/dev/null
"$S" -c "$TMP/edge.ini" reencrypt >/dev/null 2>&1; rc=$?
assert_eq "0 $L" "$rc $(q "SELECT length(args::text) FROM river_job WHERE id > 0 AND args ? 'river_encrypt'")" "at $L: rewritten, $L bytes as stored"
assert_eq 2 "$(q "SELECT count(*) FROM river_job WHERE id <= 0 AND args ? 'river_encrypt'")" "rows with ids 0 and -5 rewritten too"

"$S" -c "$TMP/ba.ini" reencrypt --kinds '' >/dev/null 2>&1; rc=$?
assert_eq 64 "$rc" "--kinds '' is a usage error"
"$S" -c "$TMP/ba.ini" reencrypt --batch 10abc >/dev/null 2>&1; rc=$?
assert_eq 64 "$rc" "--batch 10abc is a usage error"
finish
