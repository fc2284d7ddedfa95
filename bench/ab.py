#!/usr/bin/python3
"""Interleaved A/B of `run` /bin/true between runtime binaries, for a loaded VM.

Usage (as root):

    /usr/bin/python3 bench/ab.py [-n 100] [--userns] [--exec] NAME=BIN [NAME=BIN ...]

Every iteration runs each binary once on the same bundle as bench/bench.py
(a fresh container id and cgroup per call), rotating the order, so that load
from other jobs on a shared machine falls on all of them alike.  Printed per
binary: median, p25 and p75 wall time, the ratio of the median to the LAST
binary's, and the median CPU time (user + system of the runtime and every
process it reaped, from wait4), which moves less with load than wall time.
The load average before and after is printed too.  --userns adds a user
namespace (container root = host uid 100000) to the bundle.  --exec times
`exec ID /bin/true` instead, into one running container per binary (a
busybox `sleep` started with `run --detach`, killed and deleted after).

    /usr/bin/python3 bench/ab.py main=/work/main/build/moat new=build/moat \\
        runc=/usr/sbin/runc
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the bundle and the spawn helpers)

WARMUP = 3


def spawn_cpu(argv):
  """Wall seconds, exit status and CPU seconds of ARGV and its reaped
  descendants."""
  dt, rc, ru = bench.spawn_rusage(argv)
  return dt, rc, ru.ru_utime + ru.ru_stime


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("-n", type=int, default=100)
  ap.add_argument("--userns", action="store_true")
  ap.add_argument("--exec", action="store_true")
  ap.add_argument("runtimes", nargs="+", metavar="NAME=BIN")
  a = ap.parse_args()
  rts = [r.split("=", 1) for r in a.runtimes]
  if any(len(r) != 2 or not r[0].isalnum() for r in rts):
    sys.exit("ab: runtimes are NAME=BIN with an alphanumeric NAME")
  work = tempfile.mkdtemp(prefix="moat-ab-")
  os.chmod(work, 0o755)
  bundle = bench.make_bundle(work)
  cfg_path = os.path.join(bundle, "config.json")
  with open(os.path.join(bundle, "base.json")) as f:
    cfg = json.load(f)
  if a.userns:
    cfg["linux"]["namespaces"].append({"type": "user"})
    for k in ("uidMappings", "gidMappings"):
      cfg["linux"][k] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
  cgparent = f"moat-ab-{os.getpid()}"
  wall = {name: [] for name, _ in rts}
  cpu = {name: [] for name, _ in rts}
  load0 = os.getloadavg()[0]

  def write_config(cid, args=None):
    cfg["linux"]["cgroupsPath"] = f"/{cgparent}/{cid}"
    doc = dict(cfg, process=dict(cfg["process"], args=args)) if args else cfg
    with open(cfg_path + ".tmp", "w") as f:
      json.dump(doc, f)
    os.replace(cfg_path + ".tmp", cfg_path)

  try:
    if a.exec:
      for name, binary in rts:
        write_config(f"{name}-x", ["/bin/sleep", "1000"])
        argv = [binary, "--root", os.path.join(work, "state-" + name), "run",
                "--detach", "--bundle", bundle, f"{name}-x"]
        if bench.spawn(argv)[1] != 0:
          sys.exit(bench.diagnose(argv))
    for i in range(WARMUP + a.n):
      k = i % len(rts)
      for name, binary in rts[k:] + rts[:k]:
        root = [binary, "--root", os.path.join(work, "state-" + name)]
        if a.exec:
          argv = root + ["exec", f"{name}-x", "/bin/true"]
        else:
          cid = f"{name}-{i}"
          write_config(cid)
          argv = root + ["run", "--bundle", bundle, cid]
        dt, rc, c = spawn_cpu(argv)
        if rc != 0:
          sys.exit(bench.diagnose(argv if a.exec else argv[:-1] + [cid + "x"]))
        if i >= WARMUP:
          wall[name].append(dt)
          cpu[name].append(c)
  finally:
    for name, binary in rts if a.exec else []:
      st = os.path.join(work, "state-" + name)
      bench.spawn([binary, "--root", st, "delete", "--force", f"{name}-x"])
    bench.remove_cgroups(cgparent)
    shutil.rmtree(work, ignore_errors=True)
  ref = statistics.median(wall[rts[-1][0]])
  print(f"N={a.n}{' userns' if a.userns else ''}{' exec' if a.exec else ''}, load average "
        f"{load0:.2f} -> {os.getloadavg()[0]:.2f}")
  for name, _ in rts:
    w = wall[name]
    m = statistics.median(w)
    print(f"{name:>10}  median {m * 1e3:7.2f} ms  p25 {bench.pct(w, .25) * 1e3:7.2f}"
          f"  p75 {bench.pct(w, .75) * 1e3:7.2f}  /{rts[-1][0]} {m / ref:.3f}"
          f"  cpu {statistics.median(cpu[name]) * 1e3:7.2f} ms")


if __name__ == "__main__":
  main()
