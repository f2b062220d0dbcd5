#!/bin/bash
# Runs a bench/ Python unit test with the system's python3 (stdlib only).
set -euo pipefail
script="$1"
shift
exec /usr/bin/python3 "$script" "$@"
