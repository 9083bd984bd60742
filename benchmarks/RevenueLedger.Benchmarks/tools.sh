# Sourced by the run-*.sh benchmark scripts: the work directory (the first argument, else a new temp dir) and the
# `ledger` CLI and benchmark tool published there ReadyToRun, as $ledger and $bench.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
for p in services/RevenueLedger.Cli benchmarks/RevenueLedger.Benchmarks; do
  dotnet publish "$root/$p" -c Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true -v q -nologo -o "$work/bin/$(basename "$p")"
done
ledger="dotnet $work/bin/RevenueLedger.Cli/ledger.dll"
bench="dotnet $work/bin/RevenueLedger.Benchmarks/RevenueLedger.Benchmarks.dll"
