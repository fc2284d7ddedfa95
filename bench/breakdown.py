#!/usr/bin/python3
"""Where does a runtime's `run` time go?  Removes one isolation feature at a
time from the bench bundle (bench.py) and reports the median `run` wall time.

Usage (as root):

    /usr/bin/python3 bench/breakdown.py [-n 20] [--runtimes moat,runc,crun]
    /usr/bin/python3 bench/breakdown.py --spec [-n 30]

--spec measures moat alone on the configs `moat spec` writes: the hardened
default, then the same without each of its layers (user namespace, seccomp,
the seccomp filter cache, cgroup limits, Landlock), and `moat spec --compat`.
The last column is the full default's median minus the variant's: the cost of
the layer the variant removes (for the filter cache, a negative number: what
the cache saves).

This is for diagnosis only. The comparison table comes from bench.py, which
keeps every feature on for every runtime. crun is measured under the same
`unshare -m` + lazily unmounted /sys/fs/cgroup/unified workaround that
bench.py uses.
"""

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def without_ns(cfg, kind):
  cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                if n["type"] != kind]


def drop_cgroupns(cfg):
  without_ns(cfg, "cgroup")
  cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] != "cgroup"]


VARIANTS = [
    ("full bundle", lambda c: None),
    ("- seccomp", lambda c: c["linux"].pop("seccomp")),
    ("- network namespace", lambda c: without_ns(c, "network")),
    ("- resources (no limits)", lambda c: c["linux"].pop("resources")),
    ("- masked/readonly paths",
     lambda c: (c["linux"].pop("maskedPaths"), c["linux"].pop("readonlyPaths"))),
    ("- cgroup namespace and mount", drop_cgroupns),
]


def without_userns(cfg):
  without_ns(cfg, "user")
  cfg["linux"].pop("uidMappings")
  cfg["linux"].pop("gidMappings")


def without_limits(cfg):
  cfg["linux"]["resources"] = {"devices": cfg["linux"]["resources"]["devices"]}


def landlock_off(cfg):
  cfg["annotations"]["org.moat.landlock"] = "off"


def no_cache(cfg):
  # Read by moat_seccomp_compile_cached: compile the profile on every run.
  os.environ["MOAT_SECCOMP_CACHE"] = "off"


def compat(cfg):
  cfg.clear()
  cfg.update(json.load(open(os.path.join(os.environ["BREAKDOWN_BUNDLE"], "compat.json"))))


SPEC_VARIANTS = [
    ("moat spec (hardened default)", lambda c: None),
    ("- user namespace", without_userns),
    ("- seccomp", lambda c: c["linux"].pop("seccomp")),
    ("- seccomp filter cache (compile every run)", no_cache),
    ("- cgroup limits (memory, pids, cpu)", without_limits),
    ("- Landlock", landlock_off),
    ("moat spec --compat", compat),
]


def measure(rt, name, bundle, state, n, cgparent, variants=VARIANTS):
  """Median `run` time per variant.  The variants take turns (one run of
  each per round) so that a change in the machine's load during the
  measurement spreads over all of them instead of biasing one."""
  base = json.load(open(os.path.join(bundle, "base.json")))
  os.environ["BREAKDOWN_BUNDLE"] = bundle
  times = {label: [] for label, _ in variants}
  for i in range(n + 3):
    for v, (label, edit) in enumerate(variants):
      if times[label] is None:
        continue
      cfg = copy.deepcopy(base)
      os.environ.pop("MOAT_SECCOMP_CACHE", None)
      edit(cfg)
      cid = f"{name}-{v}-{i}"
      cfg["linux"]["cgroupsPath"] = f"/{cgparent}/{cid}"
      with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
      dt, rc, _ = bench.spawn([rt, "--root", state, "run", "--bundle", bundle,
                               cid])
      if rc != 0:
        subprocess.run([rt, "--root", state, "delete", "--force", cid],
                       capture_output=True)
        times[label] = None
      elif i >= 3:
        times[label].append(dt)
  return [(label, statistics.median(times[label]) if times[label] else None)
          for label, _ in variants]


def make_spec_bundle(work, moat):
  """bench.py's rootfs with the two configs of `moat spec` (/bin/true)."""
  bundle = bench.make_bundle(work)
  os.makedirs(os.path.join(bundle, "rootfs", "run"), exist_ok=True)
  for name, extra in (("base.json", []), ("compat.json", ["--compat"])):
    d = tempfile.mkdtemp(dir=work)
    subprocess.run([moat, "spec", "--bundle", d] + extra, check=True)
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"]["terminal"] = False
    with open(os.path.join(bundle, name), "w") as f:
      json.dump(cfg, f)
  return bundle


def main():
  if len(sys.argv) > 1 and sys.argv[1] == "--worker":
    name, rt, bundle, state, n, cgparent, mode = sys.argv[2:9]
    variants = SPEC_VARIANTS if mode == "spec" else VARIANTS
    json.dump(measure(rt, name, bundle, state, int(n), cgparent, variants), sys.stdout)
    return
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("-n", type=int, default=20)
  ap.add_argument("--runtimes", default="moat,crun,runc")
  ap.add_argument("--spec", action="store_true",
                  help="moat only: the layers of the `moat spec` default")
  a = ap.parse_args()
  paths = bench.runtime_paths()
  work = tempfile.mkdtemp(prefix="moat-breakdown-")
  os.chmod(work, 0o755)  # the userns-mapped root must reach its rootfs
  cgparent = f"moat-breakdown-{os.getpid()}"
  variants = SPEC_VARIANTS if a.spec else VARIANTS
  runtimes = ["moat"] if a.spec else a.runtimes.split(",")
  rows = {}
  try:
    bundle = make_spec_bundle(work, paths["moat"]) if a.spec else bench.make_bundle(work)
    for name in runtimes:
      state = os.path.join(work, "state-" + name)
      os.makedirs(state)
      cmd = [sys.executable, os.path.abspath(__file__), "--worker", name,
             paths[name], bundle, state, str(a.n), cgparent,
             "spec" if a.spec else "features"]
      if name == "crun":
        cmd = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
               'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec "$@"',
               "sh"] + cmd
      p = subprocess.run(cmd, capture_output=True, text=True)
      if p.returncode != 0:
        print(f"breakdown: {name}: {p.stderr.strip()[-300:]}", file=sys.stderr)
        continue
      rows[name] = dict(json.loads(p.stdout))
  finally:
    bench.remove_cgroups(cgparent)
    shutil.rmtree(work, ignore_errors=True)
  names = list(rows)
  extra = ["full - variant (ms)"] if a.spec else []
  print("| `run` median (ms) | " + " | ".join(names + extra) + " |")
  print("|---|" + "---:|" * len(names + extra))
  for label, _ in variants:
    cells = [f"{rows[n][label] * 1000:.2f}" if rows[n][label] else "fail"
             for n in names]
    if a.spec and label != variants[0][0] and rows["moat"][label]:
      full = rows["moat"][variants[0][0]]
      cells.append(f"{(full - rows['moat'][label]) * 1000:+.2f}")
    print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
  main()
