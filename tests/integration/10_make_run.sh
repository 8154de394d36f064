# The README's first command: `make run` (scripts/run-demo) starts its own
# PostgreSQL under ./.run/, migrates, works the demo jobs, shows them, and
# cleans up after itself.
. tests/lib/common.sh
[ -e .run ] && { echo "  skipped: ./.run exists (a make run in progress?)"; finish; }
out=$(env -u DATABASE_URL -u PGHOST -u PGPORT RUN_SECONDS=0 SLUICE_BUILD="$B" timeout 120 scripts/run-demo 2>&1); rc=$?
assert_eq 0 "$rc" "run-demo exits 0"
assert_match "starting a throwaway PostgreSQL \(data in .run/pg" "$out" "starts its own PostgreSQL under .run/"
assert_match "msg=\"sluiced ready\"" "$out" "the daemon starts"
assert_match "demo.echo +\| completed +\| +1 \| \{\"river_encrypt\": \"s2.xchacha20poly1305.k.*hello from sluice" "$out" "demo jobs are shown worked, encrypted at rest"
assert_match "demo.echo .*from.*a handler" "$out" "including a child job a handler enqueued"
assert_match "demo.cancel +\| cancelled" "$out" "including the unhappy paths"
assert_match "msg=stopped" "$out" "the daemon stops cleanly"
check "./.run is removed" test ! -e .run
finish
