# Timeouts: a job past [worker] job_timeout is asked to stop and records a
# timeout error; its slot is freed once the handler returns.
. tests/lib/common.sh
new_db timeout
write_config "$TMP/d.ini"
sed -i 's/^\[worker\]$/[worker]\njob_timeout = 300ms\nqueues = default=1/' "$TMP/d.ini"
slow=$(insert_job demo.sleep '{"ms": 30000}')
quick=$(insert_job demo.noop '{}' priority 2)
start_daemon "$TMP/d.ini" || finish
check "the timed-out job gets an error" wait_for "SELECT errors IS NOT NULL FROM river_job WHERE id = $slow" 5
assert_eq "job timed out after 300ms|available" "$(q "SELECT errors[1]->>'error', state FROM river_job WHERE id = $slow")" \
	"timeout error text, retried by River's policy"
check "the single slot is free again" wait_for "SELECT state = 'completed' FROM river_job WHERE id = $quick" 5
stop_daemon
assert_eq 0 "$STOP_RC" "clean exit"
finish
