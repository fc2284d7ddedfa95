#!/usr/bin/env bash
# Every test of moat: unit tests (cmocka), the same under ASan+UBSan, a short
# fuzz of every parser, then the black-box suites (integration, escapes, real
# clients) against the built binary.  Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
sh scripts/install-deps.sh --test

step () { printf '\n=== %s\n' "$*"; }

step "build (default, hardened)"
[ -d build ] || meson setup build >/dev/null
ninja -C build
sh scripts/check-hardening.sh build/moat

step "unit tests"
meson test -C build --suite unit --print-errorlogs

step "unit tests under ASan+UBSan"
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs

step "fuzz every parser (${FUZZ_SECONDS}s each)"
[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-fuzz tests/fuzz/fuzz_spec tests/fuzz/fuzz_process tests/fuzz/fuzz_resources tests/fuzz/fuzz_manifest tests/fuzz/fuzz_unpack tests/fuzz/fuzz_policy tests/fuzz/fuzz_inspect tests/fuzz/fuzz_http tests/fuzz/fuzz_engine tests/fuzz/fuzz_json
for h in fuzz_spec fuzz_process fuzz_resources fuzz_manifest fuzz_unpack fuzz_policy fuzz_inspect fuzz_http fuzz_engine fuzz_json; do
  work=$(mktemp -d)
  build-fuzz/tests/fuzz/$h -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 "$work" "tests/fuzz/corpus/$h" 2>&1 | tail -3
  rm -rf "$work"
done

export MOAT_BIN=$ROOT/build/moat MOAT_PROBE=$ROOT/build/tests/probe/moat-probe
step "integration and escape tests (MOAT_BIN=$MOAT_BIN)"
/usr/bin/python3 -m pytest -c tests/pytest.ini tests/integration tests/escapes

step "integration and escape tests against the ASan+UBSan binary"
# Leak detection stays on for the unit tests above; here it is off because
# LeakSanitizer's tracer cannot attach to a process that joined a container's
# pid namespace (moat exec), and hangs.
MOAT_BIN=$ROOT/build-asan/moat ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
  /usr/bin/python3 -m pytest -c tests/pytest.ini -q tests/integration tests/escapes

step "real clients: podman, containerd, dockerd"
/usr/bin/python3 -m pytest -p no:cacheprovider tests/clients
