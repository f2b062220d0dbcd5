#!/bin/bash
# Runs the Prometheus v3.5.0 PromQL conformance suite and vigil's own
# scripts through the promqltest runner. Fails on a case that is not in
# testdata/promql/known_failures.txt, or on a listed case that now passes.
# The suite lives outside the repository, at ../shared/conformance/promql
# relative to its root; VIGIL_CONFORMANCE_DIR overrides that.
set -euo pipefail
runner="$1"
known="$2"
shift 2
if [ -n "${VIGIL_CONFORMANCE_DIR:-}" ]; then
  dir="$VIGIL_CONFORMANCE_DIR"
else
  # The runfile is a symlink into the source tree; the suite is next to it.
  src_known="$(readlink -f "$known")"
  dir="$(dirname "$src_known")/../../../shared/conformance/promql"
  [ -d "$dir" ] || dir=/work/shared/conformance/promql
fi
if [ ! -d "$dir" ]; then
  echo "PromQL conformance suite not found (set VIGIL_CONFORMANCE_DIR)" >&2
  exit 1
fi
"$runner" "$@"   # vigil's own scripts: every case must pass
"$runner" --known-failures="$known" "$dir"
