#!/usr/bin/python3
"""Issue 6's two measured targets, side by side with podman's conmon.

1. Memory of the per-container monitor: K detached `sleep` containers under
   `moat run -d` (moat-monitor: the monitor and its spawner) and K under
   `podman run -d` (conmon) with moat itself as podman's OCI runtime, so the
   container is the same.  Per container: VmRSS, PSS (shared pages divided
   among the processes mapping them) and USS (private pages only), summed
   over the monitor's processes, from /proc/PID/smaps_rollup.
2. `moat ps` with N containers: the median wall time of `moat ps -a` and
   `moat ps -a --format json` over R runs (and `podman ps -a` for scale).

Usage: bench/engine_bench.py [--moat build/moat] [--rootfs DIR] [-k 20] [-n 500] [-r 30]
Run as root on a quiet machine; prints Markdown tables.
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(*argv, check=True, env=None, timeout=600):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        sys.exit(f"{' '.join(map(shlex.quote, argv))} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["VmRSS"] = int(line.split()[1])
    out["USS"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    return out


def procs_named(exe_suffix, needle=None):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(exe_suffix.encode()) and (needle is None or needle.encode() in b" ".join(argv)):
            found.append(int(p))
    return found


def per_container(pids, k):
    tot = {"VmRSS": 0, "Pss": 0, "USS": 0}
    for p in pids:
        r = rollup(p)
        for key in tot:
            tot[key] += r.get(key, 0)
    return {key: v / k for key, v in tot.items()}, len(pids)


def make_rootfs(d):
    bb = shutil.which("busybox") or "/bin/busybox"
    for sub in ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "run"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    shutil.copy2(bb, os.path.join(d, "bin/busybox"))
    for a in ("sh", "sleep", "true"):
        os.symlink("busybox", os.path.join(d, "bin", a))
    with open(os.path.join(d, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(d, "etc/group"), "w") as f:
        f.write("root:x:0:\n")


CONF = """[containers]
default_ulimits = [ "nofile=1024:1024", "nproc=4096:4096" ]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def podman_setup(w, moat, rootfs):
    os.makedirs(os.path.join(w, "wrap"))
    wrapper = os.path.join(w, "wrap", "runc")  # named runc: podman then passes --log-format=json
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec {shlex.quote(moat)} --root {shlex.quote(w + '/rt')} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    with open(os.path.join(w, "containers.conf"), "w") as f:
        f.write(CONF)
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(w, "containers.conf"))
    base = ["podman", "--root", w + "/root", "--runroot", w + "/run", "--tmpdir", w + "/tmp",
            "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            "--runtime", wrapper]
    tar = os.path.join(w, "rootfs.tar")
    sh("tar", "-C", rootfs, "--numeric-owner", "-cf", tar, ".")
    sh(*base, "import", "--change", "CMD=/bin/sh", tar, "localhost/bench-bb:latest", env=env)
    return base, env


def median_ms(argv, runs, env=None):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sh(*argv, env=env)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moat", default=os.path.join(HERE, "..", "build", "moat"))
    ap.add_argument("-k", type=int, default=20, help="containers for the memory comparison")
    ap.add_argument("-n", type=int, default=500, help="containers for the ps timing")
    ap.add_argument("-r", type=int, default=30, help="runs per ps timing")
    ap.add_argument("--no-podman", action="store_true")
    a = ap.parse_args()
    moat = os.path.abspath(a.moat)
    w = tempfile.mkdtemp(prefix="moat-engine-bench.")
    os.chmod(w, 0o755)
    root = os.path.join(w, "moat-root")
    rootfs = os.path.join(w, "rootfs")
    make_rootfs(rootfs)
    names = []
    pbase = penv = None
    try:
        # 1. memory
        for i in range(a.k):
            n = f"mem-{i:03d}"
            sh(moat, "--root", root, "run", "-d", "--name", n, rootfs, "sleep", "3600")
            names.append(n)
        time.sleep(1)
        moat_mem, nproc = per_container(procs_named("moat-monitor", root), a.k)
        rows = [("moat-monitor (monitor + spawner)", nproc // a.k, moat_mem)]
        if not a.no_podman:
            pbase, penv = podman_setup(os.path.join(w, "podman"), moat, rootfs)
            for i in range(a.k):
                sh(*pbase, "run", "-d", "--name", f"pm-{i:03d}", "localhost/bench-bb:latest", "sleep", "3600",
                   env=penv)
            time.sleep(1)
            conmon, nc = per_container(procs_named("conmon", w), a.k)
            rows.append(("conmon (podman 4.3, same runtime)", nc // a.k, conmon))
        print(f"\n### Monitor memory per container (K={a.k} containers, KiB)\n")
        print("| monitor | processes per container | VmRSS | PSS | USS (private) |")
        print("|---|---:|---:|---:|---:|")
        for name, per, m in rows:
            print(f"| {name} | {per} | {m['VmRSS']:.0f} | {m['Pss']:.0f} | {m['USS']:.0f} |")
        if len(rows) == 2:
            print(f"\nmoat/conmon ratio: VmRSS {rows[0][2]['VmRSS'] / rows[1][2]['VmRSS']:.2f}, "
                  f"PSS {rows[0][2]['Pss'] / rows[1][2]['Pss']:.2f}, USS {rows[0][2]['USS'] / rows[1][2]['USS']:.2f}")
        # 2. ps with N
        for i in range(a.k, a.n):
            n = f"ps-{i:03d}"
            sh(moat, "--root", root, "run", "-d", "--name", n, rootfs, "sleep", "3600")
            names.append(n)
        lines = len(sh(moat, "--root", root, "ps", "-a", "-q").stdout.split())
        t_table = median_ms([moat, "--root", root, "ps", "-a"], a.r)
        t_json = median_ms([moat, "--root", root, "ps", "-a", "--format", "json"], a.r)
        print(f"\n### `moat ps` with {lines} containers (median of {a.r} runs, ms)\n")
        print("| command | ms |")
        print("|---|---:|")
        print(f"| moat ps -a | {t_table:.1f} |")
        print(f"| moat ps -a --format json | {t_json:.1f} |")
        if pbase:
            t_pod = median_ms([*pbase, "ps", "-a"], min(a.r, 10), env=penv)
            print(f"| podman ps -a ({a.k} containers) | {t_pod:.1f} |")
        print(f"\nload average at the end: {os.getloadavg()}")
    finally:
        for i in range(0, len(names), 50):
            sh(moat, "--root", root, "rm", "-f", *names[i:i + 50], check=False, timeout=600)
        if pbase:
            ids = sh(*pbase, "ps", "-aq", env=penv, check=False).stdout.split()
            if ids:
                sh(*pbase, "rm", "-f", "-t", "0", *ids, env=penv, check=False)
            for line in open("/proc/self/mountinfo").read().splitlines():
                mp = line.split()[4]
                if mp.startswith(w):
                    subprocess.run(["umount", "-l", mp], check=False)
        shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    main()
