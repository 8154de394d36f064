/* migrations.c -- River's schema, migration line "main", versions 1-7, as
 * SQL text. It must stay object-for-object what River's own migrator creates
 * (tests compare catalogs), so a River Go client sees a current database.
 * `{S}` stands for the quoted schema prefix (`"name".`) or nothing. */
#include "migrate.h"

#include "util.h"

/* River's insert trigger: created by version 1, dropped by 4 (and so
 * recreated by 4's down). */
#define RIVER_NOTIFY_DDL \
    "CREATE OR REPLACE FUNCTION {S}river_job_notify()\n" \
    "  RETURNS TRIGGER\n" \
    "  AS $$\n" \
    "DECLARE\n" \
    "  payload json;\n" \
    "BEGIN\n" \
    "  IF NEW.state = 'available' THEN\n" \
    "    payload = json_build_object('queue', NEW.queue);\n" \
    "    PERFORM pg_notify('river_insert', payload::text);\n" \
    "  END IF;\n" \
    "  RETURN NULL;\n" \
    "END;\n" \
    "$$\n" \
    "LANGUAGE plpgsql;\n" \
    "CREATE TRIGGER river_notify\n" \
    "  AFTER INSERT ON {S}river_job\n" \
    "  FOR EACH ROW\n" \
    "  EXECUTE PROCEDURE {S}river_job_notify();\n"

static const char v1_up[] =
    "CREATE TABLE {S}river_migration(\n"
    "  id bigserial PRIMARY KEY,\n"
    "  created_at timestamptz NOT NULL DEFAULT NOW(),\n"
    "  version bigint NOT NULL,\n"
    "  CONSTRAINT version CHECK (version >= 1)\n"
    ");\n"
    "CREATE UNIQUE INDEX ON {S}river_migration USING btree(version);\n";

static const char v1_down[] = "DROP TABLE {S}river_migration;\n";

static const char v2_up[] =
    "CREATE TYPE {S}river_job_state AS ENUM(\n"
    "  'available', 'cancelled', 'completed', 'discarded', 'retryable', 'running', 'scheduled'\n"
    ");\n"
    "CREATE TABLE {S}river_job(\n"
    "  id bigserial PRIMARY KEY,\n"
    "  state {S}river_job_state NOT NULL DEFAULT 'available',\n"
    "  attempt smallint NOT NULL DEFAULT 0,\n"
    "  max_attempts smallint NOT NULL,\n"
    "  attempted_at timestamptz,\n"
    "  created_at timestamptz NOT NULL DEFAULT NOW(),\n"
    "  finalized_at timestamptz,\n"
    "  scheduled_at timestamptz NOT NULL DEFAULT NOW(),\n"
    "  priority smallint NOT NULL DEFAULT 1,\n"
    "  args jsonb,\n"
    "  attempted_by text[],\n"
    "  errors jsonb[],\n"
    "  kind text NOT NULL,\n"
    "  metadata jsonb NOT NULL DEFAULT '{}',\n"
    "  queue text NOT NULL DEFAULT 'default',\n"
    "  tags varchar(255)[],\n"
    "  CONSTRAINT finalized_or_finalized_at_null CHECK ((state IN ('cancelled', 'completed', "
    "'discarded') AND finalized_at IS NOT NULL) OR finalized_at IS NULL),\n"
    "  CONSTRAINT max_attempts_is_positive CHECK (max_attempts > 0),\n"
    "  CONSTRAINT priority_in_range CHECK (priority >= 1 AND priority <= 4),\n"
    "  CONSTRAINT queue_length CHECK (char_length(queue) > 0 AND char_length(queue) < 128),\n"
    "  CONSTRAINT kind_length CHECK (char_length(kind) > 0 AND char_length(kind) < 128)\n"
    ");\n"
    "CREATE INDEX river_job_kind ON {S}river_job USING btree(kind);\n"
    "CREATE INDEX river_job_state_and_finalized_at_index ON {S}river_job USING btree(state, "
    "finalized_at) WHERE finalized_at IS NOT NULL;\n"
    "CREATE INDEX river_job_prioritized_fetching_index ON {S}river_job USING btree(state, "
    "queue, priority, scheduled_at, id);\n"
    "CREATE INDEX river_job_args_index ON {S}river_job USING GIN(args);\n"
    "CREATE INDEX river_job_metadata_index ON {S}river_job USING GIN(metadata);\n"
    RIVER_NOTIFY_DDL
    "CREATE UNLOGGED TABLE {S}river_leader(\n"
    "  elected_at timestamptz NOT NULL,\n"
    "  expires_at timestamptz NOT NULL,\n"
    "  leader_id text NOT NULL,\n"
    "  name text PRIMARY KEY,\n"
    "  CONSTRAINT name_length CHECK (char_length(name) > 0 AND char_length(name) < 128),\n"
    "  CONSTRAINT leader_id_length CHECK (char_length(leader_id) > 0 AND char_length(leader_id) "
    "< 128)\n"
    ");\n";

static const char v2_down[] =
    "DROP TABLE {S}river_job;\n"
    "DROP FUNCTION {S}river_job_notify;\n"
    "DROP TYPE {S}river_job_state;\n"
    "DROP TABLE {S}river_leader;\n";

static const char v3_up[] =
    "ALTER TABLE {S}river_job ALTER COLUMN tags SET DEFAULT '{}';\n"
    "UPDATE {S}river_job SET tags = '{}' WHERE tags IS NULL;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN tags SET NOT NULL;\n";

static const char v3_down[] =
    "ALTER TABLE {S}river_job ALTER COLUMN tags DROP NOT NULL, ALTER COLUMN tags DROP DEFAULT;\n";

static const char v4_up[] =
    "ALTER TABLE {S}river_job ALTER COLUMN args SET DEFAULT '{}';\n"
    "UPDATE {S}river_job SET args = '{}' WHERE args IS NULL;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN args SET NOT NULL;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN args DROP DEFAULT;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN metadata SET DEFAULT '{}';\n"
    "UPDATE {S}river_job SET metadata = '{}' WHERE metadata IS NULL;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN metadata SET NOT NULL;\n"
    "ALTER TYPE {S}river_job_state ADD VALUE IF NOT EXISTS 'pending' AFTER 'discarded';\n"
    "ALTER TABLE {S}river_job DROP CONSTRAINT finalized_or_finalized_at_null;\n"
    "ALTER TABLE {S}river_job ADD CONSTRAINT finalized_or_finalized_at_null CHECK (\n"
    "  (finalized_at IS NULL AND state NOT IN ('cancelled', 'completed', 'discarded')) OR\n"
    "  (finalized_at IS NOT NULL AND state IN ('cancelled', 'completed', 'discarded'))\n"
    ");\n"
    "DROP TRIGGER river_notify ON {S}river_job;\n"
    "DROP FUNCTION {S}river_job_notify;\n"
    "CREATE TABLE {S}river_queue (\n"
    "  name text PRIMARY KEY NOT NULL,\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  metadata jsonb NOT NULL DEFAULT '{}' ::jsonb,\n"
    "  paused_at timestamptz,\n"
    "  updated_at timestamptz NOT NULL\n"
    ");\n"
    "ALTER TABLE {S}river_leader\n"
    "  ALTER COLUMN name SET DEFAULT 'default',\n"
    "  DROP CONSTRAINT name_length,\n"
    "  ADD CONSTRAINT name_length CHECK (name = 'default');\n";

static const char v4_down[] =
    "ALTER TABLE {S}river_job ALTER COLUMN args DROP NOT NULL;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN metadata DROP NOT NULL;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN metadata DROP DEFAULT;\n"
    /* 'pending' cannot be removed from an enum safely; River leaves it too. */
    "ALTER TABLE {S}river_job DROP CONSTRAINT finalized_or_finalized_at_null;\n"
    "ALTER TABLE {S}river_job ADD CONSTRAINT finalized_or_finalized_at_null CHECK (\n"
    "  (state IN ('cancelled', 'completed', 'discarded') AND finalized_at IS NOT NULL) OR "
    "finalized_at IS NULL\n"
    ");\n"
    RIVER_NOTIFY_DDL
    "DROP TABLE {S}river_queue;\n"
    "ALTER TABLE {S}river_leader\n"
    "  ALTER COLUMN name DROP DEFAULT,\n"
    "  DROP CONSTRAINT name_length,\n"
    "  ADD CONSTRAINT name_length CHECK (char_length(name) > 0 AND char_length(name) < 128);\n";

/* River's client tables: created by version 5, dropped by 7 (and so
 * recreated by 7's down). */
#define RIVER_CLIENT_DDL \
    "CREATE UNLOGGED TABLE {S}river_client (\n" \
    "  id text PRIMARY KEY NOT NULL,\n" \
    "  created_at timestamptz NOT NULL DEFAULT now(),\n" \
    "  metadata jsonb NOT NULL DEFAULT '{}',\n" \
    "  paused_at timestamptz,\n" \
    "  updated_at timestamptz NOT NULL,\n" \
    "  CONSTRAINT name_length CHECK (char_length(id) > 0 AND char_length(id) < 128)\n" \
    ");\n" \
    "CREATE UNLOGGED TABLE {S}river_client_queue (\n" \
    "  river_client_id text NOT NULL REFERENCES {S}river_client (id) ON DELETE CASCADE,\n" \
    "  name text NOT NULL,\n" \
    "  created_at timestamptz NOT NULL DEFAULT now(),\n" \
    "  max_workers bigint NOT NULL DEFAULT 0,\n" \
    "  metadata jsonb NOT NULL DEFAULT '{}',\n" \
    "  num_jobs_completed bigint NOT NULL DEFAULT 0,\n" \
    "  num_jobs_running bigint NOT NULL DEFAULT 0,\n" \
    "  updated_at timestamptz NOT NULL,\n" \
    "  PRIMARY KEY (river_client_id, name),\n" \
    "  CONSTRAINT name_length CHECK (char_length(name) > 0 AND char_length(name) < 128),\n" \
    "  CONSTRAINT num_jobs_completed_zero_or_positive CHECK (num_jobs_completed >= 0),\n" \
    "  CONSTRAINT num_jobs_running_zero_or_positive CHECK (num_jobs_running >= 0)\n" \
    ");\n"

static const char v5_up[] =
    /* River tolerates a missing river_migration (users with their own
     * migration tooling skip version 1), hence the guard. */
    "DO\n"
    "$body$\n"
    "BEGIN\n"
    "  IF (SELECT to_regclass('{S}river_migration') IS NOT NULL) THEN\n"
    "    ALTER TABLE {S}river_migration RENAME TO river_migration_old;\n"
    "    CREATE TABLE {S}river_migration(\n"
    "      line TEXT NOT NULL,\n"
    "      version bigint NOT NULL,\n"
    "      created_at timestamptz NOT NULL DEFAULT NOW(),\n"
    "      CONSTRAINT line_length CHECK (char_length(line) > 0 AND char_length(line) < 128),\n"
    "      CONSTRAINT version_gte_1 CHECK (version >= 1),\n"
    "      PRIMARY KEY (line, version)\n"
    "    );\n"
    "    INSERT INTO {S}river_migration (created_at, line, version)\n"
    "    SELECT created_at, 'main', version FROM {S}river_migration_old;\n"
    "    DROP TABLE {S}river_migration_old;\n"
    "  END IF;\n"
    "END;\n"
    "$body$\n"
    "LANGUAGE 'plpgsql';\n"
    "ALTER TABLE {S}river_job ADD COLUMN IF NOT EXISTS unique_key bytea;\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS river_job_kind_unique_key_idx ON {S}river_job (kind, "
    "unique_key) WHERE unique_key IS NOT NULL;\n"
    RIVER_CLIENT_DDL;

static const char v5_down[] =
    "DO\n"
    "$body$\n"
    "BEGIN\n"
    "  IF (SELECT to_regclass('{S}river_migration') IS NOT NULL) THEN\n"
    "    IF EXISTS (SELECT * FROM {S}river_migration WHERE line <> 'main') THEN\n"
    "      RAISE EXCEPTION 'Found non-main migration lines in the database; version 005 "
    "migration is irreversible because it would result in loss of migration information.';\n"
    "    END IF;\n"
    "    ALTER TABLE {S}river_migration RENAME TO river_migration_old;\n"
    "    CREATE TABLE {S}river_migration(\n"
    "      id bigserial PRIMARY KEY,\n"
    "      created_at timestamptz NOT NULL DEFAULT NOW(),\n"
    "      version bigint NOT NULL,\n"
    "      CONSTRAINT version CHECK (version >= 1)\n"
    "    );\n"
    "    CREATE UNIQUE INDEX ON {S}river_migration USING btree(version);\n"
    "    INSERT INTO {S}river_migration (created_at, version)\n"
    "    SELECT created_at, version FROM {S}river_migration_old;\n"
    "    DROP TABLE {S}river_migration_old;\n"
    "  END IF;\n"
    "END;\n"
    "$body$\n"
    "LANGUAGE 'plpgsql';\n"
    "ALTER TABLE {S}river_job DROP COLUMN unique_key;\n"
    "DROP TABLE {S}river_client_queue;\n"
    "DROP TABLE {S}river_client;\n";

static const char v6_up[] =
    "CREATE OR REPLACE FUNCTION {S}river_job_state_in_bitmask(bitmask BIT(8), state "
    "{S}river_job_state)\n"
    "RETURNS boolean\n"
    "LANGUAGE SQL\n"
    "IMMUTABLE\n"
    "AS $$\n"
    /* The body is compared verbatim (pg_proc.prosrc): keep River's layout. */
    "    SELECT CASE state\n"
    "        WHEN 'available' THEN get_bit(bitmask, 7)\n"
    "        WHEN 'cancelled' THEN get_bit(bitmask, 6)\n"
    "        WHEN 'completed' THEN get_bit(bitmask, 5)\n"
    "        WHEN 'discarded' THEN get_bit(bitmask, 4)\n"
    "        WHEN 'pending'   THEN get_bit(bitmask, 3)\n"
    "        WHEN 'retryable' THEN get_bit(bitmask, 2)\n"
    "        WHEN 'running'   THEN get_bit(bitmask, 1)\n"
    "        WHEN 'scheduled' THEN get_bit(bitmask, 0)\n"
    "        ELSE 0\n"
    "    END = 1;\n"
    "$$;\n"
    "ALTER TABLE {S}river_job ADD COLUMN IF NOT EXISTS unique_states BIT(8);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS river_job_unique_idx ON {S}river_job (unique_key)\n"
    "  WHERE unique_key IS NOT NULL\n"
    "    AND unique_states IS NOT NULL\n"
    "    AND {S}river_job_state_in_bitmask(unique_states, state);\n"
    "DROP INDEX {S}river_job_kind_unique_key_idx;\n";

static const char v6_down[] =
    "DROP INDEX {S}river_job_unique_idx;\n"
    "ALTER TABLE {S}river_job DROP COLUMN unique_states;\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS river_job_kind_unique_key_idx ON {S}river_job (kind, "
    "unique_key) WHERE unique_key IS NOT NULL;\n"
    "DROP FUNCTION {S}river_job_state_in_bitmask;\n";

static const char v7_up[] =
    "CREATE TABLE {S}river_notification (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  payload text NOT NULL,\n"
    "  topic text NOT NULL,\n"
    "  CONSTRAINT topic_length CHECK (length(topic) > 0 AND length(topic) < 128)\n"
    ");\n"
    "CREATE INDEX river_notification_created_at_idx ON {S}river_notification (created_at);\n"
    "CREATE INDEX river_notification_topic_id_idx ON {S}river_notification (topic, id);\n"
    "DROP TABLE {S}river_client_queue;\n"
    "DROP TABLE {S}river_client;\n"
    "ALTER TABLE {S}river_job ALTER COLUMN max_attempts SET DEFAULT 25;\n"
    "ALTER TABLE {S}river_queue ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;\n";

static const char v7_down[] =
    RIVER_CLIENT_DDL
    "ALTER TABLE {S}river_job ALTER COLUMN max_attempts DROP DEFAULT;\n"
    "ALTER TABLE {S}river_queue ALTER COLUMN updated_at DROP DEFAULT;\n"
    "DROP TABLE {S}river_notification;\n";

const migration migrations[] = {
    {1, "create river migration", v1_up, v1_down},
    {2, "initial schema", v2_up, v2_down},
    {3, "river job tags non null", v3_up, v3_down},
    {4, "pending and more", v4_up, v4_down},
    {5, "migration unique client", v5_up, v5_down},
    {6, "bulk unique", v6_up, v6_down},
    {7, "notification outbox sqlite jsonb and sql cleanup", v7_up, v7_down},
};

const size_t migrations_count = ARRAY_LEN(migrations);
