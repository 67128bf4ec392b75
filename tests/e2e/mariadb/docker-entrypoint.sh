#!/usr/bin/env bash
# Initialises an empty datadir the way the official mariadb image's entrypoint does (the
# subset compose stacks use), then runs mariadbd as the mysql user.
set -eo pipefail
shopt -s nullglob

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

mysql_note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
mysql_error() {
    printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2
    exit 1
}

entrypoint_note() { mysql_note "$@"; }
entrypoint_error() { mysql_error "$@"; }
# shellcheck source=../entrypoint_lib.sh
. /usr/local/lib/entrypoint_lib.sh

# SQL string literal body: backslashes and quotes escaped (the default sql_mode honours \).
sql_escape() {
    local s="${1//\\/\\\\}"
    printf '%s' "${s//\'/\\\'}"
}

# docker_process_sql [--dont-use-mysql-root-password] [--database=x] [mariadb args...] < sql
# Same name and contract as the official entrypoint's, which initdb *.sh scripts call.
# shellcheck disable=SC2120  # the arguments are for sourced initdb scripts
docker_process_sql() {
    local pass="$MARIADB_ROOT_PASSWORD"
    if [ "${1:-}" = --dont-use-mysql-root-password ]; then
        pass=""
        shift
    fi
    local db=()
    [ -n "${MARIADB_DATABASE:-}" ] && db=(--database="$MARIADB_DATABASE")
    MYSQL_PWD="$pass" mariadb --protocol=socket --socket="$SOCKET" -uroot -hlocalhost \
        --comments "${db[@]}" "$@"
}

docker_temp_server_start() {
    mysql_note "Starting temporary server"
    mariadbd --user=mysql --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" \
        --wsrep_on=OFF --expire-logs-days=0 --skip-slave-start \
        --loose-innodb_buffer_pool_load_at_startup=0 \
        --loose-innodb_buffer_pool_dump_at_shutdown=0 &
    TEMP_PID=$!
    local _
    for _ in {30..0}; do
        if MYSQL_PWD="${1:-}" mariadb --protocol=socket --socket="$SOCKET" -uroot -hlocalhost \
            -e 'SELECT 1' >/dev/null 2>&1; then
            mysql_note "Temporary server started."
            return
        fi
        kill -0 "$TEMP_PID" 2>/dev/null || mysql_error "Temporary server died on start"
        sleep 1
    done
    mysql_error "Unable to start server."
}

docker_temp_server_stop() {
    mysql_note "Stopping temporary server"
    MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb-admin --socket="$SOCKET" -uroot shutdown
    wait "$TEMP_PID" || true
    mysql_note "Temporary server stopped"
}

docker_setup_db() {
    local rootpw userpw hcpw
    rootpw="$(sql_escape "$MARIADB_ROOT_PASSWORD")"
    hcpw="$(head -c 33 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    # mariadb-install-db leaves anonymous users and passwordless root@127.0.0.1, ::1 and
    # <hostname>: the official image removes them and gives root@localhost its password.
    {
        echo "SET @@SESSION.SQL_LOG_BIN=0;"
        echo "DELETE FROM mysql.global_priv WHERE User <> 'mariadb.sys' AND NOT (User = 'root' AND Host = 'localhost');"
        echo "FLUSH PRIVILEGES;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('$rootpw') OR unix_socket;"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$rootpw';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        echo "CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY '$hcpw';"
        echo "CREATE USER 'healthcheck'@'::1' IDENTIFIED BY '$hcpw';"
        echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$hcpw';"
        if [ -n "${MARIADB_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
        fi
        if [ -n "${MARIADB_USER:-}" ]; then
            userpw="$(sql_escape "$MARIADB_PASSWORD")"
            echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$userpw';"
            if [ -n "${MARIADB_DATABASE:-}" ]; then
                echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
            fi
        fi
    } | MYSQL_PWD="" mariadb --protocol=socket --socket="$SOCKET" -uroot -hlocalhost
    printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' \
        "$SOCKET" "$hcpw" >"$DATADIR/.my-healthcheck.cnf"
    chown mysql:mysql "$DATADIR/.my-healthcheck.cnf"
    chmod 0600 "$DATADIR/.my-healthcheck.cnf"
}

docker_init_datadir() {
    file_env MARIADB_ROOT_PASSWORD "${MYSQL_ROOT_PASSWORD:-}"
    file_env MARIADB_PASSWORD "${MYSQL_PASSWORD:-}"
    : "${MARIADB_DATABASE:=${MYSQL_DATABASE:-}}"
    : "${MARIADB_USER:=${MYSQL_USER:-}}"
    if [ -z "$MARIADB_ROOT_PASSWORD" ]; then
        mysql_error "Database is uninitialized and password option is not specified
    You need to specify MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_FILE"
    fi
    if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
        mysql_error "MARIADB_USER is set but MARIADB_PASSWORD(_FILE) is not"
    fi
    mysql_note "Initializing database files"
    mariadb-install-db --datadir="$DATADIR" --user=mysql --auth-root-authentication-method=normal \
        --skip-test-db --cross-bootstrap --skip-name-resolve --default-time-zone=SYSTEM \
        --skip-log-bin --expire-logs-days=0 >/dev/null
    mysql_note "Database files initialized"
    docker_temp_server_start ""
    docker_setup_db
    docker_process_init_files /docker-entrypoint-initdb.d/*
    docker_temp_server_stop
    mysql_note "MariaDB init process done. Ready for start up."
}

if [ "${1:0:1}" = '-' ]; then
    set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
    mysql_note "Entrypoint script for MariaDB Server $(mariadbd --version | awk '{print $3}') started."
    if [ "$(id -u)" = 0 ]; then
        mkdir -p /run/mysqld
        chown mysql:mysql /run/mysqld
        find "$DATADIR" -maxdepth 0 \! -user mysql -exec chown mysql:mysql '{}' +
    fi
    if [ ! -d "$DATADIR/mysql" ]; then
        docker_init_datadir
    fi
    shift
    if [ "$(id -u)" = 0 ]; then
        exec setpriv --reuid=mysql --regid=mysql --init-groups mariadbd "$@"
    fi
    exec mariadbd "$@"
fi

exec "$@"
