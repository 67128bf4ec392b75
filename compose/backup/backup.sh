#!/usr/bin/env bash
# The stack's backup job, run by compose.yaml's optional `backup` service (in the MariaDB
# image, for its mariadb-dump): what the incident's team ran from cron as
# /usr/local/bin/backup-databases.sh, as a loop in a container.
#
#   backup.sh         a dump at start, then one every BACKUP_INTERVAL (24h; or 90s, 15m, 6h, 2d)
#   backup.sh once    one dump now, e.g. before a restart:
#                     docker compose exec backup bash /backup/backup.sh once
#
# Each dump is `mariadb-dump --single-transaction` of DB_NAME as DB_USER (SELECT, SHOW VIEW
# and TRIGGER are all it needs: initdb/20-backup-user.sh), gzipped into a hidden partial file
# in BACKUP_DIR and renamed to <DB_NAME>-<UTC time>.sql.gz only once complete, so the sidecar
# never reads half a dump. A failed dump leaves nothing behind and removes nothing. After a
# good one, only the newest BACKUP_KEEP (14) of this job's own dumps are kept.
#
# It dumps whatever database it finds, as the incident's job did: the morning after the
# rename it dumped the new, empty database, and with rotation every good dump would have gone
# in a fortnight. The sidecar watching BACKUP_DIR (SIDECAR_BACKUP_DIR) fails such a dump and
# names the newest one that still holds the remembered rows.
set -euo pipefail

db_name="${DB_NAME:?}"
backup_dir="${BACKUP_DIR:?}"
keep="${BACKUP_KEEP:-14}"

log() { printf '%s backup: %s\n' "$(date -u +%FT%TZ)" "$*"; }
fail() {
    log "$*" >&2
    exit 2
}

# seconds DURATION: plain seconds, or a number with s, m, h or d.
seconds() {
    local n="${1%[smhd]}"
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || fail "not a duration: '$1' (e.g. 90s, 15m, 24h, 2d)"
    case "$1" in
        *m) echo $((n * 60)) ;;
        *h) echo $((n * 3600)) ;;
        *d) echo $((n * 86400)) ;;
        *) echo "$n" ;;
    esac
}

[[ "$keep" =~ ^[0-9]+$ && "$keep" -gt 0 ]] || fail "BACKUP_KEEP must be a positive number, not '$keep'"
if ! [ -d "$backup_dir" ] || ! [ -w "$backup_dir" ]; then
    fail "cannot write to $backup_dir"
fi

dump_once() {
    local stamp final partial
    stamp="$(date -u +%Y-%m-%dT%H%M%SZ)"
    final="$backup_dir/$db_name-$stamp.sql.gz"
    while [ -e "$final" ]; do # two dumps within a second: the second waits for its own name
        sleep 1
        stamp="$(date -u +%Y-%m-%dT%H%M%SZ)"
        final="$backup_dir/$db_name-$stamp.sql.gz"
    done
    partial="$backup_dir/.$db_name-$stamp.sql.gz.partial"
    # The password reaches the client through its environment, never its command line.
    if ! MYSQL_PWD="$(<"${DB_PASSWORD_FILE:?}")" mariadb-dump \
        --host="${DB_HOST:-mariadb}" --user="${DB_USER:?}" \
        --single-transaction --triggers "$db_name" | gzip >"$partial"; then
        rm -f "$partial"
        log "dump of $db_name failed; nothing was rotated"
        return 1
    fi
    mv "$partial" "$final"
    log "wrote $final ($(stat -c %s "$final") bytes)"
    rotate
}

# Only this job's own dumps (<DB_NAME>-YYYY-MM-DDTHHMMSSZ.sql.gz), oldest first by name.
rotate() {
    local dumps=() old
    shopt -s nullglob
    dumps=("$backup_dir/$db_name"-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.sql.gz)
    shopt -u nullglob
    while [ "${#dumps[@]}" -gt "$keep" ]; do
        old="${dumps[0]}"
        dumps=("${dumps[@]:1}")
        rm -f -- "$old"
        log "removed $old (keeping the newest $keep)"
    done
}

umask 077 # dumps hold every row, password hashes included: owner only
if [ "${1:-}" = once ]; then
    dump_once
    exit
fi
[ $# -eq 0 ] || fail "usage: backup.sh [once]"

interval="$(seconds "${BACKUP_INTERVAL:-24h}")"
# A failed dump (the server still starting, say) is tried again soon, not a day later.
retry=$((interval < 10 ? interval : 10))
trap 'log "stopping"; exit 0' TERM INT
log "dumping $db_name into $backup_dir every ${BACKUP_INTERVAL:-24h}, keeping the newest $keep"
while true; do
    wait_for="$interval"
    dump_once || wait_for="$retry"
    sleep "$wait_for" &
    wait $!
done
