#!/usr/bin/env bash
# PostgreSQL figures for docs/benchmarks.md: the same 1,000,000-event book appended through the ledger into
# PostgreSQL vs COPY of the same rows into a bare table of the same shape; the projector's catch-up from 0 vs a plain
# sequential read of the same events. Uses LEDGER_BENCH_POSTGRES (an Npgsql connection string) or the local cluster
# that tests/run.sh starts. Usage: benchmarks/RevenueLedger.Benchmarks/run-postgres.sh [WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
command -v /usr/bin/time >/dev/null 2>&1 || apt-get install -y time >/dev/null
server=${LEDGER_BENCH_POSTGRES:-"Host=127.0.0.1;Port=5432;Username=postgres;Password=ledger-test;Database=postgres"}
cs="$server;Search Path=bench"
runuser -u postgres -- psql -q -c "DROP SCHEMA IF EXISTS bench CASCADE; DROP SCHEMA IF EXISTS bench_reporting CASCADE" 2>/dev/null || true
# Each phase starts from a clean checkpoint, so none pays for flushing the previous phase's writes.
checkpoint() { runuser -u postgres -- psql -q -c "CHECKPOINT" 2>/dev/null || true; }

# Published as deployed (deploy/docker/Dockerfile): for this machine's runtime, compiled ahead of time, so start-up
# is not spent jitting. The baselines are published the same way.
for p in services/RevenueLedger.Cli services/RevenueLedger.Projector benchmarks/RevenueLedger.Benchmarks; do
  dotnet publish "$root/$p" -c Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true -v q -nologo -o "$work/bin/$(basename "$p")"
done
ledger="dotnet $work/bin/RevenueLedger.Cli/ledger.dll"
bench="dotnet $work/bin/RevenueLedger.Benchmarks/RevenueLedger.Benchmarks.dll"
[ -f "$work/book.jsonl" ] || $ledger generate --accounts 20000 --owners 12 --start 2019-01-01 --months 84 --seed 1 --intensity 10 | head -n 1000000 > "$work/book.jsonl"
events=$(wc -l < "$work/book.jsonl")

checkpoint
/usr/bin/time -f "%e %M" -o "$work/pg-import.time" $ledger import "$work/book.jsonl" --store "postgres:$cs"
read -r import_s import_kb < "$work/pg-import.time"
checkpoint
copy=$($bench postgres-copy "$cs")
echo "$copy"
copy_s=$(echo "$copy" | sed -E 's/.*seconds=([0-9.]+).*/\1/')

# Autovacuum would otherwise visit the freshly loaded log at a random moment of the next phases: it is vacuumed and
# analysed first, as a deployment's would be by then. (The COPY baseline has dropped its table.)
runuser -u postgres -- psql -q -c "VACUUM (ANALYZE) bench.events" || echo "warning: the log was not vacuumed" >&2
checkpoint
/usr/bin/time -f "%e %M" -o "$work/pg-project.time" dotnet "$work/bin/RevenueLedger.Projector/RevenueLedger.Projector.dll" --store "postgres:$cs" --once >/dev/null
read -r project_s project_kb < "$work/pg-project.time"
checkpoint
read=$($bench postgres-read "$cs")
echo "$read"
read_s=$(echo "$read" | sed -E 's/.*seconds=([0-9.]+).*/\1/')

awk -v n="$events" -v i="$import_s" -v ik="$import_kb" -v c="$copy_s" -v p="$project_s" -v pk="$project_kb" -v r="$read_s" 'BEGIN {
  printf "postgres append (ledger import): %.2f s, %.0f events/s, peak RSS %.0f MiB\n", i, n / i, ik / 1024
  printf "bare COPY:                       %.2f s, %.0f events/s; ratio %.2f\n", c, n / c, c / i
  printf "projector catch-up from 0:       %.2f s, %.0f events/s, peak RSS %.0f MiB\n", p, n / p, pk / 1024
  printf "plain sequential read:           %.2f s, %.0f events/s; ratio %.2f\n", r, n / r, r / p
}'
