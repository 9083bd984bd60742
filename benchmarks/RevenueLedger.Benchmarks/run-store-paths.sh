#!/usr/bin/env bash
# Issue 16's table for docs/benchmarks.md: on the same 1,000,000-event book and the same PostgreSQL, in one run —
# bare binary COPY of the stored rows, the ledger's PostgreSQL append, Marten's Quick and Rich appends, the ledger's
# projector catch-up from 0 and Marten's async-daemon rebuild. Uses LEDGER_BENCH_POSTGRES (an Npgsql connection
# string of a superuser: it runs CHECKPOINT and VACUUM) or the local cluster that tests/run.sh starts.
# Usage: benchmarks/RevenueLedger.Benchmarks/run-store-paths.sh [WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
server=${LEDGER_BENCH_POSTGRES:-"Host=127.0.0.1;Port=5432;Username=postgres;Password=ledger-test;Database=postgres"}
for p in services/RevenueLedger.Cli benchmarks/RevenueLedger.Benchmarks; do
  dotnet publish "$root/$p" -c Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true -v q -nologo -o "$work/bin/$(basename "$p")"
done
ledger="dotnet $work/bin/RevenueLedger.Cli/ledger.dll"
[ -f "$work/book.jsonl" ] || $ledger generate --accounts 20000 --owners 12 --start 2019-01-01 --months 84 --seed 1 --intensity 10 | head -n 1000000 > "$work/book.jsonl"
# The source of the rows: the book as `ledger import` stores it (the ledger's full write path, timed for reference).
psql_server() { runuser -u postgres -- psql -q "$@"; }
psql_server -c "DROP SCHEMA IF EXISTS bench_source CASCADE; DROP SCHEMA IF EXISTS bench_source_reporting CASCADE"
start=$(date +%s.%N)
$ledger import "$work/book.jsonl" --store "postgres:$server;Search Path=bench_source"
echo "ledger import (parse, decide, append): $(echo "$(date +%s.%N) - $start" | bc) s"
dotnet "$work/bin/RevenueLedger.Benchmarks/RevenueLedger.Benchmarks.dll" store-paths "$server" bench_source
