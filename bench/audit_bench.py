#!/usr/bin/python3
"""Audit and admission throughput of moat's policy engine, on one core.

Usage:

    /usr/bin/python3 bench/audit_bench.py [-n 8000] [--files 2000] [--baseline OTHER_MOAT]

  MOAT_BIN   the moat binary (default /work/main/build/moat)
  --baseline a second moat binary measured in the same run, each round
             alternating the two, and the ratios printed (the fair figure on
             a shared machine)

Each figure is the best of 3 runs, as wall time and as CPU time (user +
system of the child, from the kernel's accounting): on a machine shared with
other jobs the wall time of a process pinned to one CPU includes the time
others held that CPU, the CPU time does not.

What is measured (pinned to CPU 0 with taskset when available):
  inspect    `moat audit --format json` over one docker/podman inspect array
             of N containers (the real fixtures of tests/fixtures/policy,
             repeated): containers per second, end to end (read, parse,
             convert, 42 rules, 34 CIS checks, JSON written to /dev/null).
  config     `moat audit --format json` over --files separate OCI config.json
             files (the engine-default fixtures, copied): configs per second.
  admission  `moat policy check` of one config, median wall time over 50 runs,
             against `moat --version` (process start-up), so the difference
             bounds what admission adds to `create`.
"""

import argparse
import resource
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(REPO, "tests", "fixtures", "policy")
MOAT = os.environ.get("MOAT_BIN", "/work/main/build/moat")


def pinned(argv):
    return (["taskset", "-c", "0"] + argv) if shutil.which("taskset") else argv


def timed(argv):
    """(wall s, CPU s) of one run."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(pinned(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 3):
        sys.exit(f"{' '.join(argv)} failed: {r.stderr.decode()}")
    return dt, (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)


def best(bins, argv_of, rounds=3):
    """Best wall and best CPU time per binary, the binaries alternating."""
    res = {b: [] for b in bins}
    for _ in range(rounds):
        for b in bins:
            res[b].append(timed(argv_of(b)))
    return {b: (min(w for w, _ in v), min(c for _, c in v)) for b, v in res.items()}


def report(what, n, unit, bins, res):
    for b in bins:
        w, c = res[b]
        print(f"{what:9} {b}: {n} {unit} in {w:.3f} s wall ({n / w:,.0f}/s), {c:.3f} s CPU ({n / c:,.0f}/s)")
    if len(bins) == 2:
        (w0, c0), (w1, c1) = res[bins[0]], res[bins[1]]
        print(f"{what:9} speed-up {bins[0]} over {bins[1]}: {w1 / w0:.2f}x wall, {c1 / c0:.2f}x CPU")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=8000)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--baseline", help="a second moat binary to compare against")
    a = ap.parse_args()
    bins = [MOAT] + ([a.baseline] if a.baseline else [])
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp = tempfile.mkdtemp(prefix="moat-audit-bench.")
    try:
        docs = []
        for f in sorted(os.listdir(FIX)):
            if f.endswith(".inspect.json"):
                d = json.load(open(os.path.join(FIX, f)))
                docs += d if isinstance(d, list) else [d]
        arr = [docs[i % len(docs)] for i in range(a.n)]
        big = os.path.join(tmp, "inspect.json")
        with open(big, "w") as f:
            json.dump(arr, f)
        res = best(bins, lambda b: [b, "audit", "--format", "json", big])
        report("inspect", a.n, "containers", bins, res)

        srcs = ["runc-spec.config.json", "podman-def.config.json", "docker-def.config.json",
                "containerd-def.config.json", "podman-hard.config.json"]
        paths = []
        for i in range(a.files):
            p = os.path.join(tmp, f"c{i}.json")
            shutil.copy(os.path.join(FIX, srcs[i % len(srcs)]), p)
            paths.append(p)
        res = best(bins, lambda b: [b, "audit", "--format", "json", *paths])
        report("config", a.files, "config.json files", bins, res)

        cfg = os.path.join(FIX, "docker-def.config.json")
        for b in bins:
            check = statistics.median(timed([b, "policy", "check", cfg])[0] for _ in range(50))
            base = statistics.median(timed([b, "--version"])[0] for _ in range(50))
            print(f"admission {b}: policy check {check * 1e3:.2f} ms vs --version {base * 1e3:.2f} ms: "
                  f"+{(check - base) * 1e3:.2f} ms (includes reading and printing)")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
