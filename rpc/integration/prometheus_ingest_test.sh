#!/bin/bash
# Bazel entry point: runs prometheus_ingest_test.py (python3, stdlib only)
# with the vigil binary Bazel built. See that script for what is checked.
set -euo pipefail
dir="$(dirname "$0")"
script="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-vigil}/rpc/integration/prometheus_ingest_test.py"
if [ ! -f "$script" ]; then
  script="$dir/prometheus_ingest_test.py"
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec timeout 150 "$py" "$script" "$@"
