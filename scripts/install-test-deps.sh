#!/usr/bin/env bash
# Installs what Trove's real-backend tests need on a fresh Debian machine, then builds the
# test-server image and binaries (`cargo xtask test-images`, idempotent: seconds when cached).
#
#   * debootstrap, to build the image's root filesystem (Docker has no registry here);
#   * the PostgreSQL 15 server and client (the `local` provider; psql for debugging);
#   * python3 with venv and pip (the Python package's tests: `cargo xtask python` makes a venv
#     under target/ and installs maturin, pytest, pandas and pyarrow into it from PyPI);
#   * garage 2.5.0 and fake-gcs-server, cached under $TROVE_TEST_CACHE
#     (default ~/.cache/trove-test-images) by the xtask;
#   * moto's S3 server (PyPI `moto[server]`): an S3 server that honours conditional writes,
#     which garage ignores (the tests of an instance in a bucket with many writers).
#
# Usage: scripts/install-test-deps.sh [--force]   (--force re-creates the image)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
if ! command -v python3 >/dev/null 2>&1; then
  need+=(python3 python3-venv python3-pip)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(python3-venv python3-pip)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: missing ${need[*]}: install them as root (apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "install-test-deps: pip install moto[server]"
  python3 -m pip install -q 'moto[server]==5.2.5'
fi

exec cargo xtask test-images "$@"
