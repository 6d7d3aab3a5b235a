#!/usr/bin/env bash
# PostgreSQL init script (docker-entrypoint-initdb.d): one database and one login role per
# service, so no service can read another's tables. For each name in CRM_DATABASES (e.g.
# "sales gateway") it creates role crm_<name> with the password in CRM_<NAME>_DB_PASSWORD and
# database crm_<name> owned by it. Runs once, on an empty data directory.
set -euo pipefail

for service in ${CRM_DATABASES:?list the services, e.g. CRM_DATABASES="sales gateway"}; do
  password_var="CRM_${service^^}_DB_PASSWORD"
  password="${!password_var:?set ${password_var}}"
  role="crm_${service}"
  database="crm_${service}"
  echo "creating database ${database} owned by ${role}"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
       -v role="${role}" -v database="${database}" -v password="${password}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
done
