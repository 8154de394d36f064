/* sql.h -- the statements the daemon sends, as templates ({S} = schema
 * prefix, rendered once at start). Kept together so the benchmark's "SQL
 * ceiling" can run exactly these. */
#ifndef SLUICE_SQL_H
#define SLUICE_SQL_H

/* River keeps the last 100 entries of attempted_by. */
#define SQL_MAX_ATTEMPTED_BY "100"

/* River's JobGetAvailable for one queue: $1 queue, $2 limit, $3 worker id.
 * Returns the columns job_from_row() reads, in this order. */
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
	"FROM locked_jobs\n"                                                            \
	"WHERE river_job.id = locked_jobs.id\n"                                         \
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
 * records. Rows no longer running are left alone. A retry or snooze of a job
 * whose cancellation was requested (metadata.cancel_attempted_at) cancels it
 * instead. Returns the ids it updated. */
#define SQL_COMPLETE                                                                    \
	"WITH input AS (\n"                                                             \
	"  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint,\n"               \
	"    state {S}river_job_state, attempt smallint, error jsonb,\n"                \
	"    finalized_at timestamptz, scheduled_at timestamptz, metadata jsonb,\n"      \
	"    cr boolean)\n"                                                             \
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
	"  WHERE j.id = i.id AND j.state = 'running'\n"                                 \
	"  RETURNING j.id\n"                                                            \
	")\n"                                                                           \
	"SELECT id FROM updated"

/* Schema version of line main; errors if river_migration lacks `line`. */
#define SQL_SCHEMA_VERSION                                                             \
	"SELECT coalesce(max(version), 0) FROM {S}river_migration WHERE line = 'main'"

#endif
