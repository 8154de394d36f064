/* sql.h -- the statements the daemon sends, as templates ({S} = schema
 * prefix, rendered once at start). Kept together so the benchmark's "SQL
 * ceiling" can run exactly these. */
#ifndef SLUICE_SQL_H
#define SLUICE_SQL_H

/* Run first on every connection of the daemon (and the ceiling's), so
 * that every statement is planned for its parameters and for the table as
 * it is now. A prepared statement otherwise switches to a generic plan
 * after five runs and keeps it while river_job grows: cached over an empty
 * table, the fetch went on reading the whole table (4k instead of 20k
 * jobs/s under continuous inserts; tests/integration/29_plans.sh).
 * Planning costs about 0.3 ms, for a statement of up to a thousand jobs
 * (a fetch of 1,000 runs for ~17 ms). */
#define SQL_SESSION_SETUP "SET plan_cache_mode = force_custom_plan"

/* River keeps the last 100 entries of attempted_by. */
#define SQL_MAX_ATTEMPTED_BY "100"

/* River's JobGetAvailable for one queue: $1 queue, $2 limit, $3 worker id.
 * Returns the columns job_from_row() reads, in this order.
 *
 * The locked rows are updated by primary key (id = ANY), not by a join with
 * the CTE as River writes it. Same rows, same columns; but the join lets the
 * planner hash the whole table: it does so with good statistics up to ~100k
 * rows (45 of a fetch's 59 ms at 100k), and a plan cached while the table
 * was small keeps doing it as the table grows (continuous inserts after a
 * TRUNCATE: a seq scan of 600k rows per fetch, 4k instead of 20k jobs/s).
 * The row order RETURNING gives is not River's either; it does not matter,
 * as every fetched job gets a free worker at once (fetch.c). */
#define SQL_FETCH                                                                       \
	"WITH locked_jobs AS (\n"                                                       \
	"  SELECT id FROM {S}river_job\n"                                               \
	"  WHERE state = 'available' AND queue = $1::text AND scheduled_at <= now()\n"  \
	"  ORDER BY priority ASC, scheduled_at ASC, id ASC\n"                           \
	"  LIMIT $2::integer\n"                                                         \
	"  FOR UPDATE SKIP LOCKED\n"                                                    \
	")\n"                                                                           \
	"UPDATE {S}river_job SET\n"                                                     \
	"  state = 'running',\n"                                                        \
	"  attempt = river_job.attempt + 1,\n"                                          \
	"  attempted_at = now(),\n"                                                     \
	"  attempted_by = array_append(\n"                                              \
	"    CASE WHEN array_length(river_job.attempted_by, 1) >= " SQL_MAX_ATTEMPTED_BY \
	"\n"                                                                            \
	"    THEN river_job.attempted_by[array_length(river_job.attempted_by, 1) + 2 - " \
	SQL_MAX_ATTEMPTED_BY ":]\n"                                                     \
	"    ELSE river_job.attempted_by END, $3::text)\n"                              \
	"WHERE river_job.id = ANY (ARRAY(SELECT id FROM locked_jobs))\n"                \
	"RETURNING river_job.id, river_job.args, river_job.attempt,\n"                  \
	"  river_job.max_attempts, river_job.priority, river_job.kind, river_job.queue,\n" \
	"  river_job.metadata, to_json(river_job.tags),\n"                              \
	"  (extract(epoch FROM river_job.created_at) * 1000000)::int8,\n"               \
	"  (extract(epoch FROM river_job.scheduled_at) * 1000000)::int8,\n"             \
	"  (extract(epoch FROM river_job.attempted_at) * 1000000)::int8,\n"             \
	"  coalesce(array_length(river_job.errors, 1), 0)"

enum fetch_col {
	FC_ID, FC_ARGS, FC_ATTEMPT, FC_MAX_ATTEMPTS, FC_PRIORITY, FC_KIND, FC_QUEUE,
	FC_METADATA, FC_TAGS, FC_CREATED_AT, FC_SCHEDULED_AT, FC_ATTEMPTED_AT, FC_ERRORS,
	FC_COUNT
};

/* River's JobSetStateIfRunningMany, fed one JSON array ($1) of completion
 * records. Rows no longer running are left alone, and so are rows running
 * another attempt than the one that finished (rescued and refetched). A
 * retry, snooze or interrupt (cr: outcome.c says which) of a job whose
 * cancellation was requested
 * (metadata.cancel_attempted_at) cancels it instead. Returns the ids it
 * updated.
 *
 * As River, an outcome's metadata updates (output, snoozes) are merged
 * whatever the row's state: "merged" takes the rows "updated" left alone.
 * It reads updated's ids, so it runs after it and the two never touch one
 * row; a row changed by someone else meanwhile is merged once that commits.
 * Of two records of one job in a batch (two attempts of it finished here),
 * only ones with metadata take part, in no set order.
 *
 * A record sent again after a lost reply carries "at", the attempted_at it
 * was fetched with: a snooze or interrupt gives the attempt back, so a job
 * fetched again meanwhile runs the same attempt number, and only
 * attempted_at tells the two runs apart. Both updates then leave the new
 * run alone (its children too). Others carry none: a NULL check per row.
 *
 * Rows are found by primary key, as in SQL_FETCH. state::text is not
 * indexable, on purpose: with statistics taken while no job was running, the
 * planner otherwise reads every running row through the fetching index's
 * state prefix, per statement (93 ms against 25 ms with 200k rows running;
 * with id = ANY as a filter over them all, 795 ms). */
#define SQL_COMPLETE_CTES                                                               \
	"WITH input AS (\n"                                                             \
	"  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, fa smallint,\n"   \
	"    state {S}river_job_state, attempt smallint, error jsonb,\n"                \
	"    finalized_at timestamptz, scheduled_at timestamptz, metadata jsonb,\n"      \
	"    cr boolean, at timestamptz)\n"                                             \
	"),\n"                                                                          \
	"updated AS (\n"                                                                \
	"  UPDATE {S}river_job AS j SET\n"                                              \
	"    state = CASE WHEN i.cr AND j.metadata ? 'cancel_attempted_at'\n"           \
	"      THEN 'cancelled'::{S}river_job_state ELSE i.state END,\n"                \
	"    attempt = CASE WHEN i.cr AND j.metadata ? 'cancel_attempted_at'\n"         \
	"      THEN j.attempt ELSE coalesce(i.attempt, j.attempt) END,\n"               \
	"    errors = CASE WHEN i.error IS NULL THEN j.errors\n"                        \
	"      ELSE array_append(j.errors, i.error) END,\n"                             \
	"    finalized_at = CASE WHEN i.cr AND j.metadata ? 'cancel_attempted_at'\n"    \
	"      THEN now() ELSE i.finalized_at END,\n"                                   \
	"    scheduled_at = CASE WHEN i.cr AND j.metadata ? 'cancel_attempted_at'\n"    \
	"      THEN j.scheduled_at ELSE coalesce(i.scheduled_at, j.scheduled_at) END,\n" \
	"    metadata = CASE WHEN i.metadata IS NULL THEN j.metadata\n"                 \
	"      ELSE j.metadata || i.metadata END\n"                                     \
	"  FROM input i\n"                                                              \
	"  WHERE j.id = ANY (ARRAY(SELECT id FROM input)) AND j.id = i.id\n"           \
	"    AND j.state::text = 'running' AND j.attempt = i.fa\n"                     \
	"    AND (i.at IS NULL OR j.attempted_at = i.at)\n"                            \
	"  RETURNING j.id\n"                                                            \
	"),\n"                                                                          \
	"merged AS (\n"                                                                 \
	"  UPDATE {S}river_job AS j SET metadata = j.metadata || i.metadata\n"          \
	"  FROM input i\n"                                                              \
	"  WHERE j.id = ANY (ARRAY(SELECT id FROM input WHERE metadata IS NOT NULL))\n" \
	"    AND j.id = i.id AND i.metadata IS NOT NULL\n"                              \
	"    AND (i.at IS NULL OR j.attempted_at = i.at)\n"                            \
	"    AND j.id NOT IN (SELECT id FROM updated)\n"                                \
	")"
#define SQL_COMPLETE SQL_COMPLETE_CTES "\nSELECT id FROM updated"

/* Jobs to insert, as the JSON array insert_encode() writes. */
#define SQL_INSERT_RECORDSET(param)                                                     \
	"jsonb_to_recordset(" param "::jsonb) AS c(parent_id bigint, kind text, args jsonb,\n" \
	"    queue text, priority smallint, max_attempts smallint,\n"                   \
	"    state {S}river_job_state, scheduled_at timestamptz, tags varchar(255)[],\n" \
	"    metadata jsonb, unique_key text, unique_states integer)"

/* River's insert: a unique job whose key is taken in one of its states is
 * skipped (the partial unique index), as JobInsertFastMany does. */
#define SQL_INSERT_FROM(recordset, where)                                               \
	"  INSERT INTO {S}river_job (args, kind, max_attempts, metadata, priority, queue,\n" \
	"    scheduled_at, state, tags, unique_key, unique_states)\n"                    \
	"  SELECT c.args, c.kind, c.max_attempts, c.metadata, c.priority, c.queue,\n"    \
	"    coalesce(c.scheduled_at, now()), c.state, c.tags, decode(c.unique_key, 'hex'),\n" \
	"    c.unique_states::bit(8)\n"                                                  \
	"  FROM " recordset "\n" where                                                     \
	"  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL\n" \
	"    AND {S}river_job_state_in_bitmask(unique_states, state) DO NOTHING\n"       \
	"  RETURNING id, queue, state\n"

/* NOTIFY <prefix>river_insert once per queue that got available jobs. */
#define SQL_NOTIFY_INSERTED(channel_param)                                                  \
	"notified AS (\n"                                                                  \
	"  SELECT pg_notify(" channel_param ", json_build_object('queue', queue)::text)\n"   \
	"  FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') q\n"       \
	")\n"

/* SQL_COMPLETE plus the jobs the completed handlers enqueued ($2), inserted
 * only for parents this statement actually updated; $3 is the channel.
 * Returns updated ids and the number of children inserted. */
#define SQL_COMPLETE_WITH_CHILDREN                                                      \
	SQL_COMPLETE_CTES ",\n"                                                          \
	"inserted AS (\n" SQL_INSERT_FROM(SQL_INSERT_RECORDSET("$2"),                  \
	                                 "  WHERE c.parent_id IN (SELECT id FROM updated)\n") \
	"),\n" SQL_NOTIFY_INSERTED("$3")                                                \
	"SELECT id, (SELECT count(*) FROM inserted), (SELECT count(*) FROM notified) FROM updated"

/* `sluice enqueue`: $1 jobs, $2 channel. Returns inserted ids (duplicates
 * of unique jobs are skipped, so fewer rows may come back). */
#define SQL_INSERT_JOBS                                                                 \
	"WITH inserted AS (\n" SQL_INSERT_FROM(SQL_INSERT_RECORDSET("$1"), "")             \
	"),\n" SQL_NOTIFY_INSERTED("$2")                                                \
	"SELECT id, (SELECT count(*) FROM notified) FROM inserted"

/* River's JobSchedule: retryable/scheduled jobs due within the next $2
 * milliseconds (the scheduler's interval: River looks one run ahead) become
 * available; the fetch still takes each only once due, so a job runs on
 * time rather than up to an interval late. Of unique jobs sharing a key
 * only the first is made available and the others (or all, if the key is
 * held elsewhere) discarded with metadata.unique_key_conflict. Then NOTIFY
 * ($1 channel) the queues of jobs already due (River: by now + 5 ms); the
 * others are found by the fetch's poll. Returns (jobs moved, queues
 * notified). */
#define SQL_SCHEDULE                                                                    \
	"WITH due AS (\n"                                                                \
	"  SELECT id, unique_key, unique_states, priority, scheduled_at\n"              \
	"  FROM {S}river_job\n"                                                          \
	"  WHERE state IN ('retryable', 'scheduled') AND priority >= 0\n"               \
	"    AND queue IS NOT NULL\n"                                                    \
	"    AND scheduled_at <= now() + $2::bigint * interval '1 millisecond'\n"       \
	"  ORDER BY priority, scheduled_at, id\n"                                        \
	"  LIMIT " SQL_MAINT_BATCH "\n"                                                  \
	"  FOR UPDATE\n"                                                                 \
	"), ranked AS (\n"                                                               \
	"  SELECT *, CASE WHEN unique_key IS NOT NULL AND unique_states IS NOT NULL\n"  \
	"    THEN row_number() OVER (PARTITION BY unique_key ORDER BY priority, scheduled_at, id)\n" \
	"    END AS row_num\n"                                                           \
	"  FROM due\n"                                                                   \
	"), conflicts AS (\n"                                                            \
	"  SELECT DISTINCT j.unique_key FROM {S}river_job j\n"                           \
	"  JOIN ranked r ON j.unique_key = r.unique_key AND j.id <> r.id\n"              \
	"  WHERE j.unique_key IS NOT NULL AND j.unique_states IS NOT NULL\n"             \
	"    AND {S}river_job_state_in_bitmask(j.unique_states, j.state)\n"              \
	"), decided AS (\n"                                                              \
	"  SELECT r.id, (r.row_num IS NOT NULL AND (c.unique_key IS NOT NULL OR r.row_num > 1))\n" \
	"    AS discard\n"                                                               \
	"  FROM ranked r LEFT JOIN conflicts c ON r.unique_key = c.unique_key\n"         \
	"), moved AS (\n"                                                                \
	"  UPDATE {S}river_job SET\n"                                                    \
	"    state = CASE WHEN d.discard THEN 'discarded'::{S}river_job_state\n"         \
	"      ELSE 'available'::{S}river_job_state END,\n"                              \
	"    finalized_at = CASE WHEN d.discard THEN now() ELSE river_job.finalized_at END,\n" \
	"    metadata = CASE WHEN d.discard THEN river_job.metadata ||\n"                \
	"      '{\"unique_key_conflict\": \"scheduler_discarded\"}'::jsonb\n"           \
	"      ELSE river_job.metadata END\n"                                            \
	"  FROM decided d WHERE river_job.id = d.id\n"                                   \
	"  RETURNING river_job.queue, river_job.scheduled_at, d.discard\n"              \
	"), notified AS (\n"                                                             \
	"  SELECT pg_notify($1, json_build_object('queue', queue)::text)\n"             \
	"  FROM (SELECT DISTINCT queue FROM moved WHERE NOT discard\n"                   \
	"    AND scheduled_at <= clock_timestamp() + interval '5 milliseconds') q\n"     \
	")\n"                                                                            \
	"SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM notified)"

/* Maintenance statements touch at most this many rows at a time (River's
 * batch); the number for C, the text for the statements. */
#define MAINT_BATCH 10000
#define SQL_STR_(x) #x
#define SQL_STR(x) SQL_STR_(x)
#define SQL_MAINT_BATCH SQL_STR(MAINT_BATCH)

/* Running jobs attempted before $1 (the stuck horizon), after id $2. */
#define SQL_STUCK                                                                       \
	"SELECT id, kind, attempt, max_attempts, coalesce(array_length(errors, 1), 0),\n" \
	"  metadata ? 'cancel_attempted_at', (extract(epoch FROM attempted_at) * 1000000)::int8\n" \
	"FROM {S}river_job\n"                                                            \
	"WHERE state = 'running' AND attempted_at < $1::timestamptz AND id > $2::bigint\n" \
	"ORDER BY id LIMIT 1000"

/* River's JobRescueMany, guarded: only rows still running and still past
 * the horizon ($2) are touched, so a job that finished meanwhile is not. */
#define SQL_RESCUE                                                                      \
	"UPDATE {S}river_job SET\n"                                                      \
	"  errors = array_append(river_job.errors, u.error),\n"                          \
	"  finalized_at = u.finalized_at,\n"                                             \
	"  scheduled_at = coalesce(u.scheduled_at, river_job.scheduled_at),\n"           \
	"  metadata = river_job.metadata || jsonb_build_object('river:rescue_count',\n"  \
	"    coalesce(CASE WHEN jsonb_typeof(river_job.metadata -> 'river:rescue_count') = 'number'\n" \
	"      THEN (river_job.metadata ->> 'river:rescue_count')::int END, 0) + 1),\n"  \
	"  state = u.state\n"                                                            \
	"FROM jsonb_to_recordset($1::jsonb) AS u(id bigint, error jsonb,\n"              \
	"  finalized_at timestamptz, scheduled_at timestamptz, state {S}river_job_state)\n" \
	"WHERE river_job.id = u.id AND river_job.state = 'running'\n"                    \
	"  AND river_job.attempted_at < $2::timestamptz\n"                               \
	"RETURNING river_job.id"

/* River's JobDeleteBefore: $1/$3/$5 enable cancelled/completed/discarded,
 * $2/$4/$6 their retention in seconds. Returns rows deleted. */
#define SQL_CLEAN                                                                       \
	"WITH gone AS (\n"                                                               \
	"  DELETE FROM {S}river_job WHERE id IN (\n"                                     \
	"    SELECT id FROM {S}river_job\n"                                              \
	"    WHERE (state = 'cancelled' AND $1::bool AND finalized_at < now() - make_interval(secs => $2::float8))\n" \
	"       OR (state = 'completed' AND $3::bool AND finalized_at < now() - make_interval(secs => $4::float8))\n" \
	"       OR (state = 'discarded' AND $5::bool AND finalized_at < now() - make_interval(secs => $6::float8))\n" \
	"    ORDER BY id LIMIT " SQL_MAINT_BATCH ")\n"                                   \
	"  RETURNING 1)\n"                                                               \
	"SELECT count(*) FROM gone"

/* River's queue cleaner: forget queues nobody reported for 24 h, a batch
 * at a time (maint.c runs it again after a full one). */
#define SQL_QUEUE_CLEAN                                                                 \
	"DELETE FROM {S}river_queue WHERE name IN (SELECT name FROM {S}river_queue\n"    \
	"  WHERE updated_at < now() - interval '24 hours' ORDER BY name LIMIT " SQL_MAINT_BATCH ")"

/* Queue depth for metrics, sampled by the leader. */
#define SQL_QUEUE_DEPTH                                                                 \
	"SELECT queue, state, count(*) FROM {S}river_job\n"                              \
	"WHERE state IN ('available', 'running', 'retryable', 'scheduled')\n"            \
	"GROUP BY queue, state ORDER BY queue, state"

/* Every daemon: report its queues ($1, a text[] literal) in river_queue as
 * River's producers do, and learn whether each is paused. */
#define SQL_QUEUE_UPSERT                                                                \
	"INSERT INTO {S}river_queue (name, created_at, updated_at)\n"                    \
	"SELECT n, now(), now() FROM unnest($1::text[]) n\n"                            \
	"ON CONFLICT (name) DO UPDATE SET updated_at = EXCLUDED.updated_at\n"            \
	"RETURNING name, paused_at IS NOT NULL"
#define SQL_QUEUE_PAUSED                                                                \
	"SELECT name, paused_at IS NOT NULL FROM {S}river_queue WHERE name = ANY($1::text[])"

/* Schema version of line main; errors if river_migration lacks `line`. */
#define SQL_SCHEMA_VERSION                                                             \
	"SELECT coalesce(max(version), 0) FROM {S}river_migration WHERE line = 'main'"

/* Args that are an envelope by its grammar (crypto.h): river_encrypt alone,
 * a string s1.<alg>.<key id>.<nonce>.<data>, algorithm and key id of name
 * characters (at most ENCRYPTOR_NAME_MAX and KEY_ID_MAX, 32), nonce and
 * data base64url. Only for what passes may the CLI show a field: the
 * text of anything else may be a plaintext secret. */
#define SQL_ENVELOPE_WELL_FORMED                                                        \
	"(CASE WHEN jsonb_typeof(args) <> 'object' THEN false\n"                         \
	"  ELSE args - 'river_encrypt' = '{}'::jsonb\n"                                  \
	"  AND jsonb_typeof(args -> 'river_encrypt') = 'string'\n"                       \
	"  AND args ->> 'river_encrypt' ~\n"                                             \
	"    '^s[12]\\.[A-Za-z0-9_-]{1,32}\\.[A-Za-z0-9_-]{1,32}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' END)"
/* Args the CLI must not take for plaintext: an envelope's key, or no
 * object at all (a string "river_encrypt" has that "key" too, and
 * args - 'river_encrypt' fails on a scalar: hence the CASE above, as
 * PostgreSQL does not promise to evaluate AND left to right). */
#define SQL_NOT_PLAINTEXT "(jsonb_typeof(args) <> 'object' OR args ? 'river_encrypt')"

#endif
