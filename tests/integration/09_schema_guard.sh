# sluiced refuses databases it cannot work: no River schema, a schema older
# than migration 6, a role without rights on river_job.
. tests/lib/common.sh
empty_db guard
write_config "$TMP/d.ini"
out=$(timeout 20 "$B/sluiced" -c "$TMP/d.ini" 2>&1); rc=$?
assert_eq 78 "$rc" "no River schema: exit 78"
assert_match "River's schema was not found.*run \`sluice -c $TMP/d.ini migrate up\`" "$out" "says how to migrate"

"$B/sluice" migrate up --target-version 5 >/dev/null
out=$(timeout 20 "$B/sluiced" -c "$TMP/d.ini" 2>&1); rc=$?
assert_eq 78 "$rc" "schema at version 5: exit 78"
assert_match "database schema is at River migration 5; sluiced needs 6 or later: run \`sluice -c" "$out" "names the version and the fix"

"$B/sluice" migrate up >/dev/null
q "SET client_min_messages = warning; DROP ROLE IF EXISTS sluice_ro; CREATE ROLE sluice_ro LOGIN; GRANT SELECT ON river_job, river_migration TO sluice_ro"
DATABASE_URL=$(pg_url "$DB" | sed 's/user=postgres/user=sluice_ro/') write_config "$TMP/d.ini"
out=$(env -u DATABASE_URL timeout 20 "$B/sluiced" -c "$TMP/d.ini" 2>&1); rc=$?
assert_eq 78 "$rc" "read-only role: exit 78"
assert_match "permission denied: this database role needs SELECT, INSERT and UPDATE on river_job" "$out" "says which rights"
q "DROP OWNED BY sluice_ro; DROP ROLE sluice_ro"
finish
