#!/usr/bin/env bash
# An example app standing in for a Prisma-backed service: on start it runs its "migrations"
# and its "seed" (one admin user, created if absent), then serves. That seed is what made the
# incident invisible: on an empty volume it produced a plausible, almost empty database.
#
# The app starts only once the sidecar vouches for the database: compose gates it with
# `depends_on: sidecar: condition: service_healthy`, and that is all Docker Compose needs.
# podman-compose with podman < 4.6 skips service_healthy conditions (with a warning) and
# starts the app anyway: there READYZ_WAIT=1 (set by podman-compose.yaml, which only
# podman-compose reads) makes this script wait for the sidecar's /readyz itself first.
set -euo pipefail

db_password="$(<"${DB_PASSWORD_FILE:?}")"
sidecar_host="${READYZ_HOST:-sidecar}"
sidecar_port="${READYZ_PORT:-8080}"

log() { printf '%s app: %s\n' "$(date -u +%FT%TZ)" "$*"; }

# GET /readyz with bash's /dev/tcp: the mariadb and postgres images have no curl. A subshell, so that a
# refused connection cannot end the script.
sidecar_ready() (
    exec 3<>"/dev/tcp/$sidecar_host/$sidecar_port" || exit 1
    printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n' "$sidecar_host" >&3
    IFS= read -r -t 5 status <&3 || exit 1
    [[ "$status" == HTTP/1.?" 2"* ]]
)

# DB_ENGINE picks the client: mariadb (compose/compose.yaml, in the MariaDB image) or
# postgresql (compose/postgres/compose.yaml, psql in the postgres image). The password reaches
# either through its environment, never its command line.
engine="${DB_ENGINE:-mariadb}"
case "$engine" in
    mariadb | postgresql) ;;
    *) log "DB_ENGINE must be mariadb or postgresql, not '$engine'"; exit 2 ;;
esac

# sql [QUERY]: run QUERY, or the script on stdin; rows as bare tab-separated lines.
sql() {
    local query=()
    if [ "$engine" = postgresql ]; then
        [ $# -eq 0 ] || query=(-c "$1")
        PGPASSWORD="$db_password" psql -h "${DB_HOST:-postgres}" -U "${DB_USER:-app}" \
            -d "${DB_NAME:-app}" -X -q -A -t -v ON_ERROR_STOP=1 "${query[@]}"
    else
        [ $# -eq 0 ] || query=(-e "$1")
        MYSQL_PWD="$db_password" mariadb -h "${DB_HOST:-mariadb}" -u "${DB_USER:-app}" \
            "${DB_NAME:-app}" --batch --skip-column-names "${query[@]}"
    fi
}

# The app's "migrations", in each engine's dialect: Prisma's tables for a `User` model.
migrations() {
    if [ "$engine" = postgresql ]; then
        cat <<'SQL'
CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id VARCHAR(36) PRIMARY KEY,
    migration_name VARCHAR(255) NOT NULL UNIQUE,
    started_at TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE TABLE IF NOT EXISTS "User" (
    id SERIAL PRIMARY KEY,
    email VARCHAR(191) UNIQUE,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS "User_createdAt_idx" ON "User" ("createdAt");
INSERT INTO _prisma_migrations (id, migration_name) VALUES (gen_random_uuid()::text, '0001_init')
    ON CONFLICT (migration_name) DO NOTHING;
SQL
    else
        cat <<'SQL'
CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id VARCHAR(36) PRIMARY KEY,
    migration_name VARCHAR(255) NOT NULL UNIQUE,
    started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
);
CREATE TABLE IF NOT EXISTS `User` (
    id INT AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(191) UNIQUE,
    createdAt DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    INDEX (createdAt)
);
INSERT IGNORE INTO _prisma_migrations (id, migration_name) VALUES (UUID(), '0001_init');
SQL
    fi
}

if [ "$engine" = postgresql ]; then
    user_table='"User"'
    seed="INSERT INTO \"User\" (email) VALUES ('admin@example.com') ON CONFLICT DO NOTHING"
else
    user_table='`User`'
    seed="INSERT IGNORE INTO \`User\` (email) VALUES ('admin@example.com')"
fi

if [ "${READYZ_WAIT:-0}" = 1 ]; then
    log "waiting for the sidecar to vouch for the database (http://$sidecar_host:$sidecar_port/readyz)"
    until sidecar_ready 2>/dev/null; do
        sleep 2
    done
fi

# The sidecar can vouch for a server that is still accepting its first connections elsewhere;
# give the database a bounded moment rather than crash-looping.
for _ in $(seq 30); do
    sql 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done

log "running migrations"
migrations | sql
log "seeding"
sql "$seed"
log "ready: $(sql "SELECT COUNT(*) FROM $user_table") users"

# Serve (here: idle) until stopped; the trap makes `compose down` quick.
trap 'log "stopping"; exit 0' TERM INT
sleep infinity &
wait
