# shellcheck shell=bash
# The app's own role, owner of the app database: its migrations create the tables, and it is
# no superuser (the image's POSTGRES_USER, postgres, is). The postgres image's entrypoint
# sources this file once, when it initialises an empty data directory, as the postgres user,
# with docker_process_sql defined (psql as POSTGRES_USER over the socket, into POSTGRES_DB).
# On PostgreSQL 15 and later the owner of a database owns its schema `public` too
# (pg_database_owner), so this is all the app needs.
app_db="${POSTGRES_DB:-app}"
app_password="$(<"${APP_PASSWORD_FILE:-/run/secrets/app_db_password}")"
# SQL string literal: quotes doubled (standard_conforming_strings is on); never on argv.
app_password="${app_password//\'/\'\'}"
docker_process_sql <<SQL
CREATE ROLE app LOGIN PASSWORD '${app_password}';
ALTER DATABASE "${app_db//\"/\"\"}" OWNER TO app;
SQL
unset app_db app_password
