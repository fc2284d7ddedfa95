#!/usr/bin/python3
"""Audit and admission throughput of moat's policy engine, on one core.

Usage:

    /usr/bin/python3 bench/audit_bench.py [-n 8000] [--files 2000]

  MOAT_BIN   the moat binary (default /work/main/build/moat)

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
    t = time.perf_counter()
    r = subprocess.run(pinned(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode not in (0, 3):
        sys.exit(f"{' '.join(argv)} failed: {r.stderr.decode()}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=8000)
    ap.add_argument("--files", type=int, default=2000)
    a = ap.parse_args()
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
        t = min(timed([MOAT, "audit", "--format", "json", big]) for _ in range(3))
        print(f"inspect   {a.n} containers in {t:.3f} s: {a.n / t:,.0f} containers/s")

        srcs = ["runc-spec.config.json", "podman-def.config.json", "docker-def.config.json",
                "containerd-def.config.json", "podman-hard.config.json"]
        paths = []
        for i in range(a.files):
            p = os.path.join(tmp, f"c{i}.json")
            shutil.copy(os.path.join(FIX, srcs[i % len(srcs)]), p)
            paths.append(p)
        t = min(timed([MOAT, "audit", "--format", "json", *paths]) for _ in range(3))
        print(f"config    {a.files} config.json files in {t:.3f} s: {a.files / t:,.0f} configs/s")

        cfg = os.path.join(FIX, "docker-def.config.json")
        check = statistics.median(timed([MOAT, "policy", "check", cfg]) for _ in range(50))
        base = statistics.median(timed([MOAT, "--version"]) for _ in range(50))
        print(f"admission policy check {check * 1e3:.2f} ms vs --version {base * 1e3:.2f} ms: "
              f"+{(check - base) * 1e3:.2f} ms (includes reading and printing)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
