#!/usr/bin/env bash
# The concurrency stress tests of tests/DistilBert.Tests/ConcurrencyTests.cs run for longer than the suite's 2 s per
# case: 8 threads on one pipeline, session or worker pool, every answer compared bit for bit with the one-thread
# answer. Usage: tools/stress.sh [SECONDS_PER_CASE] [ROUNDS]   (default 30 s, 1 round)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
rounds=${2:-1}
dotnet build "$root/tests/DistilBert.Tests" -c Release -v q -nologo >&2
for round in $(seq 1 "$rounds"); do
  echo "round $round: $seconds s per case" >&2
  DISTILBERT_STRESS_SECONDS=$seconds dotnet test "$root/tests/DistilBert.Tests" -c Release --no-build \
    --filter "FullyQualifiedName~ConcurrencyTests" --logger "console;verbosity=normal" | grep -E "Passed|Failed|Total" 
done
