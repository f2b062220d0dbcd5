#!/bin/bash
# Runs a benchmark binary for a token amount of time so that it keeps building
# and running; the numbers printed here are not figures to report.
set -euo pipefail
exec "$1" --benchmark_min_time=0.001 --benchmark_repetitions=1
