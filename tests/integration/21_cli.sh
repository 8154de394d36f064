# The admin tool: help everywhere, one-line errors with meaningful exit
# codes, bulk enqueue from stdin, jobs and queues commands with River's
# semantics, obeyed by a running daemon.
. tests/lib/common.sh
new_db cli
S="$B/sluice"
"$S" keygen --out "$TMP/k.key" 2>"$TMP/k.id"; KID=$(sed 's/key id: //' "$TMP/k.id")
maint_config "$TMP/d.ini" worker-a
printf '[encryption]\nkeys = file:%s\n' "$TMP/k.key" >>"$TMP/d.ini"
C=(-c "$TMP/d.ini")

assert_match "^usage: sluice" "$("$S" help)" "sluice help"
for cmd in migrate enqueue keygen keys reencrypt jobs queues; do
	out=$("$S" "$cmd" --help 2>&1); rc=$?
	assert_eq "0 usage" "$rc $(echo "$out" | head -c 5)" "sluice $cmd --help"
	assert_match "^usage: sluice $cmd" "$("$S" help "$cmd")" "sluice help $cmd"
done
out=$("$S" frobnicate 2>&1); rc=$?
assert_eq 64 "$rc" "unknown command: exit 64"

bad() { # bad EXIT "expected message" args...
	local want=$1 msg=$2; shift 2
	out=$("$S" "${C[@]}" "$@" 2>&1); rc=$?
	assert_eq "$want" "$rc" "$* -> exit $want"
	assert_match "$msg" "$out" "$*: says why"
	assert_eq 1 "$(echo "$out" | wc -l)" "$*: one line"
}
bad 1 "args must be a JSON object; nothing inserted" enqueue demo.noop '{"a":'
bad 1 "args must be a JSON object; nothing inserted" enqueue demo.noop '[1,2]'
bad 64 "priority must be 1..4; nothing inserted" enqueue demo.noop '{}' --priority 5
bad 1 "invalid queue name 'Bad Queue'" enqueue demo.noop '{}' --queue 'Bad Queue'
bad 1 "invalid kind" enqueue 'no spaces' '{}'
bad 1 "no job 424242" jobs get 424242
bad 64 "jobs get: needs a job id" jobs get abc
bad 64 "--state must be one of" jobs list --state finished
bad 1 "no queue 'nosuch' in river_queue" queues pause nosuch
bad 64 "--limit must be 1..100000" jobs list --limit 10abc
bad 64 "--queue needs a queue name" jobs list --queue
bad 64 "jobs get: needs a job id" jobs get 99999999999999999999
bad 64 "scheduled-at: want an RFC 3339 time" enqueue demo.noop '{}' --scheduled-at 2026-01-01T00:00:00+2:00
bad 64 "scheduled-at: want an RFC 3339 time" enqueue demo.noop '{}' --scheduled-at 2026-13-40T00:00:00Z
bad 64 "--max-attempts must be 1..32767" enqueue demo.noop '{}' --max-attempts 0
bad 64 "--queue needs a queue name" enqueue demo.noop '{}' --queue
bad 64 "--metadata needs a JSON object" enqueue demo.noop '{}' --metadata
bad 64 "--unique-period: want a duration" enqueue demo.noop '{}' --unique-period 10ms
# A bad option is a usage error before any connection is tried (was 69 for jobs list).
for a in "jobs list --limit 0" "enqueue demo.noop {} --priority 9"; do
	"$S" --database-url "host=$TMP/nowhere dbname=x" $a 2>/dev/null; rc=$?
	assert_eq 64 "$rc" "sluice $a with the database down: exit 64"
done
bad 1 "scheduled_at must be within the years 1 to 9999; nothing inserted" enqueue demo.noop '{}' --scheduled-at 0000-06-01T00:00:00Z
# -h or --help anywhere shows the command's help and runs nothing (jobs list -h crashed)
for a in "jobs list -h" "jobs retry 5 --help" "keys status -h" "enqueue demo.noop --queue -h"; do
	out=$("$S" "${C[@]}" $a 2>&1); rc=$?
	assert_eq "0 usage: sluice ${a%% *}" "$rc $(echo "$out" | head -n 1 | cut -d' ' -f1-3)" "sluice $a shows help"
done
out=$("$S" keygen 2>&1 >/dev/full); rc=$?
assert_eq 1 "$rc" "keygen into a full stdout fails"
assert_match "cannot write the key to stdout" "$out" "and says so, with no key id"
assert_eq 0 "$(q "SELECT count(*) FROM river_job")" "nothing inserted by any of them"

# Unique jobs, River's way.
"$S" "${C[@]}" enqueue demo.noop '{"x":1}' --unique-by-args --scheduled-at +1h >/dev/null
out=$("$S" "${C[@]}" enqueue demo.noop '{"x":1}' --unique-by-args --scheduled-at +1h)
assert_eq "skipped: a job with the same unique key exists" "$out" "a unique duplicate is skipped"
q "DELETE FROM river_job"
# The key a Go client gets for the same job: args as json.Marshal writes
# them (compact, <>& escaped, 2.0 as 2), the period of the insert time even
# when scheduled later (River computes the key before scheduled_at).
"$S" "${C[@]}" enqueue demo.noop '{"b": {"y": 2.0}, "a": "x<y"}' --unique-by-args --unique-period 1h --scheduled-at +3h >/dev/null
assert_eq t "$(q "SELECT unique_key = sha256(convert_to('&kind=demo.noop&args={\"a\":\"x\\u003cy\",\"b\":{\"y\":2}}&period='
	|| to_char(date_trunc('hour', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'UTF8'))
	FROM river_job")" "the unique key is River's for the same args and insert time"
q "DELETE FROM river_job"

# 100,000 jobs from stdin in one command: fast, all encrypted, all worked.
t0=$(date +%s%N)
seq 1 100000 | awk '{print "{\"n\":" $1 "}"}' | "$S" "${C[@]}" enqueue --stdin demo.noop >"$TMP/bulk.txt"
ms=$((($(date +%s%N) - t0) / 1000000))
assert_match "^inserted 100000 jobs \(0 skipped as unique duplicates, 100000 encrypted with key $KID\)" "$(cat "$TMP/bulk.txt")" "bulk enqueue reports"
check "100,000 enqueued in well under a minute (${ms} ms)" test "$ms" -lt 30000
assert_eq 100000 "$(q "SELECT count(*) FROM river_job WHERE args ? 'river_encrypt'")" "all encrypted"
printf '{"kind":"demo.noop","args":{}}\n{"kind":"demo.noop","args":' | "$S" "${C[@]}" enqueue --stdin >/dev/null 2>"$TMP/err.txt"; rc=$?
assert_eq 1 "$rc" "a bad line fails the whole batch"
assert_match "stdin line 2: .*nothing inserted" "$(cat "$TMP/err.txt")" "naming the line"
assert_eq 100000 "$(q "SELECT count(*) FROM river_job")" "and nothing of it was inserted"
# A line is one object, nothing after it; priority and max_attempts as written.
for l in '{"kind":"demo.noop"}{"kind":"demo.noop"}' '{"kind":"demo.noop"} junk' '{"kind":"demo.noop","priority":0}' \
	'{"kind":"demo.noop","max_attempts":0}'; do
	printf '%s\n' "$l" | "$S" "${C[@]}" enqueue --stdin >/dev/null 2>&1; rc=$?
	assert_eq 1 "$rc" "stdin line $l refused"
done
assert_eq 100000 "$(q "SELECT count(*) FROM river_job")" "none of them inserted"
start_daemon "$TMP/d.ini" || finish
check "all 100,000 worked" wait_for "SELECT count(*) = 100000 FROM river_job WHERE state = 'completed'" 60

# jobs list / get / retry / delete / cancel.
out=$("$S" "${C[@]}" jobs list --limit 3)
assert_match "encrypted \(key $KID\)" "$out" "jobs list shows envelopes by key id"
id=$(q "SELECT max(id) FROM river_job")
assert_match "\"n\": 100000|\"n\":100000" "$("$S" "${C[@]}" jobs get "$id" --decrypt)" "jobs get --decrypt shows the args"
check "jobs get without --decrypt does not" bash -c "! '$S' -c '$TMP/d.ini' jobs get $id | grep -q '100000}'"
assert_match '^\{"id":[0-9]+,"kind":"demo.noop".*"state":"completed"' "$("$S" "${C[@]}" --json jobs get "$id")" "--json"
f=$(insert_job demo.fail '{"message":"x"}' max_attempts 1)
wait_for "SELECT state = 'discarded' FROM river_job WHERE id = $f" 5
assert_eq "job $f is available again" "$("$S" "${C[@]}" jobs retry "$f")" "jobs retry"
wait_for "SELECT state = 'discarded' AND attempt = 2 AND max_attempts = 2 FROM river_job WHERE id = $f" 5 &&
	ok "retried by River's rules (max_attempts bumped) and worked again" || not_ok "retry semantics"
assert_eq "job $f deleted (was discarded)" "$("$S" "${C[@]}" jobs delete "$f")" "jobs delete"
s=$(insert_job demo.sleep '{"ms": 30000}')
wait_for "SELECT state = 'running' FROM river_job WHERE id = $s" 5
bad 1 "job $s not deleted: it is running" jobs delete "$s"
assert_match "is running: cancellation requested" "$("$S" "${C[@]}" jobs cancel "$s")" "jobs cancel of a running job"
check "cancelled through the daemon" wait_for "SELECT state = 'cancelled' FROM river_job WHERE id = $s" 3
assert_eq "JobCancelError: job cancelled remotely" "$(q "SELECT errors[1]->>'error' FROM river_job WHERE id = $s")" "River's error"
bad 1 "already finalized" jobs cancel "$s"
later=$(insert_job demo.noop '{}' "state, scheduled_at" "'scheduled', now() + interval '1 hour'")
assert_eq "job $later cancelled" "$("$S" "${C[@]}" jobs cancel "$later")" "jobs cancel of a waiting job: at once"

# queues.
assert_match "default +no" "$("$S" "${C[@]}" queues list)" "queues list"
t0=$(date +%s%N)
"$S" "${C[@]}" queues pause default >/dev/null
p=$("$S" "${C[@]}" --json enqueue demo.noop '{}' | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
sleep 1.2
assert_eq available "$(q "SELECT state FROM river_job WHERE id = $p")" "paused: nothing fetched"
assert_match "default +yes" "$("$S" "${C[@]}" queues list)" "listed as paused"
"$S" "${C[@]}" queues resume '*' >/dev/null
check "resumed: worked at once" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $p" 2
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
finish
