# tests/lib/common.sh -- helpers for integration tests. Each test script runs
# in its own bash process against the PostgreSQL tests/run started, with a
# fresh database cloned from a migrated template, and the real binaries.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"

B=${SLUICE_BUILD:-build}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-test.XXXXXX")
DAEMON_PIDS=()
DAEMON_LOGS=()
FAILED=0
NCHECK=0

cleanup() {
	local p
	for p in "${DAEMON_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	if [ "$FAILED" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT

ok() { NCHECK=$((NCHECK + 1)); echo "  ok - $*"; }
not_ok() { NCHECK=$((NCHECK + 1)); FAILED=$((FAILED + 1)); echo "  NOT OK - $*"; }
check() { # check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
assert_eq() { # assert_eq expected actual description
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3 (expected '$1', got '$2')"; fi
}
assert_match() { # assert_match regex actual description
	if [[ "$2" =~ $1 ]]; then ok "$3"; else not_ok "$3 ('$2' does not match /$1/)"; fi
}
finish() {
	# Every daemon log of the test is scanned for sanitizer and valgrind
	# reports, unless the test crashes the daemon on purpose.
	local l
	if [ -z "${CRASH_EXPECTED:-}" ]; then
		for l in "${DAEMON_LOGS[@]}"; do
			[ -f "$l" ] || continue
			if no_sanitizer_reports "$l"; then continue; fi
			not_ok "sanitizer or valgrind report in $l:"
			grep -m 20 -E "$SANITIZER_RE" "$l" | sed 's/^/    /'
		done
	fi
	if [ "$FAILED" -ne 0 ]; then echo "  $FAILED of $NCHECK checks failed (files kept in $TMP)"; exit 1; fi
	exit 0
}
fatal() { echo "  FATAL: $*"; FAILED=$((FAILED + 1)); finish; }

# new_db NAME: a fresh database at the latest River schema; sets DB and DATABASE_URL.
new_db() {
	DB="t_$1_$$"
	createdb -T sluice_template "$DB" || fatal "createdb $DB"
	DATABASE_URL=$(pg_url "$DB")
	export DB DATABASE_URL
}
# empty_db NAME: a fresh database without River's schema.
empty_db() {
	DB="t_$1_$$"
	createdb "$DB" || fatal "createdb $DB"
	DATABASE_URL=$(pg_url "$DB")
	export DB DATABASE_URL
}

q() { psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# wait_for SQL [SECONDS]: until the query returns t.
wait_for() {
	local sql=$1 secs=${2:-15} i
	for ((i = 0; i < secs * 20; i++)); do
		[ "$(q "$sql" 2>/dev/null)" = t ] && return 0
		sleep 0.05
	done
	echo "  (timed out after ${secs}s waiting for: $sql)"
	return 1
}

# wait_lines FILE TEXT COUNT [SECONDS]: until COUNT lines of FILE hold TEXT.
wait_lines() {
	local f=$1 text=$2 n=$3 secs=${4:-15} i
	for ((i = 0; i < secs * 20; i++)); do
		[ "$(grep -c -F -- "$text" "$f" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.05
	done
	echo "  (timed out after ${secs}s waiting for $n lines with '$text' in $f)"
	return 1
}

# insert_job KIND ARGS [COLUMNS VALUES]: the way River's Python client inserts
# (plain INSERT, no NOTIFY). Prints the new id.
insert_job() {
	local kind=$1 args=$2 cols=${3:-} vals=${4:-}
	if [[ ",${cols// /}," != *",max_attempts,"* ]]; then
		cols="max_attempts${cols:+,$cols}"
		vals="25${vals:+,$vals}"
	fi
	q "INSERT INTO river_job (kind, args, $cols) VALUES ('$kind', '$args', $vals) RETURNING id"
}

# write_config FILE [extra lines]: a daemon config for this test's database.
write_config() {
	local f=$1; shift
	{
		echo "[database]"
		echo "url = $DATABASE_URL"
		echo "[worker]"
		echo "plugins = $PWD/$B/plugins/demo.so"
		echo "poll_interval = 200ms"
		echo "fetch_cooldown = 10ms"
		echo "[log]"
		echo "level = debug"
		local line
		for line in "$@"; do echo "$line"; done
	} >"$f"
}

# Sanitizer builds: report everything, fail hard.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-abort_on_error=1:halt_on_error=1:second_deadlock_stack=1}

# start_daemon CONFIG [LOG]: starts sluiced and waits until it is ready.
# Sets DAEMON_PID and DAEMON_LOG.
start_daemon() {
	local conf=$1
	DAEMON_LOG=${2:-$TMP/sluiced.$((${#DAEMON_PIDS[@]} + 1)).log}
	${SLUICED_WRAP:-} "$B/sluiced" -c "$conf" 2>"$DAEMON_LOG" &
	DAEMON_PID=$!
	DAEMON_PIDS+=("$DAEMON_PID")
	DAEMON_LOGS+=("$DAEMON_LOG")
	local i
	for ((i = 0; i < ${START_WAIT_TICKS:-200}; i++)); do
		grep -q 'msg="sluiced ready"' "$DAEMON_LOG" && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	not_ok "daemon did not become ready; log:"
	sed 's/^/    /' "$DAEMON_LOG" | tail -n 20
	return 1
}

# stop_daemon [PID] [SIGNAL]: signals it and waits; its exit status goes to
# STOP_RC (not printed: `wait` only works in the shell that started it).
stop_daemon() {
	local pid=${1:-$DAEMON_PID} sig=${2:-TERM}
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid"
	STOP_RC=$?
}

# no_sanitizer_reports LOG: fails on ASan/UBSan/LSan/TSan output, and on any
# line valgrind -q prints (it only prints errors, as ==PID== lines).
SANITIZER_RE='AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer|^==[0-9]+== '
no_sanitizer_reports() {
	! grep -qE "$SANITIZER_RE" "$1"
}

# maint_config FILE ID [extra lines]: a daemon config with fast maintenance.
maint_config() {
	local f=$1 id=$2; shift 2
	write_config "$f"
	sed -i "s/^\[worker\]$/[worker]\nid = $id/; s/^level = debug/level = info/" "$f"
	{
		echo "[maintenance]"
		echo "scheduler_interval = 300ms"
		echo "rescuer_interval = 300ms"
		echo "cleaner_interval = 300ms"
		local l; for l in "$@"; do echo "$l"; done
	} >>"$f"
}

# slow_completions SECONDS: outcomes written slowly and a statement_timeout
# of 1 s on the test's database; SECONDS, an SQL expression over NEW, is
# how long each row's update to completed takes (a trigger's pg_sleep).
slow_completions() {
	q "ALTER DATABASE \"$DB\" SET statement_timeout = '1s'" >/dev/null
	q "CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS
	   \$\$BEGIN PERFORM pg_sleep($1); RETURN NEW; END\$\$" >/dev/null
	q "CREATE TRIGGER test_slow BEFORE UPDATE ON river_job FOR EACH ROW
	   WHEN (NEW.state = 'completed') EXECUTE FUNCTION test_slow()" >/dev/null
}

# free_port: a TCP port nothing listens on.
free_port() {
	local p
	for p in $(shuf -i 20000-40000 -n 50); do
		(exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return; }
	done
	return 1
}
