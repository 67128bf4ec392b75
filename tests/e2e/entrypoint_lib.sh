# shellcheck shell=bash
# What the two stand-in images' entrypoints (mariadb/ and postgres/docker-entrypoint.sh) share,
# as the official images' entrypoints do: each sources this file and defines entrypoint_note,
# entrypoint_error and docker_process_sql (its engine's client as the superuser, SQL on stdin).

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE (container secrets),
# exported; VAR_FILE unset.
file_env() {
    local var="$1" def="${2:-}"
    local fvar="${var}_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
        entrypoint_error "both $var and $fvar are set (but are exclusive)"
    fi
    local val="$def"
    if [ -n "${!var:-}" ]; then
        val="${!var}"
    elif [ -n "${!fvar:-}" ]; then
        val="$(<"${!fvar}")"
    fi
    export "$var"="$val"
    unset "$fvar"
}

# docker_process_init_files FILE...: the files of /docker-entrypoint-initdb.d, in order: *.sh
# run when executable, else sourced (so that they see docker_process_sql); SQL fed to
# docker_process_sql, compressed or not; anything else ignored.
# shellcheck disable=SC2119  # SQL files need no extra client arguments
docker_process_init_files() {
    local f
    for f in "$@"; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    entrypoint_note "$0: running $f"
                    "$f"
                else
                    entrypoint_note "$0: sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) entrypoint_note "$0: running $f"; docker_process_sql <"$f" ;;
            *.sql.gz) entrypoint_note "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
            *.sql.xz) entrypoint_note "$0: running $f"; xzcat "$f" | docker_process_sql ;;
            *.sql.zst) entrypoint_note "$0: running $f"; zstd -dc "$f" | docker_process_sql ;;
            *) entrypoint_note "$0: ignoring $f" ;;
        esac
    done
}
