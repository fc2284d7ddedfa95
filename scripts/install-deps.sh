#!/bin/sh
# Install the Debian packages moat needs to build and run (and, with --test,
# everything its test suites drive: clang for the fuzzers, the engines and
# runtimes for the client tests and benchmarks).  Idempotent; only Debian's
# archive is used.
set -eu
BUILD="gcc libc6-dev meson ninja-build pkg-config libjansson-dev libseccomp-dev libcap-dev libyaml-dev
       libarchive-dev libssl-dev libcurl4-openssl-dev
       busybox-static python3"
TEST="libcmocka-dev python3-pytest clang libclang-rt-14-dev docker-registry skopeo strace zstd"

want="$BUILD"
if [ "${1:-}" = "--test" ]; then
  want="$BUILD $TEST"
fi
missing=""
for p in $want; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing (run as root)" >&2
    exit 1
  fi
  echo "install-deps: installing:$missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; }
fi
if [ "${1:-}" = "--test" ]; then
  sh "$(dirname "$0")/../tests/clients/setup-deps.sh"
fi
