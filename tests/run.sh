#!/usr/bin/env bash
# The test command: runs the whole suite against real servers, installed from the Debian packages and started here
# when not given:
# - PostgreSQL: LEDGER_TEST_POSTGRES (an Npgsql connection string), else the local "main" cluster;
# - for the end-to-end tests, which restart their database: LEDGER_TEST_E2E_POSTGRES with LEDGER_TEST_E2E_PG_CLUSTER
#   ("VERSION NAME" for pg_ctlcluster), else a local cluster "e2e" of their own;
# - RabbitMQ: LEDGER_TEST_RABBITMQ (an amqp:// URI of a user that may create virtual hosts), else the local broker.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
if [ -z "${LEDGER_TEST_POSTGRES:-}" ] || [ -z "${LEDGER_TEST_E2E_POSTGRES:-}" ]; then
  { [ -x /usr/bin/pg_ctlcluster ] && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; } || need+=(postgresql)
fi
if [ -z "${LEDGER_TEST_RABBITMQ:-}" ]; then command -v rabbitmq-server >/dev/null || need+=(rabbitmq-server); fi
# The dashboard's browser tests drive Debian's headless Chromium (LEDGER_CHROMIUM names another binary).
if [ -z "${LEDGER_CHROMIUM:-}" ]; then [ -x /usr/bin/chromium ] || need+=(chromium); fi
# The audit tests run the independent verifier (Python's standard library) and check signatures with openssl.
command -v python3 >/dev/null || need+=(python3)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests: installing ${need[*]} (Debian packages)" >&2
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Servers this script started are stopped when it ends (LEDGER_TEST_KEEP_SERVERS=1 keeps them for the next run);
# servers that were already running are left as they were.
started=$(mktemp)
stop_started() {
  if [ -z "${LEDGER_TEST_KEEP_SERVERS:-}" ]; then
    while read -r kind a b; do
      case "$kind" in
        pg) pg_ctlcluster "$a" "$b" stop >/dev/null 2>&1 || true ;;
        rabbit) rabbitmqctl -q stop >/dev/null 2>&1 || true ;;
      esac
    done < "$started"
  fi
  rm -f "$started"
}
trap stop_started EXIT

# Starts (creating if needed) a local cluster and prints its port (everything else goes to stderr).
cluster() { # name port
  local version; version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version $1" || pg_createcluster "$version" "$1" -p "$2" >/dev/null
  if ! pg_lsclusters -h | awk -v v="$version" -v n="$1" '$1 == v && $2 == n {print $4}' | grep -q online; then
    pg_ctlcluster "$version" "$1" start >&2
    echo "pg $version $1" >> "$started"
  fi
  local port; port=$(pg_lsclusters -h | awk -v v="$version" -v n="$1" '$1 == v && $2 == n {print $3}')
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.5; done
  pg_isready -q -h 127.0.0.1 -p "$port"
  runuser -u postgres -- psql -q -p "$port" -c "ALTER USER postgres PASSWORD 'ledger-test'" >&2
  echo "$port" # the only thing on stdout: the caller captures it
}
version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1 || true)
if [ -z "${LEDGER_TEST_POSTGRES:-}" ]; then
  port=$(cluster main 5432)
  export LEDGER_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Password=ledger-test;Database=postgres"
fi
if [ -z "${LEDGER_TEST_E2E_POSTGRES:-}" ]; then
  port=$(cluster e2e 5433)
  export LEDGER_TEST_E2E_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Password=ledger-test;Database=postgres"
  export LEDGER_TEST_E2E_PG_CLUSTER="$version e2e"
fi

if [ -z "${LEDGER_TEST_RABBITMQ:-}" ]; then
  # No systemd here: the broker runs detached. A previous run may have left its application stopped.
  # -detached returns before the node registers with epmd, and await_startup fails at once on a node it cannot
  # reach, so wait for the node to answer first.
  if ! rabbitmqctl -q ping >/dev/null 2>&1; then
    rabbitmq-server -detached
    echo "rabbit" >> "$started"
    for _ in $(seq 1 240); do rabbitmqctl -q ping >/dev/null 2>&1 && break; sleep 0.5; done
    if ! rabbitmqctl -q ping >/dev/null 2>&1; then
      echo "tests: RabbitMQ did not start; the end of its log:" >&2
      tail -n 50 /var/log/rabbitmq/*.log >&2 || true
      exit 1
    fi
  fi
  rabbitmqctl -q await_startup --timeout 120
  rabbitmqctl -q start_app 2>/dev/null || true
  rabbitmqctl -q await_startup --timeout 120
  export LEDGER_TEST_RABBITMQ="amqp://guest:guest@127.0.0.1:5672/"
fi

dotnet test RevenueLedger.sln -c Release "$@"
