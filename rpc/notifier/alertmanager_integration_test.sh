#!/bin/bash
# Sends firing then resolved alerts through vigil's notifier (libcurl) to
# Debian's real Alertmanager on loopback and checks what it reports.
set -euo pipefail

TOOL="$1"
AM="${ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}"
if [[ ! -x "$AM" ]]; then
  echo "SKIP: $AM not installed (apt-get install prometheus-alertmanager)"
  exit 0
fi

TMP="$(mktemp -d "${TEST_TMPDIR:-/tmp}/vigil-am.XXXXXX")"
AM_PID=""
cleanup() {
  if [[ -n "$AM_PID" ]]; then
    kill "$AM_PID" 2>/dev/null || true
    wait "$AM_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/am.yml" <<'YAML'
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
YAML

PORT="$("$TOOL" free-port)"
URL="http://127.0.0.1:${PORT}"
"$AM" --config.file="$TMP/am.yml" --storage.path="$TMP/data" \
  --web.listen-address="127.0.0.1:${PORT}" --cluster.listen-address= \
  --log.level=warn >"$TMP/am.log" 2>&1 &
AM_PID=$!

ready=0
for _ in $(seq 1 150); do
  if curl -sf "$URL/-/ready" >/dev/null 2>&1; then
    ready=1
    break
  fi
  if ! kill -0 "$AM_PID" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [[ "$ready" != 1 ]]; then
  echo "FAIL: alertmanager did not become ready"; cat "$TMP/am.log"; exit 1
fi

# Whole milliseconds, as vigil's timestamps are.
STARTS_MS="$(( $(date +%s) * 1000 - 60000 + 123 ))"

"$TOOL" send "$URL" firing "$STARTS_MS"
"$TOOL" check "$URL" firing "$STARTS_MS"
"$TOOL" send "$URL" resolved "$STARTS_MS"
"$TOOL" check "$URL" resolved "$STARTS_MS"
echo "PASS"
