# shellcheck shell=bash
# Creates the least-privilege role of the backup service (compose.yaml, profile backup). The
# postgres image's entrypoint sources this file once, when it initialises an empty data
# directory, after 10-app-role.sh. On a cluster initialised before this file existed, run the
# same statements once as postgres (compose/README.md, "PostgreSQL").
#
# What `pg_dump app` needs, and no more: CONNECT, USAGE on schema public, SELECT on the tables
# (the rows, and the ACCESS SHARE lock it takes on each) and on the sequences (their values),
# now and for every one the app's role creates later. No superuser, no pg_read_all_data
# (every database of the cluster), no write of any kind.
backup_db="${POSTGRES_DB:-app}"
backup_password="$(<"${BACKUP_PASSWORD_FILE:-/run/secrets/backup_db_password}")"
backup_password="${backup_password//\'/\'\'}"
docker_process_sql <<SQL
CREATE ROLE backup LOGIN PASSWORD '${backup_password}';
GRANT CONNECT ON DATABASE "${backup_db//\"/\"\"}" TO backup;
GRANT USAGE ON SCHEMA public TO backup;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO backup;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO backup;
ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON TABLES TO backup;
ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON SEQUENCES TO backup;
SQL
unset backup_db backup_password
