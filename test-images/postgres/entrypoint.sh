#!/bin/sh
# Like the official image's entrypoint, smaller: as root, hand $PGDATA (a
# kept directory starts empty and root-owned) to postgres and drop to it; as
# postgres, create the cluster when $PGDATA holds none, then exec the command.
#   local socket: trust (docker exec pg_dump/psql need no password)
#   host connections: scram-sha-256 with POSTGRES_PASSWORD for user postgres
#   POSTGRES_DB: created at init when set (and not "postgres")
set -eu

if [ "${1:-}" != postgres ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo 'postgres-entrypoint: POSTGRES_PASSWORD is empty: only local socket connections will work' >&2
  fi
  initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
  if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != postgres ]; then
    # A private socket: the health check must not see this setup server as ready.
    setup=$(mktemp -d)
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$setup" -w start >/dev/null
    printf 'CREATE DATABASE :"db";\n' | psql -q -v ON_ERROR_STOP=1 -h "$setup" -U postgres -d postgres -v db="$POSTGRES_DB"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    rmdir "$setup"
  fi
  echo 'postgres-entrypoint: database cluster created' >&2
fi

exec "$@"
