#!/bin/sh
# Entry point of the boot tests' PostgreSQL image. It does what the bundle
# expects of the official postgres image, from the same environment
# (POSTGRES_USER, POSTGRES_PASSWORD_FILE, POSTGRES_DB, POSTGRES_INITDB_ARGS,
# PGDATA): on an empty data directory it runs initdb, then a temporary server
# that listens on no TCP address to create the database, then the real one.
# That temporary server is what a readiness check over the Unix socket
# mistakes for the real one, so it is kept as the official image has it.
set -eu

[ "${1#-}" = "$1" ] || set -- postgres "$@"
[ "$1" = postgres ] || exec "$@"

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA

# The container runs as the host's matrix user, which has no passwd entry
# here; initdb and psql need one.
if ! id -un >/dev/null 2>&1; then
	for lib in /usr/lib/*/libnss_wrapper.so; do
		printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >/tmp/passwd
		printf 'postgres:x:%s:\n' "$(id -g)" >/tmp/group
		export LD_PRELOAD="$lib" NSS_WRAPPER_PASSWD=/tmp/passwd NSS_WRAPPER_GROUP=/tmp/group
	done
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	password=${POSTGRES_PASSWORD:-}
	[ -z "${POSTGRES_PASSWORD_FILE:-}" ] || password=$(cat "$POSTGRES_PASSWORD_FILE")
	[ -n "$password" ] || { echo "postgres-entrypoint: no password" >&2; exit 1; }
	printf '%s\n' "$password" >/tmp/pwfile
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments
	initdb --username="$POSTGRES_USER" --pwfile=/tmp/pwfile ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
	rm -f /tmp/pwfile
	printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	if [ "$POSTGRES_DB" != postgres ]; then
		psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
			-c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
	fi
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "postgres-entrypoint: init process complete; ready for start up" >&2
fi

unset LD_PRELOAD
exec "$@"
