# The systemd side, through a stand-in NOTIFY_SOCKET (PID 1 is not systemd
# in CI): READY=1 once connected and listening, RELOADING=1/READY=1 around
# SIGHUP, STATUS= with counts, WATCHDOG=1 from the loop (and none while the
# loop is stopped), STOPPING=1 on SIGTERM. And the unit's security score.
. tests/lib/common.sh
new_db systemd
maint_config "$TMP/d.ini" worker-a
"$B/tests/tools/notify-listen" "$TMP/notify" >"$TMP/notify.log" &
NL=$!
sleep 0.2
q "INSERT INTO river_job (kind, args, max_attempts) SELECT 'demo.noop', '{}', 25 FROM generate_series(1, 5)"
NOTIFY_SOCKET=$TMP/notify WATCHDOG_USEC=600000 start_daemon "$TMP/d.ini" || finish
wait_for "SELECT count(*) = 5 FROM river_job WHERE state = 'completed'" 10
sleep 1.5
grep -q ' READY=1$' "$TMP/notify.log" && ok "READY=1" || not_ok "no READY=1"
assert_eq 1 "$(grep -c ' READY=1$' "$TMP/notify.log")" "READY=1 once"
check "WATCHDOG=1 pings about every 300ms" test "$(grep -c 'WATCHDOG=1' "$TMP/notify.log")" -ge 4
grep -q 'STATUS=working; running 0, done 5' "$TMP/notify.log" && ok "STATUS with counts" || not_ok "no STATUS line with counts"
kill -HUP "$DAEMON_PID"; sleep 0.5
grep -q ' RELOADING=1|MONOTONIC_USEC=[0-9]*$' "$TMP/notify.log" && ok "RELOADING=1 on SIGHUP" || not_ok "no RELOADING=1"
assert_eq 2 "$(grep -c ' READY=1$' "$TMP/notify.log")" "READY=1 again after the reload"
# A stopped loop stops the pings: what makes systemd's watchdog fire.
kill -STOP "$DAEMON_PID"; t0=$(awk 'END {print $1}' "$TMP/notify.log"); sleep 1.5
n_stopped=$(awk -v t="$t0" '$1 > t && /WATCHDOG=1/' "$TMP/notify.log" | wc -l)
kill -CONT "$DAEMON_PID"; sleep 0.8
n_after=$(awk -v t="$t0" '$1 > t && /WATCHDOG=1/' "$TMP/notify.log" | wc -l)
assert_eq 0 "$n_stopped" "no pings while the loop is stopped (systemd would kill it after WatchdogSec)"
check "pings resume with the loop" test "$n_after" -ge 1
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
grep -q ' STOPPING=1$' "$TMP/notify.log" && ok "STOPPING=1 on SIGTERM" || not_ok "no STOPPING=1"
kill "$NL"; wait "$NL" 2>/dev/null

# A SIGHUP before READY=1 (the database is down) reloads, but sends neither
# RELOADING=1 nor READY=1: systemd would take the unit as started.
"$B/tests/tools/notify-listen" "$TMP/notify2" >"$TMP/notify2.log" &
NL=$!
sleep 0.2
DATABASE_URL="postgresql:///x?host=$TMP/nowhere" NOTIFY_SOCKET=$TMP/notify2 \
	${SLUICED_WRAP:-} "$B/sluiced" -c "$TMP/d.ini" 2>"$TMP/down.log" &
DOWN=$!
for i in $(seq 100); do grep -q 'msg="sluiced starting"' "$TMP/down.log" && break; sleep 0.1; done
kill -HUP "$DOWN"
check "the early SIGHUP reloads" \
	bash -c "for i in \$(seq 100); do grep -q 'msg=\"configuration reloaded\"' '$TMP/down.log' && exit 0; sleep 0.1; done; exit 1"
sleep 0.3
assert_eq 0 "$(grep -c -e 'READY=1' -e 'RELOADING=1' "$TMP/notify2.log")" "no READY=1 or RELOADING=1 before the database is up"
kill -TERM "$DOWN"; wait "$DOWN"
assert_eq 0 "$?" "stopped while waiting for the database: clean exit"
check "no sanitizer reports" no_sanitizer_reports "$TMP/down.log"
kill "$NL"; wait "$NL" 2>/dev/null

if command -v systemd-analyze >/dev/null; then
	score=$(systemd-analyze security --offline=true systemd/sluiced.service 2>/dev/null | sed -n 's/.*Overall exposure level for sluiced.service: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security score $score <= 2.0" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
	systemd-analyze verify systemd/sluiced.service >"$TMP/verify.log" 2>&1
	# (binaries and man pages are only there after make install)
	check "systemd-analyze verify: no unknown or bad directives" \
		bash -c "! grep -i 'sluiced.service:' '$TMP/verify.log' | grep -v -e 'is not executable' -e \"Command 'man sluiced\""
else
	echo "  (systemd-analyze not installed: security score not checked)"
fi
finish
