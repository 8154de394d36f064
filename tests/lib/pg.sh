# tests/lib/pg.sh -- a throwaway PostgreSQL for tests and `make run`.
# pg_start DIR [DATADIR]: initdb (into DIR/data unless DATADIR) and start with
# a unix socket in DIR (keep DIR short: socket paths are limited to ~100
# bytes); exports PGHOST, PGPORT, PGUSER. The server runs as user postgres
# when we are root (PostgreSQL refuses to run as root).

pg_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] || { echo "no PostgreSQL server found under /usr/lib/postgresql (scripts/deps test installs it)" >&2; return 1; }
	echo "$d"
}

pg_as() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
	local p
	for p in $(seq "${1:-54320}" 54999); do
		if ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && [ ! -e "$PG_DIR/.s.PGSQL.$p" ]; then
			echo "$p"; return
		fi
	done
	return 1
}

pg_start() {
	PG_DIR=$1
	PG_DATA=${2:-$1/data}
	local bin; bin=$(pg_bindir) || return 1
	# The socket directory and the data directory itself go to postgres,
	# not the directory holding the data: key files beside it (make run,
	# make bench) must sit in directories only their owner can change
	# (keys.c refuses others).
	mkdir -p "$PG_DIR" "$PG_DATA"
	[ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR" "$PG_DATA"
	chmod 0755 "$PG_DIR"
	PG_BIN=$bin
	PGPORT=$(pg_free_port "${PG_PORT_BASE:-54320}")
	if [ ! -f "$PG_DATA/PG_VERSION" ]; then
		pg_as "$bin/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C \
			--no-sync >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
		# Enough connections for several daemons; for tests, speed over
		# durability (PG_DURABLE=1 keeps PostgreSQL's durable defaults).
		cat >>"$PG_DATA/postgresql.conf" <<-CONF
		listen_addresses = ''
		unix_socket_directories = '$PG_DIR'
		max_connections = 200
		shared_buffers = 256MB
		log_min_messages = warning
		CONF
		[ -n "${PG_DURABLE:-}" ] || cat >>"$PG_DATA/postgresql.conf" <<-CONF
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		CONF
		# Extra settings, one per line (the benchmark's commit timestamps).
		[ -z "${PG_CONF:-}" ] || printf '%s\n' "$PG_CONF" >>"$PG_DATA/postgresql.conf"
	fi
	pg_as "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -o "-p $PGPORT" -w -t 60 start \
		>/dev/null || { tail -n 30 "$PG_DIR/server.log" >&2; return 1; }
	export PGHOST=$PG_DIR PGPORT PGUSER=postgres PG_DIR PG_DATA PG_BIN
}

pg_restart() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -o "-p $PGPORT" -m fast -w -t 60 restart >/dev/null
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && [ -f "$PG_DATA/postmaster.pid" ] &&
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1
	return 0
}

# URL for database $1 on the running server.
pg_url() { echo "postgresql:///$1?host=$PGHOST&port=$PGPORT&user=$PGUSER"; }
