# shellcheck shell=bash
# Creates the sidecar's SELECT-only role. The postgres image's entrypoint sources this file
# once, when it initialises an empty data directory, after 10-app-role.sh.
#
# - CONNECT on the app database and USAGE on its schema public;
# - SELECT on every table the app's role creates there, now and later (its migrations run
#   after this script: default privileges FOR ROLE app).
# Nothing else: no INSERT, UPDATE, DELETE, TRUNCATE or CREATE (the sidecar's own
# database:privileges check warns on any of them), no other database, no superuser. The
# cluster's identity (pg_control_system()) needs no grant.
monitor_db="${POSTGRES_DB:-app}"
monitor_password="$(<"${MONITOR_PASSWORD_FILE:-/run/secrets/monitor_db_password}")"
monitor_password="${monitor_password//\'/\'\'}"
docker_process_sql <<SQL
CREATE ROLE monitor LOGIN PASSWORD '${monitor_password}';
GRANT CONNECT ON DATABASE "${monitor_db//\"/\"\"}" TO monitor;
GRANT USAGE ON SCHEMA public TO monitor;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO monitor;
ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON TABLES TO monitor;
SQL
unset monitor_db monitor_password
