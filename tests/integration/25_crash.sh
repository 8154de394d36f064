# A handler that crashes (SIGSEGV) takes sluiced down with it: plugins run
# in-process. What is promised: no core file (even where the shell allows
# them) and nothing secret in what the crash prints; restarted (systemd's
# Restart=on-failure), its stuck jobs are rescued after rescue_after and
# retried by River's policy, so the crashing job ends discarded at
# max_attempts and no other job is lost.
. tests/lib/common.sh
new_db crash
CRASH_EXPECTED=1 # the sanitizers and valgrind report the deliberate SIGSEGV
"$B/sluice" keygen --out "$TMP/k.key" 2>/dev/null
q "CREATE TABLE torture_runs (job_id bigint, attempt int, kind text, what text, at timestamptz DEFAULT now())"
export TORTURE_URL=$DATABASE_URL
# L leads (rescuer, scheduler) and works another queue; C works the jobs.
maint_config "$TMP/l.ini" worker-l "rescue_after = 2s"
sed -i 's/^\[worker\]$/[worker]\nqueues = other=1/' "$TMP/l.ini"
maint_config "$TMP/c.ini" worker-c "enabled = false"
sed -i "s|^plugins = .*|plugins = $PWD/$B/tests/plugins/recorder.so|" "$TMP/c.ini"
for f in l c; do printf '[encryption]\nkeys = file:%s\n' "$TMP/k.key" >>"$TMP/$f.ini"; done
printf '{"kind":"torture.ok","args":{"s":"CRASH_MARKER"}}\n%.0s' 1 2 3 | "$B/sluice" -c "$TMP/c.ini" enqueue --stdin >/dev/null
crash=$("$B/sluice" -c "$TMP/c.ini" --json enqueue torture.crash '{"s":"CRASH_MARKER"}' --max-attempts 2 | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
start_daemon "$TMP/l.ini" "$TMP/l.log" || finish
wait_for "SELECT count(*) = 1 FROM river_leader" 10

crashes=0
mkdir -p "$TMP/cwd"
# Under ASan/TSan the sanitizer reports the fault and aborts (its report
# replaces sluiced's one-line crash report).
expect_rc=139 san=
ldd "$B/sluiced" | grep -q 'libasan\|libtsan' && expect_rc=134 san=1
for round in 1 2 3 4; do
	# Core files allowed by the shell, dumped into the working directory:
	# only sluiced's own protection keeps them away.
	(cd "$TMP/cwd" && ulimit -c unlimited && exec "$OLDPWD/$B/sluiced" -c "$TMP/c.ini") 2>>"$TMP/crash.log" &
	pid=$!; DAEMON_PIDS+=("$pid")
	# A daemon that does not crash must not hang the test.
	( sleep 30; kill "$pid" 2>/dev/null ) & guard=$!
	wait "$pid"; rc=$?
	kill "$guard" 2>/dev/null
	[ "$rc" = "$expect_rc" ] && crashes=$((crashes + 1))
	wait_for "SELECT state IN ('available', 'discarded') FROM river_job WHERE id = $crash" 20 >/dev/null
	[ "$(q "SELECT state FROM river_job WHERE id = $crash")" = discarded ] && break
done
assert_eq 2 "$crashes" "the daemon died by the fault once per attempt (max_attempts 2)"
check "no core file, though the shell allowed one" test -z "$(ls "$TMP/cwd")"
assert_eq "discarded|2" "$(q "SELECT state, (SELECT count(*) FROM unnest(errors) e WHERE e->>'error' = 'Stuck job rescued by JobRescuer') FROM river_job WHERE id = $crash")" \
	"the crashing job: rescued after each crash, discarded at max_attempts"
start_daemon "$TMP/c.ini" "$TMP/c2.log" || finish
check "no other job lost" wait_for "SELECT count(*) = 3 FROM river_job WHERE kind = 'torture.ok' AND state = 'completed'" 20
stop_daemon
[ -n "$san" ] || assert_eq 2 "$(grep -c "msg=\"fatal signal\" signal=SIGSEGV in_handler=true kind=torture.crash job_id=$crash" "$TMP/crash.log")" "each crash names the kind and job"
check "nothing secret in what the crashes printed" test "$(grep -c -e CRASH_MARKER -e "$(cat "$TMP/k.key")" "$TMP/crash.log")" = 0

# Keys that arrive by a reload turn core files off too (SIGHUP after keys
# were added to a daemon started without any).
core_limit() { awk '/^Max core file size/ {print $5, $6}' "/proc/$1/limits"; }
grep -v -e '^\[encryption\]' -e '^keys = ' "$TMP/c.ini" >"$TMP/r.ini"
(ulimit -c unlimited && exec "$B/sluiced" -c "$TMP/r.ini") 2>"$TMP/r.log" &
pid=$!; DAEMON_PIDS+=("$pid")
for ((i = 0; i < 200; i++)); do grep -q 'msg="sluiced ready"' "$TMP/r.log" && break; sleep 0.05; done
# (the hard limit: ASan lowers the soft one itself)
assert_eq "unlimited" "$(core_limit "$pid" | cut -d' ' -f2)" "no keys: core files as the shell allows"
printf '[encryption]\nkeys = file:%s\n' "$TMP/k.key" >>"$TMP/r.ini"
kill -HUP "$pid"
for ((i = 0; i < 200; i++)); do grep -q 'msg="configuration reloaded"' "$TMP/r.log" && break; sleep 0.05; done
assert_match 'keys=1' "$(grep 'configuration reloaded' "$TMP/r.log")" "the reload loaded the key"
assert_eq "0 0" "$(core_limit "$pid")" "keys loaded by a reload: no core files"
stop_daemon "$pid"
finish
