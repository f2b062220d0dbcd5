#!/bin/bash
# Runs an end-to-end test script with the system's python3 (stdlib only).
set -euo pipefail
script="$1"
shift
exec /usr/bin/python3 "$script" "$@"
