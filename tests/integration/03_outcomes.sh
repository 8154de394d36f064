# Jobs inserted the way River's Python client does (plain INSERT, no NOTIFY)
# end exactly as River's rules say, for every outcome the demo plugin has.
. tests/lib/common.sh
new_db outcomes
write_config "$TMP/d.ini"
sed -i 's/^\[worker\]$/[worker]\nid = worker-a\nqueues = default=20/' "$TMP/d.ini"

noop=$(insert_job demo.noop '{}')
# A message over the 8 KiB limit, cut where a two-byte character is.
long="$(head -c 8170 /dev/zero | tr '\0' a)$(printf '\xc3\xa9%.0s' $(seq 30))"
cut=$(insert_job demo.fail "{\"message\":\"$long\"}" max_attempts 1)
fail=$(insert_job demo.fail '{"message":"nope"}')
last=$(insert_job demo.fail '{"message":"final"}' max_attempts 1)
hist=$(insert_job demo.fail '{"message":"again"}' errors \
	"ARRAY['{\"at\":\"2024-01-01T00:00:00Z\",\"attempt\":1,\"error\":\"a\",\"trace\":\"\"}','{\"at\":\"2024-01-01T00:00:01Z\",\"attempt\":2,\"error\":\"b\",\"trace\":\"\"}']::jsonb[]")
q "UPDATE river_job SET attempt = 2 WHERE id = $hist"
snz=$(insert_job demo.snooze '{"seconds":30}' metadata "'{\"snoozes\":3,\"keep\":\"me\"}'")
snz1=$(insert_job demo.snooze '{"seconds":0.2}')
cnl=$(insert_job demo.cancel '{"message":"stop it"}')
echo_=$(insert_job demo.echo '{"a":1,"b":["x",{"c":null}]}')
unk=$(insert_job nobody.home '{}')
# Taken from the daemon while they run: one rescued (retryable), one rescued
# and fetched again (running its next attempt).
gone=$(insert_job demo.echo '{"ms":2500,"x":1}' metadata "'{\"keep\":\"me\"}'")
again=$(insert_job demo.echo '{"ms":2500,"x":2}')
other=$(insert_job demo.noop '{}' queue "'elsewhere'")
later=$(insert_job demo.noop '{}' scheduled_at "now() + interval '1 hour'")
q "INSERT INTO river_job (kind, args, max_attempts, attempted_by)
   SELECT 'demo.noop', '{}', 25, array_agg('old-' || i) FROM generate_series(1, 100) i" >/dev/null
hundred=$(q "SELECT max(id) FROM river_job")

start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 2 FROM river_job WHERE id IN ($gone, $again) AND state = 'running'" 10
q "UPDATE river_job SET state = 'retryable', scheduled_at = now() + interval '1 hour' WHERE id = $gone"
q "UPDATE river_job SET attempt = attempt + 1 WHERE id = $again"
check "the skipped outcomes are logged" wait_lines "$DAEMON_LOG" "job no longer running; outcome not written" 2 10
wait_for "SELECT array_length(errors, 1) = 2 AND state = 'retryable' FROM river_job WHERE id = $fail" 20
wait_for "SELECT array_length(errors, 1) = 2 FROM river_job WHERE id = $unk" 20
wait_for "SELECT (metadata->>'snoozes')::int >= 3 FROM river_job WHERE id = $snz1" 20
wait_for "SELECT state = 'completed' FROM river_job WHERE id = $hundred" 10
stop_daemon
assert_eq 0 "$STOP_RC" "daemon exits 0 on SIGTERM"

row() { q "SELECT $2 FROM river_job WHERE id = $1"; }

assert_eq "completed|1|t|{worker-a}|t|" "$(row $noop "state, attempt, finalized_at IS NOT NULL, attempted_by, attempted_at IS NOT NULL, errors")" \
	"demo.noop: completed, attempt 1, finalized_at, attempted_by, no errors"

assert_eq "retryable|2|f|{worker-a,worker-a}" "$(row $fail "state, attempt, finalized_at IS NOT NULL, attempted_by")" \
	"demo.fail: retryable after two attempts, not finalized"
assert_eq '1|nope||2|nope|' "$(row $fail "errors[1]->>'attempt', errors[1]->>'error', errors[1]->>'trace', errors[2]->>'attempt', errors[2]->>'error', errors[2]->>'trace'")" \
	"demo.fail: errors[] elements {at, attempt, error, trace}"
assert_eq 'at attempt error trace' "$(row $fail "(SELECT string_agg(k, ' ' ORDER BY k) FROM jsonb_object_keys(errors[1]) k)")" \
	"errors[] element has exactly River's keys"
gap=$(row $fail "extract(epoch FROM (errors[2]->>'at')::timestamptz - (errors[1]->>'at')::timestamptz)")
check "first retry waits 1s +/-10% (then poll): ${gap}s" awk -v g="$gap" 'BEGIN { exit !(g >= 0.89 && g <= 1.6) }'
delay=$(row $fail "extract(epoch FROM scheduled_at - (errors[2]->>'at')::timestamptz)")
check "second retry is 16s +/-10% later: ${delay}s" awk -v d="$delay" 'BEGIN { exit !(d >= 14.3 && d <= 17.7) }'

assert_eq "discarded|1|t|final" "$(row $last "state, attempt, finalized_at IS NOT NULL, errors[1]->>'error'")" \
	"max_attempts=1: discarded on the first error"
assert_eq "discarded|t" "$(row $cut "state, errors[1]->>'error' = repeat('a', 8170) || repeat(U&'\\00e9', 3) || ' [truncated]'")" \
	"a long message is cut before a whole character (and the outcome written)"

assert_eq "retryable|3|3|again" "$(row $hist "state, attempt, array_length(errors, 1), errors[3]->>'error'")" \
	"a job with 2 recorded errors: third error appended"
delay=$(row $hist "extract(epoch FROM scheduled_at - (errors[3]->>'at')::timestamptz)")
check "retry delay counts recorded errors: 3^4=81s +/-10%: ${delay}s" awk -v d="$delay" 'BEGIN { exit !(d >= 72.8 && d <= 89.2) }'

assert_eq "scheduled|0|4|me||f" "$(row $snz "state, attempt, metadata->>'snoozes', metadata->>'keep', errors, finalized_at IS NOT NULL")" \
	"demo.snooze 30s: scheduled, attempt restored, snoozes+1, metadata kept, no error"
# The snooze counts from the handler's return, as River's time.Now() does; attempted_at is the fetch.
# Under valgrind the first jobs can take more than a second between the two, hence the upper slack.
delay=$(row $snz "extract(epoch FROM scheduled_at - attempted_at)")
check "snooze 30s scheduled 30s out: ${delay}s" awk -v d="$delay" 'BEGIN { exit !(d >= 29.5 && d <= 33) }'
assert_eq "0|" "$(row $snz1 "CASE WHEN state = 'running' THEN 0 ELSE attempt END, errors")" \
	"demo.snooze 0.2s: made available again, attempt never grows, no errors"

assert_eq "cancelled|1|t|JobCancelError: stop it" "$(row $cnl "state, attempt, finalized_at IS NOT NULL, errors[1]->>'error'")" \
	"demo.cancel: cancelled with River's JobCancelError text"

assert_eq 'completed|{"a": 1, "b": ["x", {"c": null}]}' "$(row $echo_ "state, metadata->'output'")" \
	"demo.echo: args recorded as metadata.output"

# River's JobSetStateIfRunningMany writes an outcome only to a row still
# running, but merges the job's metadata updates (output, snoozes) whatever
# the row's state.
assert_eq 'retryable|1|{"x": 1, "ms": 2500}|me||f' "$(row $gone "state, attempt, metadata->'output', metadata->>'keep', errors, finalized_at IS NOT NULL")" \
	"a job rescued while it ran: outcome not written, its output merged into metadata"
assert_eq 'running|2|{"x": 2, "ms": 2500}|' "$(row $again "state, attempt, metadata->'output', errors")" \
	"a job rescued and fetched again while it ran: outcome not written, its output merged"
# Two records of one job in a batch (two attempts of it finished by one
# daemon), one of them without metadata updates: the statement still works.
complete=$("$B/tests/tools/sql-text" complete) || fatal "sql-text"
out=$(psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" 2>&1 <<SQL
PREPARE c AS $complete;
EXECUTE c('[{"id": $gone, "fa": 1, "state": "completed", "finalized_at": "2026-01-01T00:00:00Z"},
            {"id": $gone, "fa": 2, "state": "completed", "finalized_at": "2026-01-01T00:00:00Z", "metadata": {"second": true}}]');
SQL
)
assert_eq "" "$out" "two records of one job not running, one without metadata: no error, no row applied"
assert_eq 'retryable|true|me' "$(row $gone "state, metadata->>'second', metadata->>'keep'")" "the one with metadata merged"
# A snooze whose batch committed but whose reply was lost, sent again after
# the job was fetched once more (the snooze gave the attempt back, so the
# new run has the same attempt number): it carries the attempted_at it was
# fetched with, and leaves the new run alone. Without "at" it would apply.
re1=$(insert_job demo.noop '{}' "state, attempt, attempted_at" "'running', 1, '2026-01-01T00:00:05Z'")
re2=$(insert_job demo.noop '{}' "state, attempt, attempted_at" "'running', 1, '2026-01-01T00:00:05Z'")
psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
PREPARE c AS $complete;
EXECUTE c('[{"id": $re1, "fa": 1, "state": "available", "attempt": 0, "scheduled_at": "2026-01-01T00:00:02Z",
             "metadata": {"snoozes": 1}, "at": "2026-01-01T00:00:01Z"},
            {"id": $re2, "fa": 1, "state": "available", "attempt": 0, "scheduled_at": "2026-01-01T00:00:06Z",
             "metadata": {"snoozes": 1}, "at": "2026-01-01T00:00:05Z"}]');
SQL
assert_eq "running|1|" "$(row $re1 "state, attempt, metadata->>'snoozes'")" "a retried record of an earlier run: the new run untouched"
assert_eq "available|0|1" "$(row $re2 "state, attempt, metadata->>'snoozes'")" "a retried record of this run: applied"

assert_eq "job kind is not registered in the client's Workers bundle: nobody.home|2" \
	"$(row $unk "errors[1]->>'error', array_length(errors, 1)")" "unknown kind: River's error, retried normally"

assert_eq "available|0" "$(row $other "state, attempt")" "a queue this daemon does not work is left alone"
assert_eq "available|0" "$(row $later "state, attempt")" "a job scheduled for later is not fetched early"
assert_eq "100|old-2|worker-a" "$(row $hundred "array_length(attempted_by, 1), attempted_by[1], attempted_by[100]")" \
	"attempted_by keeps the last 100 entries"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
