#!/usr/bin/python3
"""Side-by-side start-up benchmark: moat vs crun vs runc on one busybox bundle.

Usage (as root, after tests/clients/setup-deps.sh):

    /usr/bin/python3 bench/bench.py [-n 50] [--warmup 5] [--rounds 5]
        [--rss-n 10] [--runtimes moat,crun,runc] [--append docs/performance.md]

  MOAT_BIN   the moat binary (default /work/main/build/moat); if it is missing
             or cannot `run` the bundle, its column reads "n/a" and the reason
             is printed on stderr.
  RUNC_BIN   default /usr/sbin/runc;  CRUN_BIN  default /usr/bin/crun.

What is measured, for every runtime, on the SAME bundle (same config.json,
same rootfs):
  run      wall time of `<rt> --root R run --bundle B <id>` of busybox `true`
           (median and p90 over N iterations after the warm-ups)
  c+s+d    wall time of create + start + waiting for the container's `true` to
           exit + delete (median)
  exec     wall time of `<rt> --root R exec <id> /bin/true` into one running
           container (a busybox `sleep` made by create+start, killed after)
  RSS      peak resident set of the runtime process, GNU time's %M (wait4's
           ru_maxrss: the runtime and the descendants it reaped, e.g. `runc
           init`), in separate passes of --rss-n iterations so that time's
           fork+exec does not enter the timings: median over `run`, and the
           largest over all create/start/delete calls.  Floor ~1 MiB (GNU
           time's own pages carried across exec).
plus a bare `chroot <rootfs> /bin/true` baseline.

The bundle's isolation: pid, net, ipc, uts, mount and cgroup namespaces; memory
(128 MiB), pids (64) and cpu (shares 512, quota 50ms/100ms) limits; a seccomp
profile (converted from containers-common's /usr/share/containers/seccomp.json
for amd64 and the bundle's capabilities, as podman does; names libseccomp does
not know dropped); the usual maskedPaths/readonlyPaths; a read-only root;
no_new_privileges and a reduced capability set.

crun 1.8.1 refuses hybrid cgroups ("cgroups in hybrid mode not supported"), so
its measurements run in a worker started inside `unshare -m --propagation
private` with /sys/fs/cgroup/unified lazily unmounted; the host's mounts are
untouched and crun sees cgroup v1 only (see
/work/shared/reference/real-clients.md section 2).  The unshare happens once per
worker, not per iteration.  Each runtime is measured in its own worker
processes, in --rounds rounds with the order rotated every round.
"""

import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUSYBOX = "/bin/busybox"
SECCOMP_SRC = "/usr/share/containers/seccomp.json"
PR_SET_CHILD_SUBREAPER = 36

# Run once per runtime before timing: proves the container ran and prints
# what the isolation looks like from inside, so the table can show that every
# runtime applied the same bundle.
PREFLIGHT = r"""
B=/bin/busybox
echo moat-bench-preflight
st=$($B grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | $B sed 's/:[[:space:]]*/=/' | $B tr '\n' ' ')
m=$($B cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || $B cat /sys/fs/cgroup/memory.max 2>/dev/null || echo '?')
p=$($B cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || $B cat /sys/fs/cgroup/pids.max 2>/dev/null || echo '?')
q=$($B cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || $B cut -d' ' -f1 /sys/fs/cgroup/cpu.max 2>/dev/null || echo '?')
if $B touch /.probe 2>/dev/null; then ro=no; else ro=yes; fi
k=$($B head -c 16 /proc/kcore 2>/dev/null | $B wc -c)
if echo x 2>/dev/null > /proc/sysrq-trigger; then sr=rw; else sr=ro; fi
echo "fingerprint: ${st}mem=$m pids=$p cfs_quota=$q root_ro=$ro kcore_bytes=$k sysrq=$sr caps=$($B grep CapEff /proc/self/status | $B cut -f2)"
exit 7
"""

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP",
        "CAP_AUDIT_WRITE"]

MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
          "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
          "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
            "/proc/sysrq-trigger"]


def runtime_paths():
  return {
      "moat": os.environ.get("MOAT_BIN", "/work/main/build/moat"),
      "crun": os.environ.get("CRUN_BIN", "/usr/bin/crun"),
      "runc": os.environ.get("RUNC_BIN", "/usr/sbin/runc"),
  }


# --------------------------------------------------------------------------
# bundle

def seccomp_profile():
  """An OCI seccomp profile converted from containers-common's profile the way
  podman does it: a rule applies when its `includes` match this arch (amd64)
  and our capability set, and its `excludes` do not."""
  try:
    with open(SECCOMP_SRC) as f:
      src = json.load(f)
  except OSError as e:
    sys.exit(f"bench: cannot read {SECCOMP_SRC} ({e.strerror}); "
             f"run tests/clients/setup-deps.sh")
  lib = ctypes.CDLL("libseccomp.so.2")
  lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
  known = lambda n: lib.seccomp_syscall_resolve_name(n.encode()) >= 0
  rules, plain = [], set()
  for r in src["syscalls"]:
    inc, exc = r.get("includes") or {}, r.get("excludes") or {}
    if inc.get("arches") and "amd64" not in inc["arches"]:
      continue
    if "amd64" in (exc.get("arches") or []):
      continue
    if any(c not in CAPS for c in inc.get("caps") or []):
      continue
    if any(c in CAPS for c in exc.get("caps") or []):
      continue
    # A second rule for a name already allowed unconditionally makes
    # libseccomp fail with EEXIST in runc and crun alike.
    names = sorted(n for n in r["names"] if known(n) and n not in plain)
    if not r.get("args") and r["action"] == "SCMP_ACT_ALLOW":
      plain.update(names)
    if not names:
      continue
    rule = {"names": names, "action": r["action"]}
    if r.get("args"):
      rule["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")}
                      for a in r["args"]]
    if "errnoRet" in r:
      rule["errnoRet"] = r["errnoRet"]
    rules.append(rule)
  prof = {"defaultAction": src["defaultAction"],
          "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                            "SCMP_ARCH_X32"],
          "syscalls": rules}
  if "defaultErrnoRet" in src:
    prof["defaultErrnoRet"] = src["defaultErrnoRet"]
  return prof


def make_rootfs(root):
  for d in ("bin", "dev", "proc", "sys", "tmp", "etc"):
    os.makedirs(os.path.join(root, d), exist_ok=True)
  shutil.copy2(BUSYBOX, os.path.join(root, "bin/busybox"))
  for a in ("true", "sh", "sleep"):
    os.symlink("busybox", os.path.join(root, "bin", a))


def make_config(args):
  return {
      "ociVersion": "1.0.2",
      "process": {
          "terminal": False,
          "user": {"uid": 0, "gid": 0},
          "args": args,
          "env": ["PATH=/bin"],
          "cwd": "/",
          "capabilities": {k: CAPS for k in ("bounding", "effective",
                                             "permitted")},
          "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
          "noNewPrivileges": True,
      },
      "root": {"path": "rootfs", "readonly": True},
      "hostname": "bench",
      "mounts": [
          {"destination": "/proc", "type": "proc", "source": "proc"},
          {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
           "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
          {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
           "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                       "mode=0620"]},
          {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
           "options": ["nosuid", "noexec", "nodev", "mode=1777",
                       "size=65536k"]},
          {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
           "options": ["nosuid", "noexec", "nodev"]},
          {"destination": "/sys", "type": "sysfs", "source": "sysfs",
           "options": ["nosuid", "noexec", "nodev", "ro"]},
          {"destination": "/sys/fs/cgroup", "type": "cgroup",
           "source": "cgroup",
           "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
      ],
      "linux": {
          "namespaces": [{"type": t} for t in
                         ("pid", "network", "ipc", "uts", "mount", "cgroup")],
          "resources": {
              "devices": [{"allow": False, "access": "rwm"}],
              "memory": {"limit": 128 * 1024 * 1024},
              "pids": {"limit": 64},
              "cpu": {"shares": 512, "quota": 50000, "period": 100000},
          },
          "seccomp": seccomp_profile(),
          "maskedPaths": MASKED,
          "readonlyPaths": READONLY,
      },
  }


def make_bundle(base):
  bundle = os.path.join(base, "bundle")
  make_rootfs(os.path.join(bundle, "rootfs"))
  # Workers rewrite config.json (cgroupsPath per container, the preflight's
  # args); each starts again from this pristine copy.
  for name in ("config.json", "base.json"):
    with open(os.path.join(bundle, name), "w") as f:
      json.dump(make_config(["/bin/true"]), f, indent=1)
  return bundle


# --------------------------------------------------------------------------
# measurement (worker side)

DEVNULL = None


def spawn_rusage(argv):
  """posix_spawn + wait4: wall seconds, exit status, and the rusage of ARGV
  and the descendants it reaped."""
  t0 = time.perf_counter()
  pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
      (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
      (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
      (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
  _, status, ru = os.wait4(pid, 0)
  return time.perf_counter() - t0, os.waitstatus_to_exitcode(status), ru


def spawn(argv):
  """Wall seconds, exit status, ru_maxrss (KiB; not meaningful for RSS, see
  spawn_rss)."""
  dt, rc, ru = spawn_rusage(argv)
  return dt, rc, ru.ru_maxrss


def spawn_rss(argv):
  """Run under GNU time for ru_maxrss.  Not measured with wait4() from this
  process: exec() folds the pre-exec mm's high-water mark into the task's
  maxrss (fs/exec.c exec_mmap), so a child forked from Python would report
  Python's own RSS.  GNU time's footprint (~1 MiB) is the floor instead."""
  with tempfile.NamedTemporaryFile("r", prefix="rss-") as out:
    dt, rc, _ = spawn(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv)
    text = out.read().strip().splitlines()
  return dt, rc, int(text[-1]) if text and text[-1].isdigit() else 0


def diagnose(argv):
  p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
  return f"{' '.join(argv)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()}"


def worker(name, rt, bundle, state, n, warmup, cgparent, rss_n):
  libc = ctypes.CDLL(None, use_errno=True)
  # The container process of `create` is orphaned when the runtime exits;
  # as a subreaper we inherit it and can wait for its exit before `delete`.
  libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
  base = [rt, "--root", state]
  res = {"run": [], "run_rss": [], "csd": [], "csd_rss": [], "exec": [],
         "notes": []}
  cfg_path = os.path.join(bundle, "config.json")
  with open(os.path.join(bundle, "base.json")) as f:
    cfg = json.load(f)

  def set_cgroup(cid):
    cfg["linux"]["cgroupsPath"] = f"/{cgparent}/{cid}"
    with open(cfg_path + ".tmp", "w") as f:
      json.dump(cfg, f)
    os.replace(cfg_path + ".tmp", cfg_path)

  # Preflight: the container must really run (a runtime that exits 0 without
  # running anything would otherwise look fast).  runc and crun also return
  # the container's exit status from `run`; a runtime that does not is
  # measured anyway, with a note.
  pre = dict(cfg, process=dict(cfg["process"], args=[
      "/bin/sh", "-c", PREFLIGHT]))
  saved = cfg
  cfg = pre
  set_cgroup(f"{name}-preflight")
  p = subprocess.run(base + ["run", "--bundle", bundle, f"{name}-preflight"],
                     capture_output=True, text=True, timeout=60,
                     stdin=subprocess.DEVNULL)
  subprocess.run(base + ["delete", "--force", f"{name}-preflight"],
                 capture_output=True)
  cfg = saved
  if "moat-bench-preflight" not in p.stdout:
    return {"error": f"preflight `run` did not run the container (exit "
            f"{p.returncode}): {(p.stderr or p.stdout).strip()[-300:]}"}
  res["fingerprint"] = " ".join(
      l.split(":", 1)[1].strip() for l in p.stdout.splitlines()
      if l.startswith("fingerprint:"))
  if p.returncode != 7:
    res["notes"].append(f"`run` returned {p.returncode}, not the container's "
                        f"exit status 7")

  def run_once(cid, launch):
    set_cgroup(cid)
    return launch(base + ["run", "--bundle", bundle, cid])

  def csd_once(cid, launch):
    """create, start, wait for the container's exit, delete."""
    set_cgroup(cid)
    t0 = time.perf_counter()
    _, rc1, r1 = launch(base + ["create", "--bundle", bundle, "--pid-file",
                                pidfile, cid])
    if rc1 != 0:
      raise RuntimeError(diagnose(base + ["create", "--bundle", bundle,
                                          cid + "x"]))
    try:
      with open(pidfile) as f:
        cpid = int(f.read())
      os.unlink(pidfile)
    except (OSError, ValueError) as e:
      raise RuntimeError(f"create of {cid} left no usable --pid-file ({e})")
    _, rc2, r2 = launch(base + ["start", cid])
    # The orphaned container init is ours (subreaper): its status cannot be
    # reaped by anyone else.
    os.waitpid(cpid, 0)
    _, rc3, r3 = launch(base + ["delete", cid])
    if rc2 or rc3:
      raise RuntimeError(f"start rc={rc2} delete rc={rc3} for {cid}")
    return time.perf_counter() - t0, max(r1, r2, r3)

  def exec_pass(cid):
    """create+start a sleeping container, time `exec /bin/true` into it,
    then kill and delete it."""
    nonlocal cfg
    saved = cfg
    cfg = dict(cfg, process=dict(cfg["process"], args=["/bin/sleep", "1000"]))
    set_cgroup(cid)
    cfg = saved
    for argv in (["create", "--bundle", bundle, "--pid-file", pidfile, cid],
                 ["start", cid]):
      _, rc, _ = spawn(base + argv)
      if rc != 0:
        raise RuntimeError(diagnose(base + argv))
    with open(pidfile) as f:
      cpid = int(f.read())
    os.unlink(pidfile)
    try:
      for i in range(warmup + n):
        dt, rc, _ = spawn(base + ["exec", cid, "/bin/true"])
        if rc != 0:
          raise RuntimeError(diagnose(base + ["exec", cid, "/bin/true"]))
        if i >= warmup:
          res["exec"].append(dt)
    finally:
      spawn(base + ["kill", cid, "KILL"])
      os.waitpid(cpid, 0)
      spawn(base + ["delete", "--force", cid])

  pidfile = os.path.join(os.path.dirname(state), f"{name}.pid")
  try:
    for i in range(warmup + n):
      cid = f"{name}-run-{i}"
      dt, rc, _ = run_once(cid, spawn)
      if rc != 0:
        subprocess.run(base + ["delete", "--force", cid], capture_output=True)
        raise RuntimeError(diagnose(base + ["run", "--bundle", bundle,
                                            cid + "x"]))
      if i >= warmup:
        res["run"].append(dt)
    for i in range(warmup + n):
      dt, _ = csd_once(f"{name}-csd-{i}", spawn)
      if i >= warmup:
        res["csd"].append(dt)
    exec_pass(f"{name}-exec")
    # Peak RSS in separate passes under GNU time (see spawn_rss).
    for i in range(rss_n):
      _, rc, rss = run_once(f"{name}-rss-run-{i}", spawn_rss)
      if rc != 0:
        raise RuntimeError(f"`run` under /usr/bin/time returned {rc}")
      res["run_rss"].append(rss)
    for i in range(rss_n):
      _, rss = csd_once(f"{name}-rss-csd-{i}", spawn_rss)
      res["csd_rss"].append(rss)
  except RuntimeError as e:
    return {"error": str(e)}
  return res


def chroot_baseline(rootfs, n, warmup):
  out = []
  for i in range(warmup + n):
    dt, rc, _ = spawn(["/usr/sbin/chroot", rootfs, "/bin/true"])
    if rc != 0:
      sys.exit("bench: chroot baseline failed")
    if i >= warmup:
      out.append(dt)
  return out


# --------------------------------------------------------------------------
# coordinator

def pct(xs, p):
  xs = sorted(xs)
  k = (len(xs) - 1) * p
  lo = int(k)
  hi = min(lo + 1, len(xs) - 1)
  return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_worker(name, tag, rt, work, n, warmup, cgparent, rss_n):
  """One worker process measuring runtime `name`; `tag` prefixes its
  container ids so that rounds never reuse an id."""
  bundle = os.path.join(work, "bundle")
  state = os.path.join(work, "state-" + name)
  os.makedirs(state, exist_ok=True)
  out = os.path.join(work, tag + ".json")
  cmd = [sys.executable, os.path.abspath(__file__), "--worker", tag, rt,
         bundle, state, str(n), str(warmup), cgparent, str(rss_n), out]
  if name == "crun":
    cmd = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
           'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "sh"] + cmd
  p = subprocess.run(cmd, capture_output=True, text=True)
  if p.returncode != 0 or not os.path.exists(out):
    return {"error": f"worker failed: {p.stderr.strip()[-500:]}"}
  with open(out) as f:
    return json.load(f)


def remove_cgroups(cgparent):
  for ctrl in os.listdir("/sys/fs/cgroup"):
    d = os.path.join("/sys/fs/cgroup", ctrl, cgparent)
    if not os.path.isdir(d):
      continue
    for sub in sorted(os.listdir(d)):
      if os.path.isdir(os.path.join(d, sub)):
        try:
          os.rmdir(os.path.join(d, sub))
        except OSError:
          pass
    try:
      os.rmdir(d)
    except OSError:
      pass


def ms(x):
  return f"{x * 1000:.2f}"


def ratio(a, b):
  return f"{a / b:.2f}" if a and b else "n/a"


def table(results, base, n, warmup):
  cols = ["moat", "crun", "runc"]
  val = {}
  for c in cols:
    r = results.get(c)
    if not r or "error" in r:
      val[c] = None
      continue
    val[c] = {
        "run_med": statistics.median(r["run"]), "run_p90": pct(r["run"], 0.9),
        "csd_med": statistics.median(r["csd"]), "csd_p90": pct(r["csd"], 0.9),
        "exec_med": statistics.median(r["exec"]),
        "exec_p90": pct(r["exec"], 0.9),
        "rss_run": statistics.median(r["run_rss"]),
        "rss_max": max(r["run_rss"] + r["csd_rss"]),
    }

  def cell(c, key, fmt):
    return fmt(val[c][key]) if val[c] else "n/a"

  kib = lambda x: f"{x / 1024:.1f}"
  rows = [
      ("`run` /bin/true, median (ms)", "run_med", ms),
      ("`run` /bin/true, p90 (ms)", "run_p90", ms),
      ("create+start+wait+delete, median (ms)", "csd_med", ms),
      ("create+start+wait+delete, p90 (ms)", "csd_p90", ms),
      ("`exec` /bin/true, median (ms)", "exec_med", ms),
      ("`exec` /bin/true, p90 (ms)", "exec_p90", ms),
      ("peak RSS of `run`, median (MiB)", "rss_run", kib),
      ("peak RSS, max over run/create/start/delete (MiB)", "rss_max", kib),
  ]
  lines = ["| metric | moat | crun | runc | moat/crun | moat/runc |",
           "|---|---:|---:|---:|---:|---:|"]
  for label, key, fmt in rows:
    m = val["moat"][key] if val["moat"] else None
    cr = val["crun"][key] if val["crun"] else None
    rc = val["runc"][key] if val["runc"] else None
    lines.append(f"| {label} | {cell('moat', key, fmt)} | "
                 f"{cell('crun', key, fmt)} | {cell('runc', key, fmt)} | "
                 f"{ratio(m, cr)} | {ratio(m, rc)} |")
  lines.append(f"| bare `chroot rootfs /bin/true`, median (ms) | "
               f"{ms(statistics.median(base))} | | | | |")
  lines.append("")
  lines.append(f"N={n} iterations per runtime ({warmup} warm-ups per round "
               f"not counted); "
               f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
  lines.append("")
  lines.append("Isolation seen from inside each runtime's container:")
  lines.append("")
  for c in cols:
    r = results.get(c)
    if r and r.get("fingerprint"):
      lines.append(f"- {c}: `{r['fingerprint']}`")
  lines.append("")
  for c in cols:
    r = results.get(c)
    if r and "error" in r:
      lines.append(f"{c}: n/a ({r['error']})")
    for note in (r or {}).get("notes", []):
      lines.append(f"{c}: note: {note}")
  return "\n".join(lines)


def versions(paths):
  out = {}
  for name, p in paths.items():
    try:
      v = subprocess.run([p, "--version"], capture_output=True, text=True,
                         timeout=10).stdout.splitlines()
      out[name] = v[0] if v else "?"
    except OSError:
      out[name] = "missing"
  return out


def main():
  if len(sys.argv) > 1 and sys.argv[1] == "--worker":
    name, rt, bundle, state, n, warmup, cgparent, rss_n, out = sys.argv[2:11]
    res = worker(name, rt, bundle, state, int(n), int(warmup), cgparent,
                 int(rss_n))
    with open(out, "w") as f:
      json.dump(res, f)
    return
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("-n", type=int, default=50)
  ap.add_argument("--warmup", type=int, default=5)
  ap.add_argument("--rss-n", type=int, default=10,
                  help="iterations of each RSS pass (default 10)")
  ap.add_argument("--rounds", type=int, default=5,
                  help="split the iterations into rounds with the runtime "
                       "order rotated (default 5); warm-ups run every round")
  ap.add_argument("--runtimes", default="moat,crun,runc")
  ap.add_argument("--append", metavar="FILE",
                  help="also append the table to FILE (e.g. docs/performance.md)")
  a = ap.parse_args()
  if os.geteuid() != 0:
    sys.exit("bench: must run as root")
  paths = runtime_paths()
  work = tempfile.mkdtemp(prefix="moat-bench-")
  cgparent = f"moat-bench-{os.getpid()}"
  results = {}
  try:
    bundle = make_bundle(work)
    base = chroot_baseline(os.path.join(bundle, "rootfs"), a.n, a.warmup)
    names = a.runtimes.split(",")
    for name in names:
      if not os.access(paths[name], os.X_OK):
        results[name] = {"error": f"{paths[name]} not found"}
    rounds = max(1, min(a.rounds, a.n))
    for r in range(rounds):
      # Rotate the order each round so that drift on a shared VM does not
      # favour whichever runtime always goes first.
      order = names[r % len(names):] + names[:r % len(names)]
      n_r = a.n // rounds + (1 if r < a.n % rounds else 0)
      rss_r = a.rss_n // rounds + (1 if r < a.rss_n % rounds else 0)
      for name in order:
        if "error" in results.get(name, {}):
          continue
        got = run_worker(name, f"{name}{r}", paths[name], work, n_r,
                         a.warmup, cgparent, rss_r)
        if "error" in got:
          results[name] = got
          print(f"bench: {name}: {got['error']}", file=sys.stderr)
          continue
        acc = results.setdefault(name, {"run": [], "run_rss": [], "csd": [],
                                        "csd_rss": [], "exec": [], "notes": []})
        for k in ("run", "run_rss", "csd", "csd_rss", "exec"):
          acc[k] += got[k]
        acc["notes"] = sorted(set(acc["notes"] + got["notes"]))
        acc["fingerprint"] = got.get("fingerprint", "")
  finally:
    for name in paths:
      st = os.path.join(work, "state-" + name)
      if os.path.isdir(st) and os.access(paths[name], os.X_OK):
        for cid in os.listdir(st):
          subprocess.run([paths[name], "--root", st, "delete", "--force", cid],
                         capture_output=True)
    remove_cgroups(cgparent)
    shutil.rmtree(work, ignore_errors=True)
  vers = versions({k: paths[k] for k in a.runtimes.split(",")})
  out = table(results, base, a.n, a.warmup)
  out += "\n\nVersions: " + "; ".join(f"{k}: {v}" for k, v in vers.items())
  print(out)
  if a.append:
    with open(a.append, "a") as f:
      f.write("\n" + out + "\n")


if __name__ == "__main__":
  main()
