#!/usr/bin/env bash
# Stops what deploy/local/up.sh started (PostgreSQL and RabbitMQ only if up.sh started them). --services-only leaves
# the servers running.
set -uo pipefail
state="$(cd "$(dirname "$0")" && pwd)/.state"
for f in "$state"/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$f"
done
if [ "${1:-}" != "--services-only" ] && [ -f "$state/pg-started" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  [ -n "$ver" ] && $sudo pg_ctlcluster "$ver" main stop 2>/dev/null || true
  rm -f "$state/pg-started"
fi
if [ "${1:-}" != "--services-only" ] && [ -f "$state/rabbitmq-started" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo rabbitmqctl -q stop 2>/dev/null || true
  rm -f "$state/rabbitmq-started"
fi
echo "stopped"
