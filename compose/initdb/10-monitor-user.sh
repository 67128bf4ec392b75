# shellcheck shell=bash
# Creates the sidecar's least-privilege monitoring user. The mariadb image's entrypoint sources
# this file once, when it initialises an empty datadir, with docker_process_sql defined.
#
# - SELECT on the app's database: all the sidecar needs (row counts, newest record).
# - SELECT on mysql.gtid_slave_pos: optional; its CREATE_TIME records when this datadir was
#   initialised (it survives `mariadb-upgrade --force`), one more volume-identity source.
#   The table holds replication positions only, no secrets.
# No PROCESS, no SUPER, no access to other databases or to mysql.user.
monitor_db="${MARIADB_DATABASE:-app}"
monitor_password="$(<"${MONITOR_PASSWORD_FILE:-/run/secrets/monitor_db_password}")"
monitor_password="${monitor_password//\\/\\\\}"
monitor_password="${monitor_password//\'/\\\'}"
docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS 'monitor'@'%' IDENTIFIED BY '${monitor_password}';
GRANT SELECT ON \`${monitor_db}\`.* TO 'monitor'@'%';
GRANT SELECT ON mysql.gtid_slave_pos TO 'monitor'@'%';
SQL
unset monitor_db monitor_password
