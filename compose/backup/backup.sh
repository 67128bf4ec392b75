#!/usr/bin/env bash
# The stack's backup job, run by compose.yaml's optional `backup` service (in the MariaDB
# image, for its mariadb-dump; in compose/postgres/, in the postgres image with DB_ENGINE=
# postgresql, for its pg_dump): what the incident's team ran from cron as
# /usr/local/bin/backup-databases.sh, as a loop in a container.
#
#   backup.sh         a dump at start, then one every BACKUP_INTERVAL (24h; or 90s, 15m, 6h, 2d)
#   backup.sh once    one dump now, e.g. before a restart:
#                     docker compose exec backup bash /backup/backup.sh once
#
# Each dump is `mariadb-dump --single-transaction` of DB_NAME as DB_USER (SELECT, SHOW VIEW
# and TRIGGER are all it needs: initdb/20-backup-user.sh), or on PostgreSQL `pg_dump` in its
# plain format (one snapshot; SELECT on the tables and sequences: postgres/initdb/
# 30-backup-role.sh), gzipped into a hidden partial file
# in BACKUP_DIR and renamed to <DB_NAME>-<UTC time>.sql.gz only once complete, so the sidecar
# never reads half a dump. A failed dump leaves nothing behind and removes nothing. After a
# good one, only the newest BACKUP_KEEP (14) of this job's own dumps are kept, but never the
# newest dump that still holds the rows the sidecar remembers.
#
# It dumps whatever database it finds, as the incident's job did: the morning after the
# rename it dumped the new, empty database, and with rotation every good dump would have gone
# in a fortnight. So before removing anything it asks the sidecar watching BACKUP_DIR
# (SIDECAR_BACKUP_DIR): GET SIDECAR_URL/health (default http://sidecar:8080; with the token
# of SIDECAR_DETAILS_TOKEN_FILE when the sidecar has one), and keeps, for every
# `<table>:backupRows` check, the dump it vouches for: the judged one when it passes, the
# restore candidate when it fails. When it cannot ask, or the sidecar cannot vouch for any
# dump yet (not counted, no candidate), it removes nothing and says so.
set -euo pipefail

db_name="${DB_NAME:?}"
engine="${DB_ENGINE:-mariadb}"
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
case "$engine" in
    mariadb | postgresql) ;;
    *) fail "DB_ENGINE must be mariadb or postgresql, not '$engine'" ;;
esac
if ! [ -d "$backup_dir" ] || ! [ -w "$backup_dir" ]; then
    fail "cannot write to $backup_dir"
fi

# dump_database: the dump of DB_NAME on stdout, in the engine's own client. The password
# reaches it through its environment, never its command line.
dump_database() {
    if [ "$engine" = postgresql ]; then
        PGPASSWORD="$(<"${DB_PASSWORD_FILE:?}")" pg_dump --host="${DB_HOST:-postgres}" \
            --username="${DB_USER:?}" --no-password "$db_name"
    else
        MYSQL_PWD="$(<"${DB_PASSWORD_FILE:?}")" mariadb-dump --host="${DB_HOST:-mariadb}" \
            --user="${DB_USER:?}" --single-transaction --triggers "$db_name"
    fi
}

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
    if ! dump_database | gzip >"$partial"; then
        rm -f "$partial"
        log "dump of $db_name failed; nothing was rotated"
        return 1
    fi
    mv "$partial" "$final"
    log "wrote $final ($(stat -c %s "$final") bytes)"
    rotate
}

# health: the sidecar's /health body, over bash's /dev/tcp (the database images have no curl).
health() {
    local url="${SIDECAR_URL:-http://sidecar:8080}" hostport host port request reply
    [[ "$url" == http://* ]] || { echo "SIDECAR_URL is not http://host:port: $url"; return 1; }
    hostport="${url#http://}"
    hostport="${hostport%%/*}"
    host="${hostport%:*}"
    port="${hostport##*:}"
    [ "$host" != "$hostport" ] || port=80
    request="GET /health HTTP/1.0"$'\r\n'"Host: $hostport"$'\r\n'
    if [ -n "${SIDECAR_DETAILS_TOKEN_FILE:-}" ]; then
        request+="Authorization: Bearer $(tr -d '[:space:]' <"$SIDECAR_DETAILS_TOKEN_FILE")"$'\r\n'
    fi
    # The request (and its token) reaches the connecting shell by its environment, never argv.
    reply="$(REQUEST="$request"$'\r\n' timeout 10 bash -c \
        'exec 3<>"/dev/tcp/$1/$2" && printf "%s" "$REQUEST" >&3 && cat <&3' \
        _ "$host" "$port" 2>/dev/null)" || {
        echo "no answer from $url"
        return 1
    }
    case "${reply%%$'\r'*}" in
        "HTTP/1."[01]" 200"* | "HTTP/1."[01]" 503"*) ;;
        *)
            echo "$url/health answered '${reply%%$'\r'*}'"
            return 1
            ;;
    esac
    printf '%s' "${reply#*$'\r\n\r\n'}"
}

# vouched: the file names the sidecar vouches for, one a line (see the header); or why not.
vouched() {
    local body checks check status name key
    body="$(health)" || { echo "$body"; return 1; }
    checks="$(grep -o '"[^"]*:backupRows":\[{[^]]*}\]' <<<"$body")" || {
        echo "its /health names no backupRows check (details need SIDECAR_DETAILS_TOKEN_FILE, or SIDECAR_BACKUP_DIR is off)"
        return 1
    }
    while IFS= read -r check; do
        status="$(grep -o '"status":"[a-z]*"' <<<"$check" | head -n1 | cut -d'"' -f4)"
        case "$status" in
            pass) name="$(grep -o '"backup":"[^"\\]*"' <<<"$check" | cut -d'"' -f4)" ;;
            fail) name="$(grep -o '"restoreCandidate":"[^"\\]*"' <<<"$check" | cut -d'"' -f4)" ;;
            *) name="" ;;
        esac
        if [ -z "$name" ]; then
            key="${check%%\":\[*}"
            echo "it vouches for no dump yet (${key#\"} is ${status:-unknown})"
            return 1
        fi
        echo "$name"
    done <<<"$checks"
}

# Only this job's own dumps (<DB_NAME>-YYYY-MM-DDTHHMMSSZ.sql.gz), oldest first by name.
rotate() {
    local dumps=() old excess keeping why
    shopt -s nullglob
    dumps=("$backup_dir/$db_name"-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.sql.gz)
    shopt -u nullglob
    excess=$((${#dumps[@]} - keep))
    [ "$excess" -gt 0 ] || return 0
    if ! keeping="$(vouched)"; then
        why="${keeping##*$'\n'}"
        log "removed nothing: cannot ask the sidecar which dump still holds the data ($why)"
        return 0
    fi
    # The dump the sidecar vouches for is kept on top of the newest $keep: counted out first.
    for old in "${dumps[@]}"; do
        ! grep -qxF -- "${old##*/}" <<<"$keeping" || excess=$((excess - 1))
    done
    for old in "${dumps[@]}"; do
        [ "$excess" -gt 0 ] || break
        if grep -qxF -- "${old##*/}" <<<"$keeping"; then
            log "kept $old: the newest dump the sidecar says still holds the data"
            continue
        fi
        rm -f -- "$old"
        excess=$((excess - 1))
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
