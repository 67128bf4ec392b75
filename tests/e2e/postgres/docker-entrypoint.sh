#!/usr/bin/env bash
# Initialises an empty PGDATA the way the official postgres image's entrypoint does (the
# subset compose stacks use), then runs postgres as the postgres user:
#   - as root: PGDATA and the socket directory made and handed to postgres (mode 0700), then
#     this script again as postgres;
#   - when PGDATA holds no PG_VERSION: initdb as POSTGRES_USER (postgres) with
#     POSTGRES_PASSWORD[_FILE] and POSTGRES_INITDB_ARGS, password authentication
#     (POSTGRES_HOST_AUTH_METHOD, scram-sha-256) for every TCP client, a server on the socket
#     only, POSTGRES_DB created, /docker-entrypoint-initdb.d/*.sh sourced (or run when
#     executable) and *.sql run through psql, the server stopped;
#   - then `exec postgres`, listening on every address.
# Like the 18 Alpine images before docker-library/postgres#1409 it does not refuse a mount at
# /var/lib/postgresql/data that PGDATA misses: in the 18 layout that mistake initialises the
# cluster on the image's anonymous volume, silently (tests/e2e/test_postgres_compose_incident.py).
set -Eeo pipefail
shopt -s nullglob

entrypoint_note() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%F %T UTC')" "$*"; }
entrypoint_error() {
    printf '%s [Entrypoint] ERROR: %s\n' "$(date -u '+%F %T UTC')" "$*" >&2
    exit 1
}
# shellcheck source=../entrypoint_lib.sh
. /usr/local/lib/entrypoint_lib.sh

: "${PGDATA:?}"
SOCKET_DIR=/var/run/postgresql

# docker_process_sql [psql args...] < sql: the official entrypoint's name and contract, which
# sourced initdb scripts call: psql as POSTGRES_USER over the socket, into POSTGRES_DB.
# shellcheck disable=SC2120  # the arguments are for sourced initdb scripts
docker_process_sql() {
    local runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    [ -z "${POSTGRES_DB:-}" ] || runner+=(--dbname "$POSTGRES_DB")
    PGHOST='' PGHOSTADDR='' "${runner[@]}" "$@"
}

docker_setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
}

docker_create_db_directories() {
    mkdir -p "$PGDATA" "$SOCKET_DIR"
    # PostgreSQL refuses a data directory others may read (the official image does the same).
    chmod 00700 "$PGDATA" || :
    chmod 03775 "$SOCKET_DIR" || :
    if [ "$(id -u)" = 0 ]; then
        find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
        find "$SOCKET_DIR" \! -user postgres -exec chown postgres:postgres '{}' +
    fi
}

docker_init_database_dir() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        entrypoint_error "Database is uninitialized and superuser password is not specified.
    You must specify POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value for the
    superuser, or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password."
    fi
    local args=()
    # Words, as the official image splits them; never evaluated.
    read -r -a args <<<"${POSTGRES_INITDB_ARGS:-}"
    entrypoint_note "initdb in $PGDATA"
    # The password reaches initdb through a pipe, never its command line.
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        "${args[@]}" >/dev/null
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
}

docker_temp_server_start() {
    entrypoint_note "starting a temporary server (socket only)"
    PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -s start
}

docker_temp_server_stop() {
    PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w -s stop
    entrypoint_note "temporary server stopped"
}

docker_setup_db() {
    [ "$POSTGRES_DB" != postgres ] || return 0
    local exists
    exists="$(POSTGRES_DB=postgres docker_process_sql --tuples-only --set db="$POSTGRES_DB" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
    if [ -z "${exists//[[:space:]]/}" ]; then
        POSTGRES_DB=postgres docker_process_sql --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
        entrypoint_note "created database $POSTGRES_DB"
    fi
}

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
    docker_setup_env
    docker_create_db_directories
    if [ "$(id -u)" = 0 ]; then
        # Again as postgres, with the secrets already read (as root) into the environment.
        exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        docker_init_database_dir
        export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
        docker_temp_server_start
        docker_setup_db
        docker_process_init_files /docker-entrypoint-initdb.d/*
        docker_temp_server_stop
        unset PGPASSWORD
        entrypoint_note "PostgreSQL init process complete; ready for start up."
    else
        entrypoint_note "PostgreSQL database directory appears to contain a database; skipping initialization"
    fi
fi

exec "$@"
