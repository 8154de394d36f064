# An outcome the database refuses (here a CHECK constraint of the table's
# own, which a handler's output trips) loses nothing and leaks nothing: the
# completer bisects its batch down to the one record, writes it instead as
# an error of the attempt naming PostgreSQL's reason (retried, then
# discarded, by River's policy), and the other outcomes are written. An
# error that passes (serialization failure) is retried instead.
# PostgreSQL's DETAIL ("Failing row contains (...)", the whole row with its
# metadata) is never logged: demo.echo's output is its decrypted args.
. tests/lib/common.sh
new_db refused
M=ARGSECRET_51d7
"$B/sluice" keygen --out "$TMP/k.key" 2>/dev/null
write_config "$TMP/r.ini"
printf '[encryption]\nkeys = file:%s\n' "$TMP/k.key" >>"$TMP/r.ini"
q "ALTER TABLE river_job ADD CONSTRAINT test_refuse CHECK (NOT metadata::text LIKE '%REFUSE%')"
enc() { "$B/sluice" -c "$TMP/r.ini" --json enqueue "$@" | sed -n 's/.*"id":\([0-9]*\).*/\1/p'; }
bad=$(enc demo.echo "{\"s\":\"REFUSE $M\"}" --max-attempts 2)
printf '{"kind":"demo.noop","args":{"i":1}}\n%.0s' $(seq 1 20) | "$B/sluice" -c "$TMP/r.ini" enqueue --stdin >/dev/null
start_daemon "$TMP/r.ini" "$TMP/r.log" || finish
check "the other 20 jobs completed" wait_for "SELECT count(*) = 20 FROM river_job WHERE kind = 'demo.noop' AND state = 'completed'" 20
# Attempt 1: its output refused, recorded as an error, retried within about 1 s
# (River's 1^4 s); attempt 2: the same, then discarded at max_attempts.
check "the refused job ends discarded after its 2 attempts" \
	wait_for "SELECT state = 'discarded' AND attempt = 2 AND array_length(errors, 1) = 2 FROM river_job WHERE id = $bad" 20
err=$(q "SELECT errors[2]->>'error' FROM river_job WHERE id = $bad")
assert_eq "sluice could not write this attempt's outcome (completed): new row for relation \"river_job\" violates check constraint \"test_refuse\" (SQLSTATE 23514)" \
	"$err" "errors[] names the refused outcome and PostgreSQL's reason"
assert_eq "1|t|f" "$(q "SELECT (errors[1]->>'attempt')::int, (errors[1]->>'at')::timestamptz BETWEEN created_at AND attempted_at, metadata ? 'output' FROM river_job WHERE id = $bad")" \
	"the first error is attempt 1's, at its start; the refused output is not kept"
check "logged with the job id" grep -q "msg=\"cannot write job outcome; recording an error instead\" job_id=$bad outcome=completed err=\"new row for relation" "$TMP/r.log"
check "the handler's output (its decrypted args) is in no log line" sh -c "! grep -q '$M' '$TMP/r.log'"
check "no PostgreSQL DETAIL in the log" sh -c "! grep -q 'Failing row' '$TMP/r.log'"
# An error that passes (a serialization failure, raised here by a trigger
# the first 3 times a row is completed; deadlocks, timeouts and a server
# gone read-only are alike): the same batch is written again after a
# pause, not turned into an error of the job, which succeeded.
q "CREATE SEQUENCE flaky_seq;
   CREATE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN
     IF NEW.state = 'completed' AND nextval('flaky_seq') <= 3 THEN
       RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
     END IF;
     RETURN NEW;
   END \$\$;
   CREATE TRIGGER flaky BEFORE UPDATE ON river_job FOR EACH ROW EXECUTE FUNCTION flaky()"
ok_job=$(enc demo.noop '{"i":3}')
check "a job whose outcome met a passing error completes" \
	wait_for "SELECT state = 'completed' FROM river_job WHERE id = $ok_job" 20
assert_eq "1|" "$(q "SELECT attempt, errors FROM river_job WHERE id = $ok_job")" "in its first attempt, with no error"
assert_eq 3 "$(grep -c 'msg="completion batch failed; writing it again" batch=1 err="could not serialize access (SQLSTATE 40001)"' "$TMP/r.log")" \
	"each failure logged, then written again"
q "DROP TRIGGER flaky ON river_job"
stop_daemon
assert_eq 0 "$STOP_RC" "stops cleanly"
check "no sanitizer reports" no_sanitizer_reports "$TMP/r.log"

# The admin tool leaves the quoted row out of its errors too: a plaintext
# job whose (handler-written) metadata a constraint refuses to encrypt.
q "INSERT INTO river_job (kind, args, metadata, max_attempts) VALUES ('demo.noop', '{\"i\":2}', '{\"output\":\"NOCRYPT $M\"}', 25)"
q "ALTER TABLE river_job ADD CONSTRAINT test_refuse_cli CHECK (NOT (args ? 'river_encrypt' AND metadata::text LIKE '%NOCRYPT%'))"
"$B/sluice" -c "$TMP/r.ini" reencrypt >"$TMP/re.out" 2>&1; rc=$?
check "reencrypt fails on the refused row (exit $rc)" test "$rc" -ne 0
check "and says why" grep -q 'violates check constraint "test_refuse_cli"' "$TMP/re.out"
check "without quoting the row" sh -c "! grep -q -e '$M' -e 'Failing row' '$TMP/re.out'"
finish
