# sluice migrate: River's exact schema (v6, v7), recorded as River records it,
# reversible, in a configurable schema, safe against dropping live jobs.
. tests/lib/common.sh
S="$B/sluice"

empty_db migrate
out=$("$S" migrate up 2>&1)
assert_match "applied +001.*applied +007.*now at version 7" "$(echo $out)" "migrate up applies 1..7"
check "schema equals River's v7 (pg_dump)" diff -u tests/golden/schema-v7.sql <(tests/lib/schema-dump "$DB")
assert_eq "main:1 main:2 main:3 main:4 main:5 main:6 main:7" \
	"$(q "SELECT string_agg(line || ':' || version, ' ' ORDER BY version) FROM river_migration")" \
	"river_migration rows are (line, version) like River's migrator writes"
assert_eq "already at version 7" "$("$S" migrate up | tail -n 1)" "migrate up is idempotent"
assert_match '"version":7,"latest":7' "$("$S" --json migrate status)" "status --json"
assert_match "version 7, latest 7 \(up to date\)" "$("$S" migrate status | head -n 1)" "status text"

out=$("$S" migrate down 2>&1)
assert_match "reverted +007.*reverted +001.*now at version 0" "$(echo $out)" "migrate down reverts 7..1"
assert_eq "0" "$(q "SELECT count(*) FROM pg_class WHERE relname LIKE 'river%'")" "down leaves no river tables or indexes"
assert_eq "0" "$(q "SELECT count(*) FROM pg_proc WHERE proname LIKE 'river%'")" "down leaves no river functions"
# River keeps the enum on the way down from 4 ('pending' cannot be dropped),
# but version 2's down drops the type itself.
assert_eq "0" "$(q "SELECT count(*) FROM pg_type WHERE typname = 'river_job_state'")" "down drops the enum"

"$S" migrate up --target-version 6 >/dev/null
check "schema equals River's v6 (pg_dump)" diff -u tests/golden/schema-v6.sql <(tests/lib/schema-dump "$DB")
"$S" migrate up >/dev/null
check "6 -> 7 upgrade equals a fresh v7" diff -u tests/golden/schema-v7.sql <(tests/lib/schema-dump "$DB")
# A version from a newer River: not reverted from under it (as River's migrator refuses).
q "INSERT INTO river_migration (line, version) VALUES ('main', 8)"
out=$("$S" migrate down --target-version 6 2>&1); rc=$?
assert_eq 1 "$rc" "down refuses below a version it does not know"
assert_match "at version 8, newer than this sluice knows \(latest 7\)" "$out" "and says why"
assert_eq 8 "$(q "SELECT max(version) FROM river_migration")" "nothing reverted"
assert_match "version 8, latest 7 \(newer than this sluice knows\)" "$("$S" migrate status | head -n 1)" "status says so"
q "DELETE FROM river_migration WHERE version = 8"

insert_job demo.noop '{}' >/dev/null
out=$("$S" migrate down 2>&1); rc=$?
assert_eq 1 "$rc" "down refuses while river_job has rows"
assert_match "river_job holds 1 rows.*--force" "$out" "and says how to proceed"
"$S" migrate down --target-version 6 >/dev/null
assert_eq 6 "$(q "SELECT max(version) FROM river_migration")" "down --target-version 6 keeps the jobs table"
assert_eq 1 "$(q "SELECT count(*) FROM river_job")" "and its rows"
"$S" migrate down --force --target-version '' >/dev/null 2>&1; rc=$?
assert_eq "64 6" "$rc $(q "SELECT max(version) FROM river_migration")" "an empty --target-version is a usage error, not version 0"
"$S" migrate down --force >/dev/null
assert_eq "0" "$(q "SELECT count(*) FROM pg_class WHERE relname LIKE 'river%'")" "down --force removes it all"

# A configured schema holds everything, quoted.
cat >"$TMP/schema.ini" <<INI
[database]
url = $DATABASE_URL
schema = jobs_Area
INI
"$S" -c "$TMP/schema.ini" migrate up >/dev/null
assert_eq "7" "$(q 'SELECT max(version) FROM "jobs_Area".river_migration')" "[database] schema: migrations land in that schema"
assert_eq "0" "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'river%'")" "nothing in public"
assert_match "version 7" "$("$S" -c "$TMP/schema.ini" migrate status | head -n 1)" "status reads the configured schema"

out=$("$S" --database-url "postgresql:///nope?host=/nonexistent" migrate status 2>&1); rc=$?
assert_eq 69 "$rc" "unreachable database: exit 69"
assert_match "^sluice: cannot connect to the database: " "$out" "one clear line"
out=$("$S" migrate sideways 2>&1); rc=$?
assert_eq 64 "$rc" "unknown subcommand: exit 64"
assert_match "--target-version" "$("$S" migrate --help)" "migrate --help"
finish
