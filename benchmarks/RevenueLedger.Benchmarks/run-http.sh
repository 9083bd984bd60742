#!/usr/bin/env bash
# HTTP figures for docs/benchmarks.md (issue 4): a 1,000,000-event / 20,000-account book in PostgreSQL, the Gateway,
# Ingestion and Projector services as separate processes, and load from this separate process. Uses
# LEDGER_BENCH_POSTGRES (an Npgsql connection string) or the local cluster that tests/run.sh starts.
# Usage: benchmarks/RevenueLedger.Benchmarks/run-http.sh [WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
server=${LEDGER_BENCH_POSTGRES:-"Host=127.0.0.1;Port=5432;Username=postgres;Password=ledger-test;Database=postgres"}
cs="$server;Search Path=bench_http"
runuser -u postgres -- psql -q -c "DROP SCHEMA IF EXISTS bench_http CASCADE; DROP SCHEMA IF EXISTS bench_http_reporting CASCADE" 2>/dev/null || true

for p in services/RevenueLedger.Cli services/RevenueLedger.Projector services/RevenueLedger.Gateway services/RevenueLedger.Ingestion benchmarks/RevenueLedger.Benchmarks; do
  dotnet build "$root/$p" -c Release -v q -nologo >/dev/null
done
bin() { echo "$root/services/$1/bin/Release/net10.0/$1.dll"; }
ledger="dotnet $root/services/RevenueLedger.Cli/bin/Release/net10.0/ledger.dll"
[ -f "$work/book.jsonl" ] || $ledger generate --accounts 20000 --owners 12 --start 2019-01-01 --months 84 --seed 1 --intensity 10 | head -n 1000000 > "$work/book.jsonl"
$ledger import "$work/book.jsonl" --store "postgres:$cs"
$ledger project --store "postgres:$cs"
# As after any bulk load: vacuumed and analysed now, rather than by autovacuum in the middle of the measurements (it
# reads and rewrites every page of the freshly loaded tables, on the same two cores).
runuser -u postgres -- psql -q -c "VACUUM (ANALYZE) bench_http.events, bench_http.rm_account_history, bench_http.rm_nrr, bench_http.rm_bridge, bench_http.rm_churn_reasons" -c "CHECKPOINT"

reader="reader-$(openssl rand -hex 16)"; writer="writer-$(openssl rand -hex 16)"
export LEDGER_STORE="postgres:$cs" LEDGER_API_KEYS="reader:$reader,writer:$writer" LEDGER_RATE_LIMIT=1000000
pids=()
# The services stop and the book's schema goes at the end, so it does not weigh on the next benchmark's server.
trap 'kill "${pids[@]}" 2>/dev/null || true; sleep 1; runuser -u postgres -- psql -q -c "DROP SCHEMA IF EXISTS bench_http CASCADE; DROP SCHEMA IF EXISTS bench_http_reporting CASCADE" >/dev/null 2>&1 || true' EXIT
dotnet "$(bin RevenueLedger.Gateway)" --urls http://127.0.0.1:5181 > "$work/gateway.log" 2>&1 & pids+=($!)
dotnet "$(bin RevenueLedger.Ingestion)" --urls http://127.0.0.1:5182 > "$work/ingestion.log" 2>&1 & pids+=($!)
dotnet "$(bin RevenueLedger.Projector)" --store "postgres:$cs" > "$work/projector.log" 2>&1 & pids+=($!)
for port in 5181 5182; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
done
# wrk (C, from the Debian package) loads the fixed-path phases with far less CPU than the C# tool, which shares
# the two cores with everything else; both are reported.
command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk >/dev/null
wrk_summary() { awk '/ 50% / {p50=$2} / 99% / {p99=$2} /Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF} END {printf "%s req/s; p50 %s, p99 %s; non-2xx %s\n", rps, p50, p99, bad + 0}'; }
windows="http://127.0.0.1:5181/v1/nrr/windows?window=quarter&from=2019-01-01&to=2026-01-01&groupBy=owner"
curl -sf -H "Authorization: Bearer $reader" "$windows" >/dev/null
wrk -t2 -c32 -d5s -H "Authorization: Bearer $reader" "$windows" >/dev/null
echo "wrk GET /v1/nrr/windows quarter by owner, 32 connections, 20 s: $(wrk -t2 -c32 -d20s --latency -H "Authorization: Bearer $reader" "$windows" | wrk_summary)"

load() { dotnet "$root/benchmarks/RevenueLedger.Benchmarks/bin/Release/net10.0/RevenueLedger.Benchmarks.dll" http-load \
  http://127.0.0.1:5181 http://127.0.0.1:5182 "postgres:$cs" "$reader" "$writer" "$1"; }
load reads

# The write phases, after the reads (which measure the 20,000-account book). Every written event is a new account, so
# each phase leaves the book larger for the next: single events first (the smallest), then batches. Each starts with the
# projector caught up, its warm-up included, so none measures the previous phase's backlog; its CPU is counted up to the
# projector's catch-up.
settle() {
  for _ in $(seq 600); do
    behind=$(runuser -u postgres -- psql -tAq -c "SELECT (SELECT position FROM bench_http.ledger_head) - COALESCE((SELECT k.position FROM bench_http.rm_current r JOIN bench_http.rm_checkpoint k ON k.generation = r.generation), 0)" 2>/dev/null || echo 1)
    [ "$behind" = "0" ] && return 0
    sleep 0.5
  done
  echo "the projector did not catch up in 5 minutes" >&2; return 1
}
# CPU seconds (in clock ticks) of the gateway, ingestion and projector processes and of all PostgreSQL processes.
ticks() { for p in "${pids[@]}"; do awk '{print $14+$15}' "/proc/$p/stat"; done; ps -C postgres -o cputimes= | awk '{s+=$1} END {print s*100}'; }
head_position() { runuser -u postgres -- psql -tAq -c "SELECT position FROM bench_http.ledger_head"; }
# Runs one wrk write phase (20 s), then reports the CPU each process spent per stored event until the projector caught up.
write_phase() { # label connections events-per-request
  local t0 h0 t1 h1 n
  t0=($(ticks)); h0=$(head_position)
  echo "wrk $1, 20 s: $(wrk -t1 -c"$2" -d20s --latency -s "$scripts/events.lua" http://127.0.0.1:5182 -- "$writer" "$3" | wrk_summary)"
  settle
  t1=($(ticks)); h1=$(head_position); n=$((h1 - h0))
  echo "  $n events; CPU per event (us): ingestion $(( (t1[1]-t0[1]) * 10000 / n )), projector $(( (t1[2]-t0[2]) * 10000 / n )), gateway $(( (t1[0]-t0[0]) * 10000 / n )), PostgreSQL $(( (t1[3]-t0[3]) * 10000 / n ))"
}
scripts="$root/benchmarks/RevenueLedger.Benchmarks/wrk"
settle
wrk -t1 -c32 -d5s -s "$scripts/events.lua" http://127.0.0.1:5182 -- "$writer" 1 >/dev/null
settle
write_phase "POST /v1/events, 32 writers" 32 1
wrk -t1 -c4 -d10s -s "$scripts/events.lua" http://127.0.0.1:5182 -- "$writer" 1000 >/dev/null
settle
write_phase "POST /v1/events/batch of 1,000, 4 writers (events/s = 1,000 x req/s)" 4 1000
# More writers than the append keeps busy: batches that arrive while one group is appended form the next group.
write_phase "POST /v1/events/batch of 1,000, 8 writers (events/s = 1,000 x req/s)" 8 1000
# The same write paths loaded by the C# client (more CPU of its own than wrk's), on the book the phases above left.
load writes
settle
