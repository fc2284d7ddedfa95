"""Fixtures for driving the runtime under test through real container engines.

The runtime under test is $MOAT_BIN (default /work/main/build/moat); set
MOAT_BIN=/usr/sbin/runc to validate the harness itself.  Run with

    sh tests/clients/setup-deps.sh        # once, as root
    /usr/bin/python3 -m pytest tests/clients

Everything an engine keeps lives in one scratch directory (kept when
MOAT_CLIENTS_KEEP=1; MOAT_CLIENTS_LOGDIR=DIR copies the argv
logs and daemon logs there): podman's --root/--runroot/--tmpdir, a private
containerd on private sockets, and a private dockerd that uses that
containerd.  Each engine calls the runtime through a logging wrapper, so a
failing test prints exactly which runtime invocation broke, with its exit
status and the runtime's own JSON log.

The host paths the engines create regardless of configuration (listed in
/work/shared/reference/real-clients.md) are removed at teardown when they did
not exist before: /run/containerd/{s,fifo,runc}, /run/docker/plugins,
dockerd's self bind mount of its data-root, /dev/shm/libpod_lock and
/var/lib/containers/cache (containers/image's blob-info cache for root).
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import pytest

from clientlib import CLIENT_TIMEOUT, IMAGE

# Parent cgroups the engines create under every v1 controller (cgroupfs).
ENGINE_CGROUP_PARENTS = ("libpod_parent", "clients", "docker")
BUSYBOX = "/bin/busybox"

# Subcommands of a runc-compatible CLI; everything before the first of them
# in an engine's argv is a global option.
SUBCOMMANDS = {
    "create", "start", "run", "state", "kill", "delete", "exec", "ps", "pause",
    "resume", "update", "features", "list", "checkpoint", "restore", "spec",
    "events",
}
# Global options that take a separate value.
GLOBAL_WITH_VALUE = {"--root", "--log", "--log-format", "--cgroup-manager",
                     "--criu", "--rootless"}


def runtime_bin():
  return os.environ.get("MOAT_BIN", "/work/main/build/moat")


def require(binary):
  """Fail (not skip) when a client is missing: CI runs setup-deps.sh first."""
  path = shutil.which(binary) if not os.path.isabs(binary) else binary
  if not path or not os.access(path, os.X_OK):
    pytest.fail(f"required binary `{binary}` not found; run "
                f"tests/clients/setup-deps.sh as root first", pytrace=False)
  return path


# --------------------------------------------------------------------------
# argv log written by the wrapper

@dataclass
class Call:
  pid: str
  argv: list
  rc: object = None          # None while the call is still running
  when: str = ""

  @property
  def subcommand(self):
    sub, _ = split_argv(self.argv)
    return sub

  @property
  def args(self):
    _, rest = split_argv(self.argv)
    return rest

  def __str__(self):
    return (f"[{self.when} rc={self.rc}] "
            + " ".join(shlex.quote(a) for a in self.argv))


def split_argv(argv):
  i = 0
  while i < len(argv):
    a = argv[i]
    if a in SUBCOMMANDS:
      return a, argv[i + 1:]
    if a in GLOBAL_WITH_VALUE:
      i += 2
      continue
    i += 1
  return None, []


class ArgvLog:
  """The file a logging wrapper appends to: one ARGV line and one RC line per
  runtime invocation, matched by the wrapper's pid."""

  def __init__(self, path):
    self.path = path

  def mark(self):
    try:
      return os.path.getsize(self.path)
    except FileNotFoundError:
      return 0

  def calls(self, since=0):
    try:
      with open(self.path, "rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    except FileNotFoundError:
      return []
    calls, open_by_pid = [], {}
    for line in text.splitlines():
      head, sep, tail = line.partition(" ARGV: ")
      parts = head.split()
      if sep and len(parts) >= 2:
        c = Call(pid=parts[1], argv=shlex.split(tail), when=parts[0])
        calls.append(c)
        open_by_pid[c.pid] = c
        continue
      head, sep, tail = line.partition(" RC=")
      parts = head.split()
      if sep and len(parts) >= 2 and parts[1] in open_by_pid:
        open_by_pid.pop(parts[1]).rc = int(tail.strip())
    return calls

  def dump(self, since=0):
    calls = self.calls(since)
    if not calls:
      return "  (no runtime calls)"
    out = []
    for c in calls:
      out.append("  " + str(c))
      if c.rc not in (0, None):
        out.extend("    " + l for l in runtime_log_excerpt(c))
    return "\n".join(out)

  def wait_for(self, since, sub, cid=None, has=(), timeout=15.0, rc0=True):
    """Wait until a call `sub` on container `cid` (the last positional
    argument that equals cid) containing all of `has` has finished; assert it
    exited 0.  Returns the Call."""
    deadline = time.monotonic() + timeout
    while True:
      found = [c for c in self.calls(since)
               if c.subcommand == sub
               and (cid is None or cid in c.args)
               and all(h in c.args for h in has)]
      done = [c for c in found if c.rc is not None]
      if done:
        c = done[-1] if not rc0 else next(
            (c for c in done if c.rc == 0), done[-1])
        if rc0 and c.rc != 0:
          raise AssertionError(
              f"runtime `{sub}` failed (rc={c.rc}): {c}\n"
              f"runtime calls:\n{self.dump(since)}")
        return c
      if time.monotonic() > deadline:
        raise AssertionError(
            f"no completed runtime call `{sub}`"
            f"{' on ' + cid if cid else ''}"
            f"{' with ' + ' '.join(has) if has else ''} within {timeout}s\n"
            f"runtime calls:\n{self.dump(since)}")
      time.sleep(0.1)


def runtime_log_excerpt(call):
  """The runtime's JSON --log file named on a failed call, if any."""
  argv = call.argv
  for i, a in enumerate(argv):
    path = None
    if a == "--log" and i + 1 < len(argv):
      path = argv[i + 1]
    elif a.startswith("--log="):
      path = a.split("=", 1)[1]
    if path:
      try:
        with open(path, errors="replace") as f:
          return ["log " + path + ":"] + f.read().splitlines()[-8:]
      except OSError as e:
        return [f"log {path}: {e.strerror}"]
  return []


WRAPPER = r"""#!/bin/bash
# Logging wrapper generated by tests/clients/conftest.py: records the argv an
# engine passes to the runtime, then the runtime's exit status.
log=%(log)s
{ printf '%%s %%s parent=%%s ARGV:' "$(date +%%T.%%N)" "$$" \
    "$(cat /proc/$PPID/comm 2>/dev/null)"
  printf ' %%q' "$@"; echo; } >> "$log"
%(runtime)s %(extra)s "$@"
rc=$?
printf '%%s %%s RC=%%s\n' "$(date +%%T.%%N)" "$$" "$rc" >> "$log"
exit $rc
"""


def make_wrapper(path, log, extra=""):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.write(WRAPPER % {"log": shlex.quote(log),
                       "runtime": shlex.quote(runtime_bin()),
                       "extra": extra})
  os.chmod(path, 0o755)
  return path


# --------------------------------------------------------------------------
# running client commands

class Client:
  """A client command line (podman/ctr/docker with its private flags) and the
  argv log of the runtime it drives."""

  def __init__(self, name, base, log, env=None):
    self.name, self.base, self.log = name, list(base), log
    self.env = dict(os.environ, **(env or {}))
    self.stuck = None

  def __call__(self, *args, timeout=CLIENT_TIMEOUT, check=True, input=None,
               since=None):
    argv = self.base + [str(a) for a in args]
    mark = self.log.mark() if since is None else since
    if self.stuck:
      # A runtime that hangs once usually hangs on every call; fail fast so
      # the suite stays within its time budget.
      if check:
        raise AssertionError(f"{self.name}: not run, an earlier call hung:\n"
                             f"{self.stuck}")
      timeout = min(timeout, 10)
    try:
      p = subprocess.run(argv, capture_output=True, text=True, env=self.env,
                         timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
      msg = (f"{self.name}: timed out after {timeout}s: {shlex.join(argv)}\n"
             f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}\n"
             f"runtime calls (rc=None: still running):\n"
             f"{self.log.dump(mark)}")
      self.stuck = self.stuck or msg
      if not check:
        return subprocess.CompletedProcess(argv, -1, "", "")
      raise AssertionError(msg) from None
    if check and p.returncode != 0:
      raise AssertionError(
          f"{self.name}: exit {p.returncode}: {shlex.join(argv)}\n"
          f"stdout: {p.stdout.strip()}\nstderr: {p.stderr.strip()}\n"
          f"runtime calls:\n{self.log.dump(mark)}")
    return p

  def expect_output(self, args, expected, **kw):
    mark = self.log.mark()
    p = self(*args, since=mark, **kw)
    assert p.stdout.strip() == expected, (
        f"{self.name} {shlex.join(map(str, args))}: expected {expected!r}, "
        f"got stdout={p.stdout!r} stderr={p.stderr!r}\n"
        f"runtime calls:\n{self.log.dump(mark)}")
    return p


def sh(*argv, timeout=60, check=True, env=None):
  p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                     timeout=timeout, env=env)
  if check and p.returncode != 0:
    raise AssertionError(f"exit {p.returncode}: {shlex.join(map(str, argv))}\n"
                         f"{p.stdout}{p.stderr}")
  return p


def wait_until(pred, timeout, what):
  deadline = time.monotonic() + timeout
  while not pred():
    if time.monotonic() > deadline:
      raise AssertionError(f"timed out after {timeout}s waiting for {what}")
    time.sleep(0.1)


def stop_pid(proc, name, timeout=20):
  """Stop a daemon we started, by its pid only."""
  if proc.poll() is not None:
    return
  proc.send_signal(signal.SIGTERM)
  try:
    proc.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait(timeout=10)


def pids_with_arg(needle):
  """Pids whose command line contains `needle` (used to find the containerd
  shims we caused, identified by our private socket path)."""
  out = []
  for d in os.listdir("/proc"):
    if not d.isdigit():
      continue
    try:
      with open(f"/proc/{d}/cmdline", "rb") as f:
        cmd = f.read().decode(errors="replace")
    except OSError:
      continue
    if needle in cmd:
      out.append(int(d))
  return out


def mounts_under(prefix):
  with open("/proc/self/mountinfo") as f:
    pts = [l.split()[4] for l in f]
  return sorted((p for p in pts if p == prefix or p.startswith(prefix + "/")),
                key=len, reverse=True)


def cgroup_dirs(names):
  out = []
  for ctrl in os.listdir("/sys/fs/cgroup"):
    for n in names:
      d = os.path.join("/sys/fs/cgroup", ctrl, n)
      if os.path.isdir(d) and not os.path.islink(os.path.join("/sys/fs/cgroup", ctrl)):
        out.append(d)
  return out


def container_ids(logdir):
  """Container ids named by `create` calls in the argv logs."""
  ids = set()
  if not os.path.isdir(logdir):
    return ids
  for f in os.listdir(logdir):
    for c in ArgvLog(os.path.join(logdir, f)).calls():
      if c.subcommand == "create" and c.args:
        ids.add(c.args[-1])
  return ids


def remove_container_cgroups(ids, before):
  """Remove the cgroups of our containers (podman: libpod_parent/libpod-<id>,
  containerd: clients/<id>, dockerd: docker/<id>) that a failed runtime left,
  killing what still runs in them; then the engines' parent cgroups if they
  did not exist before the session."""
  leaves = ["libpod_parent/libpod-" + i for i in ids]
  leaves += ["clients/" + i for i in ids] + ["docker/" + i for i in ids]
  leaves += ["libpod_parent/conmon"]
  for d in cgroup_dirs(leaves):
    parent = os.path.dirname(d)
    if parent in before and d.endswith("/conmon"):
      continue
    state = os.path.join(d, "freezer.state")
    if os.path.exists(state):
      try:
        with open(state, "w") as f:
          f.write("THAWED")
      except OSError:
        pass
    for _ in range(20):
      try:
        with open(os.path.join(d, "cgroup.procs")) as f:
          procs = [int(x) for x in f.read().split()]
      except OSError:
        procs = []
      for pid in procs:
        try:
          os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
          pass
      try:
        os.rmdir(d)
        break
      except OSError:
        time.sleep(0.1)
  for d in cgroup_dirs(ENGINE_CGROUP_PARENTS):
    if d not in before:
      try:
        os.rmdir(d)
      except OSError:
        pass


class HostPaths:
  """Remember which host paths existed before; remove the ones that appear."""

  def __init__(self, *paths):
    self.before = {p: os.path.lexists(p) for p in paths}

  def cleanup(self):
    # Deepest first so that a created parent is removed after its children.
    for p in sorted(self.before, key=len, reverse=True):
      if not self.before[p] and os.path.lexists(p):
        for m in mounts_under(p):
          subprocess.run(["umount", "-l", m], check=False)
        if os.path.isdir(p) and not os.path.islink(p):
          shutil.rmtree(p, ignore_errors=True)
        else:
          os.unlink(p)


# --------------------------------------------------------------------------
# session fixtures

@pytest.fixture(scope="session")
def runtime():
  path = runtime_bin()
  if not os.access(path, os.X_OK):
    pytest.fail(f"runtime under test `{path}` is not executable "
                f"(set MOAT_BIN)", pytrace=False)
  return path


@pytest.fixture(scope="session")
def work(runtime):
  # Short path: conmon, containerd and dockerd put unix sockets under it.
  w = tempfile.mkdtemp(prefix="mc-", dir="/tmp")
  os.makedirs(os.path.join(w, "logs"))
  cg_before = {d for d in cgroup_dirs(ENGINE_CGROUP_PARENTS)}
  yield w
  # A hung runtime leaves conmon, shims, wrappers and runtime processes
  # behind; all of them name the scratch directory on their command line.
  for _ in range(3):
    pids = [p for p in pids_with_arg(w) if p != os.getpid()]
    if not pids:
      break
    for pid in pids:
      try:
        os.kill(pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
    time.sleep(0.5)
  remove_container_cgroups(container_ids(os.path.join(w, "logs")), cg_before)
  keep_logs = os.environ.get("MOAT_CLIENTS_LOGDIR")
  if keep_logs:
    # For CI artifacts: the argv logs and the daemons' own logs.
    os.makedirs(keep_logs, exist_ok=True)
    for src in ("logs", "containerd/containerd.log", "docker/dockerd.log"):
      p = os.path.join(w, src)
      if os.path.isdir(p):
        shutil.copytree(p, keep_logs, dirs_exist_ok=True)
      elif os.path.exists(p):
        shutil.copy(p, os.path.join(keep_logs, "daemon-" + os.path.basename(p)))
  leftovers = mounts_under(w)
  for m in leftovers:
    subprocess.run(["umount", "-l", m], check=False)
  if os.environ.get("MOAT_CLIENTS_KEEP") != "1":
    shutil.rmtree(w, ignore_errors=True)
  else:
    print(f"\nkept scratch directory {w}")


@pytest.fixture(scope="session")
def rootfs_tar(work):
  """A busybox rootfs tar from Debian's busybox-static."""
  require(BUSYBOX)
  root = os.path.join(work, "rootfs")
  for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "run"):
    os.makedirs(os.path.join(root, d))
  shutil.copy2(BUSYBOX, os.path.join(root, "bin/busybox"))
  applets = sh(BUSYBOX, "--list").stdout.split()
  for a in applets:
    if a != "busybox":
      os.symlink("busybox", os.path.join(root, "bin", a))
  with open(os.path.join(root, "etc/passwd"), "w") as f:
    f.write("root:x:0:0:root:/root:/bin/sh\n")
  with open(os.path.join(root, "etc/group"), "w") as f:
    f.write("root:x:0:\n")
  tar = os.path.join(work, "bb-rootfs.tar")
  sh("tar", "-C", root, "--numeric-owner", "-cf", tar, ".")
  return tar


CONTAINERS_CONF = """\
[containers]
# The host's hard limits are below podman's root defaults and root lacks
# CAP_SYS_RESOURCE (see real-clients.md section 1).
default_ulimits = [ "nofile=1024:1024", "nproc=4096:4096" ]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "%(w)s/podman/tmp"
volume_path = "%(w)s/podman/volumes"
[network]
network_config_dir = "%(w)s/podman/net"
"""


@pytest.fixture(scope="session")
def podman(work, runtime, rootfs_tar):
  require("podman")
  require("conmon")
  pw = os.path.join(work, "podman")
  os.makedirs(os.path.join(pw, "net"))
  conf = os.path.join(work, "containers.conf")
  with open(conf, "w") as f:
    f.write(CONTAINERS_CONF % {"w": work})
  log = ArgvLog(os.path.join(work, "logs", "podman.log"))
  # Named `runc` so podman adds --log-format=json --log (runtime_supports_json);
  # the wrapper adds a private --root because podman passes none.
  wrapper = make_wrapper(os.path.join(work, "wrap/podman/runc"), log.path,
                         extra="--root " + shlex.quote(pw + "/runtime-root"))
  # containers/image keeps a root-only blob-info cache at a fixed path.
  host = HostPaths("/dev/shm/libpod_lock", "/var/lib/containers",
                   "/var/lib/containers/cache")
  base = ["podman", "--root", pw + "/root", "--runroot", pw + "/run",
          "--tmpdir", pw + "/tmp", "--volumepath", pw + "/volumes",
          "--network-config-dir", pw + "/net", "--storage-driver", "overlay",
          "--cgroup-manager", "cgroupfs", "--events-backend", "file",
          "--runtime", wrapper]
  client = Client("podman", base, log, env={"CONTAINERS_CONF": conf})
  try:
    client("import", "--change", "CMD=/bin/sh", rootfs_tar, IMAGE, timeout=120)
    yield client
  finally:
    ids = client("ps", "-aq", check=False).stdout.split()
    if ids:
      client("rm", "-f", "-t", "0", *ids, check=False, timeout=60)
    # overlay storage mounts its graph root on itself; unmount it before the
    # scratch directory is removed.
    for m in mounts_under(pw):
      subprocess.run(["umount", "-l", m], check=False)
    host.cleanup()


@pytest.fixture(scope="session")
def podman_service(work, podman):
  """podman's Docker-compatible API (`podman system service`) on a private
  socket, over the same storage as the podman fixture.  Its containers run
  under runc, not the runtime under test: the watch tests need containers
  that moat's own admission would refuse.  The Docker CLI drives it."""
  require("runc")
  sock = os.path.join(work, "podman.sock")
  logfile = os.path.join(work, "podman-service.log")
  base = [a for a in podman.base]
  base[base.index("--runtime") + 1] = shutil.which("runc")
  with open(logfile, "w") as lf:
    proc = subprocess.Popen(base + ["system", "service", "--time=0",
                                    "unix://" + sock],
                            stdout=lf, stderr=subprocess.STDOUT,
                            env=podman.env, start_new_session=True)
  client = Client("podman-service", ["docker", "-H", "unix://" + sock],
                  podman.log, env={"DOCKER_CONFIG": work + "/podman-cli"})
  client.sock = sock
  try:
    def up():
      if proc.poll() is not None:
        raise AssertionError("podman service exited:\n"
                             + open(logfile).read()[-3000:])
      return client("version", check=False, timeout=10).returncode == 0
    wait_until(up, 60, "podman system service on " + sock)
    yield client
  finally:
    if proc.poll() is None:
      ids = client("ps", "-aq", check=False).stdout.split()
      if ids:
        client("rm", "-f", *ids, check=False, timeout=60)
    stop_pid(proc, "podman system service")


@pytest.fixture(scope="session")
def docker_archive(work, podman):
  tar = os.path.join(work, "bb-docker.tar")
  podman("save", "--format", "docker-archive", "-o", tar, IMAGE, timeout=120)
  return tar


CONTAINERD_TOML = """\
version = 2
root = "%(w)s/containerd/root"
state = "%(w)s/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "%(w)s/containerd/containerd.sock"
[ttrpc]
  address = "%(w)s/containerd/containerd.sock.ttrpc"
[debug]
  address = "%(w)s/containerd/debug.sock"
  level = "debug"
[metrics]
  address = ""
"""


@dataclass
class Containerd:
  sock: str
  dir: str
  proc: object
  logfile: str
  extra: dict = field(default_factory=dict)


@pytest.fixture(scope="session")
def containerd(work):
  require("containerd")
  require("containerd-shim-runc-v2")
  cw = os.path.join(work, "containerd")
  os.makedirs(cw)
  conf = os.path.join(cw, "config.toml")
  with open(conf, "w") as f:
    f.write(CONTAINERD_TOML % {"w": work})
  # The shim hard-codes these (real-clients.md section 3).
  host = HostPaths("/run/containerd", "/run/containerd/s",
                   "/run/containerd/fifo", "/run/containerd/runc")
  sock = os.path.join(cw, "containerd.sock")
  logfile = os.path.join(cw, "containerd.log")
  with open(logfile, "w") as lf:
    proc = subprocess.Popen(["containerd", "--config", conf], stdout=lf,
                            stderr=subprocess.STDOUT, start_new_session=True)
  try:
    def up():
      if proc.poll() is not None:
        raise AssertionError("containerd exited:\n" + open(logfile).read()[-3000:])
      return os.path.exists(sock) and sh("ctr", "-a", sock, "version",
                                         check=False, timeout=10).returncode == 0
    wait_until(up, 30, "containerd to listen on " + sock)
    yield Containerd(sock=sock, dir=cw, proc=proc, logfile=logfile)
  finally:
    stop_pid(proc, "containerd")
    # Shims outlive containerd by design; stop the ones started for our socket.
    for pid in pids_with_arg(sock):
      try:
        os.kill(pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
    host.cleanup()


@pytest.fixture(scope="session")
def ctr(work, containerd, docker_archive):
  require("ctr")
  log = ArgvLog(os.path.join(work, "logs", "containerd.log"))
  wrapper = make_wrapper(os.path.join(work, "wrap/ctr/runc"), log.path)
  client = Client("ctr", ["ctr", "-a", containerd.sock, "-n", "clients"], log)
  client("image", "import", "--all-platforms", docker_archive, timeout=120)
  client.wrapper = wrapper
  client.runc_root = os.path.join(work, "containerd", "runc-root")
  yield client
  for t in client("task", "ls", "-q", check=False).stdout.split():
    client("task", "kill", "-s", "SIGKILL", t, check=False)
    client("task", "delete", "-f", t, check=False)
  for c in client("container", "ls", "-q", check=False).stdout.split():
    client("container", "delete", c, check=False)


BOUNDED_RUNC = r"""#!/usr/bin/python3
# runc, minus the capabilities root's bounding set lacks here (CAP_SYS_RESOURCE,
# real-clients.md): dockerd 20.10 grants a --privileged container every
# capability it knows, and runc then fails with "unable to apply caps".
import json, os, sys
args = sys.argv[1:]
if "create" in args and "--bundle" in args:
  cfg = os.path.join(args[args.index("--bundle") + 1], "config.json")
  with open("/proc/self/status") as f:
    bnd = int(next(l for l in f if l.startswith("CapBnd:")).split()[1], 16)
  with open(cfg) as f:
    spec = json.load(f)
  caps = spec.get("process", {}).get("capabilities", {})
  names = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
           "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
           "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
           "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
           "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
           "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
           "CAP_SYS_RESOURCE"]
  missing = {n for i, n in enumerate(names) if not bnd >> i & 1}
  for k in caps:
    caps[k] = [c for c in caps[k] if c not in missing]
  with open(cfg, "w") as f:
    json.dump(spec, f)
os.execv("/usr/sbin/runc", ["runc"] + args)
"""


def make_bounded_runc(d):
  os.makedirs(d, exist_ok=True)
  path = os.path.join(d, "runc-bounded")
  with open(path, "w") as f:
    f.write(BOUNDED_RUNC)
  os.chmod(path, 0o755)
  return path


@pytest.fixture(scope="session")
def docker(work, containerd, docker_archive):
  require("dockerd")
  require("docker")
  dw = os.path.join(work, "docker")
  os.makedirs(dw)
  log = ArgvLog(os.path.join(work, "logs", "docker.log"))
  wrapper = make_wrapper(os.path.join(work, "wrap/docker/runc"), log.path)
  sock = os.path.join(dw, "docker.sock")
  conf = {
      "data-root": dw + "/data", "exec-root": dw + "/exec",
      "pidfile": dw + "/dockerd.pid", "hosts": ["unix://" + sock],
      "containerd": containerd.sock, "iptables": False, "ip-masq": False,
      "bridge": "none", "storage-driver": "overlay2",
      "runtimes": {"moat": {"path": wrapper},
                   "runc-bounded": {"path": make_bounded_runc(dw + "/wrap")}},
  }
  with open(dw + "/daemon.json", "w") as f:
    json.dump(conf, f, indent=1)
  host = HostPaths("/run/docker", "/run/docker/plugins")
  logfile = dw + "/dockerd.log"
  client = Client("docker", ["docker", "-H", "unix://" + sock], log,
                  env={"DOCKER_CONFIG": dw + "/cli"})
  client.sock = sock
  daemon = {}

  def start():
    with open(logfile, "a") as lf:
      proc = subprocess.Popen(["dockerd", "--config-file", dw + "/daemon.json"],
                              stdout=lf, stderr=subprocess.STDOUT,
                              start_new_session=True)
    daemon["proc"] = proc

    def up():
      if proc.poll() is not None:
        raise AssertionError("dockerd exited:\n" + open(logfile).read()[-3000:])
      return client("version", check=False, timeout=10).returncode == 0
    wait_until(up, 60, "dockerd to listen on " + sock)

  def restart():
    """Stop dockerd (by its pid) and start it again on the same socket."""
    stop_pid(daemon["proc"], "dockerd")
    start()
  client.restart = restart
  try:
    start()
    client("load", "-i", docker_archive, timeout=120)
    yield client
  finally:
    proc = daemon.get("proc")
    if proc and proc.poll() is None:
      ids = client("ps", "-aq", check=False).stdout.split()
      if ids:
        client("rm", "-f", *ids, check=False)
    if proc:
      stop_pid(proc, "dockerd")
    # dockerd bind-mounts data-root onto itself and leaves it (section 5).
    for m in mounts_under(dw):
      subprocess.run(["umount", "-l", m], check=False)
    host.cleanup()
