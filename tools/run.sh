#!/bin/bash
# Installs what is missing, builds vigil (-c opt) and runs it on its embedded
# default configuration (testdata/vigil.yml). Extra arguments go to vigil.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
exec bazel run -c opt //:vigil -- "$@"
