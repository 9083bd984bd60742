#!/usr/bin/env bash
# The test command: runs the whole suite against a real PostgreSQL. When LEDGER_TEST_POSTGRES (an Npgsql connection
# string) is not set, it installs PostgreSQL from the Debian package if needed, starts the local cluster and uses it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${LEDGER_TEST_POSTGRES:-}" ]; then
  if [ ! -x /usr/bin/pg_ctlcluster ] || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "tests: installing PostgreSQL (Debian package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main" || pg_createcluster "$version" main >/dev/null
  pg_ctlcluster "$version" main start 2>/dev/null || true # already running is fine
  port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.5; done
  pg_isready -h 127.0.0.1 -p "$port"
  runuser -u postgres -- psql -q -p "$port" -c "ALTER USER postgres PASSWORD 'ledger-test'"
  export LEDGER_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Password=ledger-test;Database=postgres"
fi

dotnet test RevenueLedger.sln -c Release "$@"
