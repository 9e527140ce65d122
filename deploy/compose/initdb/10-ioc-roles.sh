#!/usr/bin/env bash
# Runs once, when the TimescaleDB volume is empty (docker-entrypoint-initdb.d).
# Roles: ioc (read-write, owns database ioc), ioc_grafana (read-only, statements cancelled
# after 10 s). Passwords come from the environment (IOC_DB_PASSWORD,
# IOC_GRAFANA_DB_PASSWORD), never from this file.
set -euo pipefail
: "${IOC_DB_PASSWORD:?IOC_DB_PASSWORD must be set}"
: "${IOC_GRAFANA_DB_PASSWORD:?IOC_GRAFANA_DB_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v ioc_pw="$IOC_DB_PASSWORD" -v grafana_pw="$IOC_GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE ioc LOGIN PASSWORD :'ioc_pw';
CREATE ROLE ioc_grafana LOGIN PASSWORD :'grafana_pw';
ALTER ROLE ioc_grafana SET statement_timeout = '10s';
CREATE DATABASE ioc OWNER ioc;
SQL

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname ioc <<'SQL'
CREATE EXTENSION IF NOT EXISTS timescaledb;
GRANT CONNECT ON DATABASE ioc TO ioc_grafana;
GRANT USAGE ON SCHEMA public TO ioc_grafana;
ALTER DEFAULT PRIVILEGES FOR ROLE ioc IN SCHEMA public GRANT SELECT ON TABLES TO ioc_grafana;
SQL
