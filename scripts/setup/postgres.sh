#!/usr/bin/env bash
# PostgreSQL for the queue tests, on loopback only: installs Debian's server if missing (idempotent), starts it,
# creates the role and database, and prints the URL the tests read from $FORENSIGHT_TEST_POSTGRES:
#   export FORENSIGHT_TEST_POSTGRES=$(bash scripts/setup/postgres.sh)
set -euo pipefail
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  $sudo apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then $sudo pg_createcluster "$version" main >&2; fi
# Debian's cluster listens on localhost only (listen_addresses = 'localhost').
pg_lsclusters -h | grep -q "^$version main .* online" || $sudo pg_ctlcluster "$version" main start >&2
psql_admin() { $sudo runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"; }
for _ in $(seq 1 30); do psql_admin -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'forensight'")" != 1 ]; then
  psql_admin -c "CREATE ROLE forensight LOGIN PASSWORD 'forensight'" >&2
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'forensight_test'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE forensight_test OWNER forensight" >&2
fi
echo "postgres://forensight:forensight@127.0.0.1:5432/forensight_test"
