# shellcheck shell=bash
# Creates the least-privilege account of the backup service (compose.yaml, profile backup).
# The mariadb image's entrypoint sources this file once, when it initialises an empty datadir,
# with docker_process_sql defined. On a datadir initialised before this file existed, run the
# same statements once as root (compose/README.md, "Watching the backups").
#
# What `mariadb-dump --single-transaction --triggers app` needs, and no more:
# - SELECT: the rows, and SHOW CREATE TABLE;
# - SHOW VIEW: SHOW CREATE VIEW of any view;
# - TRIGGER: SHOW CREATE TRIGGER (--triggers is on by default).
# No LOCK TABLES (--single-transaction reads one consistent InnoDB snapshot, no lock), no
# RELOAD or PROCESS, no access to other databases or to mysql.*.
backup_db="${MARIADB_DATABASE:-app}"
backup_password="$(<"${BACKUP_PASSWORD_FILE:-/run/secrets/backup_db_password}")"
backup_password="${backup_password//\\/\\\\}"
backup_password="${backup_password//\'/\\\'}"
docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS 'backup'@'%' IDENTIFIED BY '${backup_password}';
GRANT SELECT, SHOW VIEW, TRIGGER ON \`${backup_db}\`.* TO 'backup'@'%';
SQL
unset backup_db backup_password
