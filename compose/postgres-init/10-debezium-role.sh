#!/usr/bin/env bash
# Runs once, on the first start of the postgres container (empty data directory), as the
# superuser POSTGRES_USER: create the REPLICATION role Debezium connects as.
set -euo pipefail

: "${DEBEZIUM_PG_USER:?set DEBEZIUM_PG_USER}"
: "${DEBEZIUM_PG_PASSWORD:?set DEBEZIUM_PG_PASSWORD}"

# psql variables (:"ident", :'literal') quote the values, so no SQL is built by string pasting.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=dbz_user="$DEBEZIUM_PG_USER" \
  --set=dbz_password="$DEBEZIUM_PG_PASSWORD" \
  --set=app_user="$POSTGRES_USER" \
  --set=db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"dbz_user" WITH LOGIN REPLICATION PASSWORD :'dbz_password';
-- CREATE on the database: the connector creates its publication (publication.autocreate.mode=filtered).
GRANT CONNECT, CREATE ON DATABASE :"db" TO :"dbz_user";
GRANT USAGE ON SCHEMA public TO :"dbz_user";
-- CREATE PUBLICATION ... FOR TABLE public.todos needs the table's owner (the application user,
-- whose migrations create it), and the snapshot needs SELECT: inherit the owner's privileges.
-- SET FALSE: the role may not SET ROLE to the (superuser) application user (PostgreSQL 16+).
GRANT :"app_user" TO :"dbz_user" WITH INHERIT TRUE, SET FALSE;
SQL
