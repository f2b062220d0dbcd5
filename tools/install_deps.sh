#!/bin/bash
# Installs the Debian packages vigil needs to build, test and benchmark, when
# they are missing. Idempotent: silent and fast when everything is there.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java g++
  libabsl-dev libre2-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc libsnappy-dev
  libbenchmark-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev nlohmann-json3-dev libcurl4-openssl-dev libboost1.81-dev
  prometheus-cpp-dev
  # Real peers for integration tests and the capacity harness.
  prometheus prometheus-alertmanager victoria-metrics prometheus-node-exporter
  curl python3 python3-matplotlib
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install_deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
