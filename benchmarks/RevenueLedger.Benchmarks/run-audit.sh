#!/usr/bin/env bash
# Issue 20's figures for docs/benchmarks.md, on the 1,000,000-event three-currency book of run-currencies.sh
# (WORKDIR/multi.db; generated and imported here when missing):
# - `ledger verify` of the store against `sha256sum` over its export file (a baseline that only reads and hashes the
#   same bytes), and the independent Python verifier over the export, each twice, alternating; both verifiers must
#   agree on the head;
# - `ledger reconcile` of a billing file of every account with MRR at each of the last 84 month ends, with planted
#   differences that it must find exactly.
# Usage: benchmarks/RevenueLedger.Benchmarks/run-audit.sh [WORKDIR]
set -euo pipefail
source "$(dirname "$0")/tools.sh"
if [ ! -f "$work/multi.db" ]; then
  $ledger generate --accounts 20000 --owners 12 --start 2019-01-01 --months 84 --seed 1 --intensity 10 --currencies USD,EUR,GBP | head -n 1000000 > "$work/multi.jsonl"
  $ledger import "$work/multi.jsonl" --store "sqlite:$work/multi.db" | tail -n 1
fi
store="sqlite:$work/multi.db"
$ledger export --to "$work/export.jsonl" --store "$store"
ls -l "$work/export.jsonl"
t() { local s e; s=$(date +%s.%N); "$@" > "$work/last.out"; e=$(date +%s.%N); echo "$e - $s" | bc; }
for run in 1 2; do
  sha=$(t sha256sum "$work/export.jsonl")
  ver=$(t $ledger verify --store "$store"); ledger_head=$(cat "$work/last.out")
  py=$(t python3 "$root/docs/audit/verify_export.py" "$work/export.jsonl"); py_head=$(cat "$work/last.out")
  echo "run $run: sha256sum ${sha} s, ledger verify ${ver} s, python verifier ${py} s; throughput ratio verify/sha256sum $(echo "scale=2; $sha / $ver" | bc)"
  echo "  ledger: $ledger_head"
  echo "  python: $py_head"
done
$bench billing-file "$work/multi.db" "$work/billing.csv" 84 30
for run in 1 2; do
  start=$(date +%s.%N)
  $ledger reconcile "$work/billing.csv" --store "$store" --out "$work/differences.csv" > "$work/reconcile.out" || true
  end=$(date +%s.%N)
  cat "$work/reconcile.out"
  found=$(tail -n +2 "$work/differences.csv" | cut -d, -f1-3 | sort)
  if [ "$found" = "$(sort "$work/billing.planted.csv")" ]; then verdict="exactly the planted"; else verdict="NOT the planted"; fi
  echo "reconcile run $run: $(echo "$end - $start" | bc) s; found $(tail -n +2 "$work/differences.csv" | wc -l) differences: $verdict"
done
