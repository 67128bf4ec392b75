# shellcheck shell=bash
# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE (container secrets),
# exported; VAR_FILE unset. As the official images' entrypoints do; sourced by both stand-ins'
# (mariadb/ and postgres/docker-entrypoint.sh), which define entrypoint_error.
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
