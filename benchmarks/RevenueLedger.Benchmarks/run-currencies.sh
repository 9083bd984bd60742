#!/usr/bin/env bash
# Issue 17's figures for docs/benchmarks.md: the same 1,000,000-event book in USD only and in USD, EUR and GBP (the
# same accounts and movements, each account in one currency, plus monthly rates for every pair), on the embedded
# store: `ledger import` throughput (two runs each, alternating), then `ledger serve` over the projected read models and
# sequential report requests through the gateway, every one computed (not served from the answer cache).
# Usage: benchmarks/RevenueLedger.Benchmarks/run-currencies.sh [WORKDIR]
set -euo pipefail
source "$(dirname "$0")/tools.sh"
book="--accounts 20000 --owners 12 --start 2019-01-01 --months 84 --seed 1 --intensity 10"
[ -f "$work/usd.jsonl" ] || $ledger generate $book | head -n 1000000 > "$work/usd.jsonl"
[ -f "$work/multi.jsonl" ] || $ledger generate $book --currencies USD,EUR,GBP | head -n 1000000 > "$work/multi.jsonl"
echo "rates in the three-currency book: $(grep -c FxRateRecorded "$work/multi.jsonl")"

import() { # name run
  rm -f "$work/$1.db" "$work/$1.db-wal" "$work/$1.db-shm"
  local start end; start=$(date +%s.%N)
  $ledger import "$work/$1.jsonl" --store "sqlite:$work/$1.db" | tail -n 1
  end=$(date +%s.%N)
  echo "import $1 run $2: $(echo "$end - $start" | bc) s"
}
if [ -z "${LEDGER_BENCH_QUERIES_ONLY:-}" ]; then # set it to measure the queries again on the stores already imported
  for run in 1 2; do import usd $run; import multi $run; done
  for b in usd multi; do $ledger project --store "sqlite:$work/$b.db"; done
fi

key="reader-$(openssl rand -hex 16)"
serve() { # name port
  LEDGER_API_KEYS="reader:$key" LEDGER_RATE_LIMIT=1000000 $ledger serve --store "sqlite:$work/$1.db" --urls "http://127.0.0.1:$2" > "$work/serve-$1.log" 2>&1 &
  echo $! > "$work/serve-$1.pid"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/health/ready" >/dev/null && return; sleep 0.2; done
  echo "ledger serve did not start; see $work/serve-$1.log" >&2; exit 1
}
trap 'for f in "$work"/serve-*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done' EXIT
windows="/v1/nrr/windows?window=quarter&from=2019-01-01&to=2026-01-01&groupBy=owner"
twelve="/v1/bridge/windows?window=quarter&from=2023-01-01&to=2026-01-01&groupBy=owner"
serve usd 5191
serve multi 5192
# Three rounds, the books alternating, so a slow moment of the shared machine does not land on one book only.
for round in 1 2 3; do
  echo "round $round"
  # The round in the URL keeps every request of every round a distinct, computed answer.
  $bench currency-queries http://127.0.0.1:5191 "$key" "$windows&round=$round" 1000
  $bench currency-queries http://127.0.0.1:5192 "$key" "$windows&round=$round" 1000
  $bench currency-queries http://127.0.0.1:5192 "$key" "$windows&currency=EUR&round=$round" 1000
  $bench currency-queries http://127.0.0.1:5191 "$key" "$twelve&round=$round" 1000
  $bench currency-queries http://127.0.0.1:5192 "$key" "$twelve&currency=EUR&round=$round" 1000
done
