#!/bin/sh
# Install the container engines and runtimes that tests/clients and bench/ drive.
#
# Usage: sh tests/clients/setup-deps.sh
#
# Idempotent: packages already present are not reinstalled, and nothing is
# fetched from anywhere but the configured Debian archive.  Services are not
# started (the test fixtures start private daemons on private sockets); on a
# host without a policy-rc.d that forbids it, we install one for the duration
# of the install so the packages' postinst scripts cannot start system-wide
# containerd/dockerd.
set -eu

# bench/bench.py also needs GNU time, libseccomp2 and containers-common's
# seccomp.json; `script` (bsdutils) gives the tty tests a pty.
PKGS="podman conmon containerd docker.io runc crun busybox-static python3-pytest
      util-linux bsdutils time libseccomp2 golang-github-containers-common"

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "setup-deps: all present:$(printf ' %s' $PKGS)"
  exit 0
fi

echo "setup-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-deps: must run as root to install packages" >&2
  exit 1
fi

# Keep postinst from starting daemons: the tests want no host-wide engine.
prc=/usr/sbin/policy-rc.d
made_prc=0
if [ ! -e "$prc" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$prc"
  chmod 755 "$prc"
  made_prc=1
fi
trap 'if [ "$made_prc" = 1 ]; then rm -f "$prc"; fi' EXIT

if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; then
  # A stale package index is the usual cause; refresh once and retry.
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
echo "setup-deps: done"
