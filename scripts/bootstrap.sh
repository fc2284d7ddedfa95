#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install what moat needs,
# build it, make the default busybox bundle, and run a hardened container that
# prints what isolates it.
set -euo pipefail
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
BUNDLE=${MOAT_BUNDLE:-/var/lib/moat/bundles/busybox}
/usr/bin/python3 scripts/mkbundle.py "$BUNDLE" -- /bin/sh -c '
echo "uid map (container host size): $(cat /proc/self/uid_map | tr -s " ")"
grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status
if touch /moat-write-test 2>/dev/null; then echo "root filesystem: WRITABLE"; else echo "root filesystem: read-only"; fi
if [ -f /sys/fs/cgroup/memory.max ]; then
  echo "memory limit: $(cat /sys/fs/cgroup/memory.max)"; echo "pids limit: $(cat /sys/fs/cgroup/pids.max)"
else
  echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"; echo "pids limit: $(cat /sys/fs/cgroup/pids/pids.max)"
fi
echo "network interfaces: $(ls /sys/class/net | tr "\n" " ")"
echo "hostname: $(hostname)"'
echo "moat: running a hardened busybox container from $BUNDLE"
exec build/moat run --bundle "$BUNDLE" "moat-demo-$$"
