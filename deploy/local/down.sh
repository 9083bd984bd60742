#!/usr/bin/env bash
# Stops what deploy/local/up.sh started (PostgreSQL only if up.sh started it). --services-only leaves PostgreSQL running.
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
echo "stopped"
