#!/usr/bin/env bash
# Reproduces docs/benchmarks.md: a 1,000,000-event book imported into a fresh SQLite store, the same rows bare-inserted
# as the baseline, and a 12-quarter JSON report. Usage: benchmarks/RevenueLedger.Benchmarks/run.sh [WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
command -v /usr/bin/time >/dev/null 2>&1 || apt-get install -y time >/dev/null
dotnet build "$root/services/RevenueLedger.Cli" -c Release -v q -nologo >/dev/null
dotnet build "$root/benchmarks/RevenueLedger.Benchmarks" -c Release -v q -nologo >/dev/null
ledger="dotnet $root/services/RevenueLedger.Cli/bin/Release/net10.0/ledger.dll"

$ledger generate --accounts 20000 --owners 12 --start 2019-01-01 --months 84 --seed 1 --intensity 10 | head -n 1000000 > "$work/book.jsonl"
events=$(wc -l < "$work/book.jsonl")
echo "book: $events events, 20000 accounts"

rm -f "$work"/ledger.db*
/usr/bin/time -f "%e %M" -o "$work/import.time" $ledger import "$work/book.jsonl" --store "sqlite:$work/ledger.db"
read -r import_s import_kb < "$work/import.time"
bare=$(dotnet "$root/benchmarks/RevenueLedger.Benchmarks/bin/Release/net10.0/RevenueLedger.Benchmarks.dll" sqlite-import "$work/ledger.db")
echo "$bare"
bare_s=$(echo "$bare" | sed -E 's/.*seconds=([0-9.]+).*/\1/')

/usr/bin/time -f "%e %M" -o "$work/report.time" $ledger report --store "sqlite:$work/ledger.db" --from 2022-01-01 --to 2025-01-01 --window quarter --format json > "$work/report.json"
read -r report_s report_kb < "$work/report.time"

awk -v n="$events" -v i="$import_s" -v ik="$import_kb" -v b="$bare_s" -v r="$report_s" -v rk="$report_kb" 'BEGIN {
  printf "ledger import: %.2f s, %.0f events/s, peak RSS %.0f MiB\n", i, n / i, ik / 1024
  printf "bare insert:   %.2f s, %.0f events/s\n", b, n / b
  printf "ratio (import throughput / bare insert throughput): %.2f\n", b / i
  printf "ledger report --window quarter (12 quarters, json): %.2f s, peak RSS %.0f MiB\n", r, rk / 1024
}'
