# The benchmark's own tools, which only make bench runs otherwise: the SQL
# ceiling works every available job through sluice's fetch and completion
# statements and leaves them as the daemon records a success, and crypto
# times decryptions that open what enc_seal made (it stops at the first
# that does not).
. tests/lib/common.sh
new_db benchtools
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', '{}', 25 FROM generate_series(1, 500)"
out=$("$B/bench/ceiling" "$DATABASE_URL" 100)
assert_match '^\{"batch":100,"jobs":500,' "$out" "the ceiling reports the 500 jobs"
assert_eq 500 "$(q "SELECT count(*) FROM river_job WHERE state = 'completed' AND attempt = 1
                    AND attempted_at IS NOT NULL AND finalized_at IS NOT NULL AND errors IS NULL")" \
	"... and completed each once, as the daemon would"

"$B/sluice" keygen --out "$TMP/k.key" 2>/dev/null
out=$(CRYPTO_CALLS=100 "$B/bench/crypto" "$TMP/k.key")
num='[1-9][0-9]*'
for alg in xchacha20poly1305 secretbox; do
	assert_match "\"$alg\": \\{\"open_ns\": $num, \"seal_ns\": $num, \"open_200b_ns\": $num, \"seal_200b_ns\": $num\\}" \
		"$out" "crypto times both sizes with $alg"
done
assert_eq t "$(q "SELECT '$out'::jsonb ?& array['xchacha20poly1305', 'secretbox']")" "crypto's output is one JSON object"
err=$("$B/bench/crypto" "$TMP/missing.key" 2>&1 >/dev/null); rc=$?
assert_eq 1 "$rc" "crypto without its key file fails"
assert_match 'missing\.key' "$err" "... naming the file"
finish
