#!/bin/bash
# Installs what is missing, builds everything (-c opt) and runs every test:
# unit tests, benchmark smoke runs, integration tests against the real
# Prometheus / Alertmanager / VictoriaMetrics, and the PromQL conformance
# suite with its pass counts. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
tools/install_deps.sh || exit 1

CONFORMANCE_DIR="${VIGIL_CONFORMANCE_DIR:-$ROOT/../shared/conformance/promql}"
status=0

echo "=== bazel test -c opt //..."
bazel test -c opt --test_env=VIGIL_CONFORMANCE_DIR="$CONFORMANCE_DIR" //... 2>&1 | tee /tmp/vigil-bazel-test.log
bazel_rc=${PIPESTATUS[0]}
if [ "$bazel_rc" -ne 0 ]; then
  status=1
fi

if [ ! -x .bazel/bin/rpc/server/vigil ]; then
  echo "vigil binary missing: cannot run the PromQL conformance suite" >&2
  status=1
elif [ -d "$CONFORMANCE_DIR" ]; then
  echo "=== PromQL conformance: vigil test promql $CONFORMANCE_DIR"
  if ! .bazel/bin/rpc/server/vigil test promql \
      --known-failures=testdata/promql/known_failures.txt \
      --json=/tmp/vigil-conformance.json "$CONFORMANCE_DIR"; then
    status=1
  fi
else
  echo "PromQL conformance suite not found at $CONFORMANCE_DIR" >&2
  status=1
fi

# One closing line in the plain "N passed, N failed" form.
passed=$(grep -cE '^//.* +PASSED in' /tmp/vigil-bazel-test.log)
failed=$(grep -cE '^//.* +(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' /tmp/vigil-bazel-test.log)
if [ "$bazel_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # the build itself failed
fi
echo "tests: ${passed} passed, ${failed} failed"
exit $status
