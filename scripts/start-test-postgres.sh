#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster for the tests (when it is not already
# running) and makes sure the tests' role and database exist, then prints the
# URL the tests read as TEST_POSTGRES_URL. Idempotent: run it as often as you like.
#
#   export TEST_POSTGRES_URL="$(scripts/start-test-postgres.sh)"
#
# The role may create databases: each test file creates its own, so files run
# in parallel and in any order without seeing each other's rows.
# Needs root (or the postgres user) and a Debian-style cluster (pg_ctlcluster).
set -euo pipefail

role="${TEST_POSTGRES_ROLE:-stored_completions_test}"
password="${TEST_POSTGRES_PASSWORD:-stored-completions-test}"
database="${TEST_POSTGRES_DATABASE:-stored_completions_test}"

# The newest installed cluster, unless one is named (e.g. TEST_POSTGRES_CLUSTER="15 main").
if [[ -n "${TEST_POSTGRES_CLUSTER:-}" ]]; then
  read -r version cluster <<<"$TEST_POSTGRES_CLUSTER"
else
  read -r version cluster < <(pg_lsclusters --no-header | sort -k1,1n | tail -n 1 | awk '{print $1, $2}')
fi
[[ -n "${version:-}" ]] || { echo "no PostgreSQL cluster found (pg_lsclusters lists none)" >&2; exit 1; }

status="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $4}')"
if [[ "$status" != online* ]]; then
  pg_ctlcluster "$version" "$cluster" start >&2
fi
port="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')"

as_postgres() {
  if [[ "$(id -un)" == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi
}
psql_admin() {
  as_postgres psql --no-psqlrc -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@"
}

# A server just started may take a moment to accept connections.
for _ in $(seq 1 50); do
  as_postgres pg_isready -q -p "$port" && break
  sleep 0.2
done

psql_admin -v role="$role" -v password="$password" <<'SQL' >&2
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
-- The tests drop their databases WITH (FORCE), which must also end an autovacuum worker that
-- happens to be in one: a process of no role, which only pg_signal_backend may signal.
SELECT format('GRANT pg_signal_backend TO %I', :'role') \gexec
-- The bench ends a bulk load's checkpoint before measuring lists (bench/database.ts); PostgreSQL 15 and later.
SELECT format('GRANT pg_checkpoint TO %I', :'role') WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_checkpoint') \gexec
SQL
psql_admin -v role="$role" -v database="$database" <<'SQL' >&2
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
SQL

echo "postgres://${role}:${password}@127.0.0.1:${port}/${database}"
