#!/usr/bin/env bash
# Issue 19's figures for docs/benchmarks.md: a generated book whose signals drive churn, 20,000 accounts × 84 months
# (`ledger generate --signals driven`), imported into SQLite; then, twice, a plain fold of the log beside training the
# health score on it and scoring every active account; then the deep-dive endpoint's latency over HTTP against
# `ledger serve` (distinct seeds, so no answer comes from the cache).
# Usage: benchmarks/RevenueLedger.Benchmarks/run-insights.sh [WORKDIR]
set -euo pipefail
source "$(dirname "$0")/tools.sh"
if [ ! -f "$work/signals.db" ]; then
  $ledger generate --signals driven --accounts 20000 --owners 10 --start 2019-01-01 --months 84 --seed 1 > "$work/signals.jsonl"
  wc -l "$work/signals.jsonl"
  $ledger import "$work/signals.jsonl" --store "sqlite:$work/signals.db" | tail -n 2
fi
$ledger project --store "sqlite:$work/signals.db" | tail -n 1
$bench insights "$work/signals.db"
port=5187
LEDGER_API_KEYS="reader:bench-reader-key-0123456789" LEDGER_RATE_LIMIT=1000000 $ledger serve --store "sqlite:$work/signals.db" --urls "http://127.0.0.1:$port" > "$work/serve-insights.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready" && break; sleep 1; done
url="http://127.0.0.1:$port/v1/owners/owner-03/deep-dive?from=2023-01-01&to=2024-01-01"
curl -fsS -o /dev/null -H "Authorization: Bearer bench-reader-key-0123456789" "$url&seed=0"   # the first replays the log into memory
for i in $(seq 1 200); do
  curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer bench-reader-key-0123456789" "$url&seed=$i"
done | sort -n | awk '{ t[NR] = $1 } END { printf "deep-dive endpoint, %d requests: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", NR, t[int(NR*0.5)]*1000, t[int(NR*0.99)]*1000, t[NR]*1000 }'
