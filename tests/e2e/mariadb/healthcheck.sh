#!/usr/bin/env bash
# The official mariadb image's healthcheck.sh, reduced to what compose files use:
#   healthcheck.sh [--defaults-extra-file=F] [--no-defaults] [--su-mysql] --connect --innodb_initialized
# Tests run in order; the first to fail sets a non-zero exit.
# --connect passes when the server accepts TCP connections on localhost, whatever the
# credentials (like the original: it only fails on "Can't connect").
# --innodb_initialized asks the server, as the healthcheck user that the entrypoint created,
# whether InnoDB is available.
set -u
extra_file=/var/lib/mysql/.my-healthcheck.cnf
defaults=()

# shellcheck disable=SC2329  # tests are called by name from the command line
connect() {
    local out
    out="$(mariadb "${defaults[@]}" --skip-ssl -h localhost --protocol tcp -e 'SELECT 1' 2>&1)"
    ! grep -qF "Can't connect" <<<"$out"
}

# shellcheck disable=SC2329
innodb_initialized() {
    local out
    out="$(mariadb "${defaults[@]}" --skip-column-names --batch -e \
        "SELECT 1 FROM information_schema.ENGINES WHERE engine='innodb' AND support IN ('YES', 'DEFAULT', 'ENABLED')" 2>/dev/null)"
    [ "$out" = 1 ]
}

tests=()
nodefaults=""
while [ $# -gt 0 ]; do
    case "$1" in
        --connect | --innodb_initialized) tests+=("${1#--}") ;;
        --defaults-extra-file=*) extra_file="${1#*=}" ;;
        --no-defaults) nodefaults=1 ;;
        --su-mysql | --su=mysql) ;;  # already runs with enough rights to read the option file
        *) echo "healthcheck.sh: unsupported option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$nodefaults" ]; then
    defaults=(--no-defaults)
elif [ -r "$extra_file" ]; then
    defaults=(--defaults-extra-file="$extra_file")
fi
[ ${#tests[@]} -gt 0 ] || { echo "healthcheck.sh: no test given" >&2; exit 2; }
for t in "${tests[@]}"; do
    if ! "$t"; then
        echo "healthcheck $t failed" >&2
        exit 1
    fi
done
exit 0
