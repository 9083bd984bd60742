#!/usr/bin/env bash
# Brings the distributed topology up on this machine without Docker: PostgreSQL and RabbitMQ from the Debian
# packages, then the Ingestion and Gateway services and two Projector processes (one active, the other on standby,
# taking over if it dies), as background processes. Prints the ports and the API keys. Stop it with deploy/local/down.sh.
# Settings: LEDGER_PG_PORT (default 5432), INGESTION_PORT (5182), GATEWAY_PORT (5181), LEDGER_API_KEYS (generated),
# OTEL_EXPORTER_OTLP_ENDPOINT (traces and metrics to a collector; none when unset).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
state="$root/deploy/local/.state"
mkdir -p "$state"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v rabbitmq-server >/dev/null; then
  $sudo apt-get update -qq && $sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql rabbitmq-server >/dev/null
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
pg_port=${LEDGER_PG_PORT:-$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1==v && $2=="main" {print $3}')}
pg_port=${pg_port:-5432}
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1==v && $2=="main"' | grep -q online; then
  $sudo pg_ctlcluster "$ver" main start
  touch "$state/pg-started" # down.sh stops only a cluster that this script started
fi
for _ in $(seq 50); do $sudo runuser -u postgres -- pg_isready -q -p "$pg_port" && break; sleep 0.2; done
password=$(cat "$state/pg-password" 2>/dev/null || openssl rand -hex 12)
echo "$password" > "$state/pg-password"
$sudo runuser -u postgres -- psql -q -p "$pg_port" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger') THEN CREATE ROLE ledger LOGIN PASSWORD '$password';
  ELSE ALTER ROLE ledger PASSWORD '$password'; END IF;
END \$\$;
SELECT 'CREATE DATABASE ledger OWNER ledger' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ledger')\gexec
SQL
store="postgres:Host=127.0.0.1;Port=$pg_port;Username=ledger;Password=$password;Database=ledger"

# RabbitMQ (no systemd here: started detached), a vhost and user of the ledger's own, and the management UI.
if ! $sudo rabbitmqctl -q status >/dev/null 2>&1; then
  $sudo rabbitmq-server -detached
  touch "$state/rabbitmq-started" # down.sh stops only a broker that this script started
fi
$sudo rabbitmqctl -q await_startup --timeout 120
$sudo rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 || true
amqp_password=$(cat "$state/amqp-password" 2>/dev/null || openssl rand -hex 12)
echo "$amqp_password" > "$state/amqp-password"
$sudo rabbitmqctl -q add_vhost ledger 2>/dev/null || true
$sudo rabbitmqctl -q add_user ledger "$amqp_password" 2>/dev/null || $sudo rabbitmqctl -q change_password ledger "$amqp_password"
$sudo rabbitmqctl -q set_user_tags ledger management
$sudo rabbitmqctl -q set_permissions -p ledger ledger '.*' '.*' '.*'
export LEDGER_RABBITMQ="amqp://ledger:$amqp_password@127.0.0.1:5672/ledger"

if [ -z "${LEDGER_API_KEYS:-}" ]; then
  [ -f "$state/api-keys" ] || for r in writer reader auditor admin; do printf '%s:%s-%s,' "$r" "$r" "$(openssl rand -hex 16)"; done | sed 's/,$//' > "$state/api-keys"
  LEDGER_API_KEYS=$(cat "$state/api-keys")
fi
export LEDGER_STORE="$store" LEDGER_API_KEYS

for p in Ingestion Gateway Projector; do dotnet build "$root/services/RevenueLedger.$p" -c Release -v q -nologo >/dev/null; done
bin() { echo "$root/services/RevenueLedger.$1/bin/Release/net10.0/RevenueLedger.$1.dll"; }
ingestion_port=${INGESTION_PORT:-5182}; gateway_port=${GATEWAY_PORT:-5181}
"$root/deploy/local/down.sh" --services-only >/dev/null 2>&1 || true
start() { # name, command...
  local name=$1; shift
  nohup "$@" > "$state/$name.log" 2>&1 &
  echo $! > "$state/$name.pid"
}
start ingestion dotnet "$(bin Ingestion)" --urls "http://127.0.0.1:$ingestion_port"
start gateway dotnet "$(bin Gateway)" --urls "http://127.0.0.1:$gateway_port"
start projector-1 dotnet "$(bin Projector)" --store "$store"
start projector-2 dotnet "$(bin Projector)" --store "$store"
for port in "$ingestion_port" "$gateway_port"; do
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null || { echo "service on port $port did not become ready; see $state/*.log" >&2; exit 1; }
done

echo "RevenueLedger is up (logs and pids in $state):"
echo "  ingestion   http://127.0.0.1:$ingestion_port   (POST /v1/events, /v1/events/batch; GET /v1/log)"
echo "  gateway     http://127.0.0.1:$gateway_port   (GET /v1/nrr, /v1/nrr/windows, /v1/bridge, /v1/churn-reasons, …)"
echo "  projectors  2 processes (pids $(cat "$state/projector-1.pid") $(cat "$state/projector-2.pid"))"
echo "  postgresql  127.0.0.1:$pg_port database ledger, user ledger, password in $state/pg-password"
echo "  rabbitmq    amqp://127.0.0.1:5672 vhost ledger, user ledger, password in $state/amqp-password; UI http://127.0.0.1:15672"
echo "              queues: ledger-record-revenue-event (MassTransit), ledger-revenue-events-json (plain JSON)"
echo "API keys (Authorization: Bearer <key>):"
tr ',' '\n' <<< "$LEDGER_API_KEYS" | sed -E 's/^([a-z]+):(.*)$/  \1\t\2/'
