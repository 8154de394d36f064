# Leadership when the database misbehaves. A statement string that fails
# between its BEGIN and COMMIT (the election, here refused by a trigger)
# leaves no aborted transaction behind: the next election, and everything
# else on the maintenance connection, works (before, every later statement
# failed with 25P02, and the node could never lead again). A leader whose
# renewal gets no answer (here it waits on a row lock) steps down at the end
# of its term, not when the answer comes. River's request_resign makes the
# leader give up its term, whether it comes while the leader is idle or
# while its renewal waits on a row lock (before, that request was dropped).
. tests/lib/common.sh
new_db aborted
maint_config "$TMP/d.ini" solo
q "CREATE FUNCTION test_refuse_leader() RETURNS trigger LANGUAGE plpgsql AS
   \$\$BEGIN RAISE EXCEPTION 'test: no leader yet'; END\$\$" >/dev/null
q "CREATE TRIGGER test_refuse_leader BEFORE INSERT ON river_leader FOR EACH ROW EXECUTE FUNCTION test_refuse_leader()" >/dev/null
start_daemon "$TMP/d.ini" || finish
check "the first election fails" \
	bash -c "for i in \$(seq 100); do grep -q 'msg=\"leader election failed\".*test: no leader yet' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
q "DROP TRIGGER test_refuse_leader ON river_leader" >/dev/null
check "a later election succeeds" wait_for "SELECT count(*) = 1 FROM river_leader WHERE leader_id = 'solo'" 20
q "INSERT INTO river_job (kind, args, state, scheduled_at) VALUES ('demo.noop', '{}', 'scheduled', now())" >/dev/null
check "and the leader's scheduler runs" wait_for "SELECT state = 'completed' FROM river_job" 10
assert_eq 0 "$(grep -c 'current transaction is aborted' "$DAEMON_LOG")" "nothing ran in the aborted transaction"
assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction (aborted)'")" \
	"no session left idle in an aborted transaction"

psql -XAtq -d "$DB" -c "BEGIN; SELECT 1 FROM river_leader FOR UPDATE; SELECT pg_sleep(24); COMMIT;" >/dev/null &
LOCKER=$!
t0=$(date +%s)
check "the leader steps down with its renewal unanswered" \
	bash -c "for i in \$(seq 200); do grep -q 'stepping down: could not renew leadership in time' '$DAEMON_LOG' && exit 0; sleep 0.1; done; exit 1"
check "within its 15 s term ($(($(date +%s) - t0)) s), while the lock is still held" kill -0 "$LOCKER"
wait "$LOCKER"
check "and leads again once the row is free" \
	bash -c "for i in \$(seq 300); do [ \$(grep -c 'msg=\"elected leader\"' '$DAEMON_LOG') -ge 2 ] && exit 0; sleep 0.1; done; exit 1"

resigned() { grep -c 'msg="resigned leadership"' "$DAEMON_LOG"; }
request_resign() { q "SELECT pg_notify('public.river_leadership', '{\"action\": \"request_resign\"}')" >/dev/null; }
request_resign
check "an idle leader resigns on request" \
	bash -c "for i in \$(seq 50); do [ \$(grep -c 'msg=\"resigned leadership\"' '$DAEMON_LOG') -ge 1 ] && exit 0; sleep 0.1; done; exit 1"
check "and bids again after an election interval" \
	bash -c "for i in \$(seq 150); do [ \$(grep -c 'msg=\"elected leader\"' '$DAEMON_LOG') -ge 3 ] && exit 0; sleep 0.1; done; exit 1"
# The first renewal of the new term is sent 5 s after the election, so a
# lock taken now and held 7 s blocks it, and a request 5.5 s from now
# arrives while it waits.
term=$(q "SELECT elected_at FROM river_leader")
downs=$(grep -c 'stepping down' "$DAEMON_LOG")
psql -XAtq -d "$DB" -c "BEGIN; SELECT 1 FROM river_leader FOR UPDATE; SELECT pg_sleep(7); COMMIT;" >/dev/null &
LOCKER=$!
sleep 5.5
assert_eq 1 "$(resigned)" "no resignation while the renewal waits"
request_resign
wait "$LOCKER"
check "a leader asked while its renewal waited resigns once it is answered" \
	bash -c "for i in \$(seq 30); do [ \$(grep -c 'msg=\"resigned leadership\"' '$DAEMON_LOG') -ge 2 ] && exit 0; sleep 0.1; done; exit 1"
assert_eq 0 "$(q "SELECT count(*) FROM river_leader WHERE elected_at = '$term'")" "its term's row is gone"
assert_eq "$downs" "$(grep -c 'stepping down' "$DAEMON_LOG")" "without a step-down at the end of the term"
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
check "no sanitizer reports" no_sanitizer_reports "$DAEMON_LOG"
finish
