"""Shared helpers for moat's black-box suites (tests/integration, tests/escapes);
the pytest fixtures built on them are in tests/conftest.py.

Everything here drives the runtime binary exactly as a container engine would:
through its runc-compatible CLI, with a fresh --root per test, on a busybox
bundle that also holds the static `moat-probe`.  The teardown of the `moat`
fixture force-deletes every container the test created and then asserts that
nothing is left behind: no state dir, no cgroup, no mount, no process.
"""

import copy
import glob
import itertools
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOAT_BIN = os.environ.get("MOAT_BIN", "/work/main/build/moat")
IS_RUNC = os.path.basename(MOAT_BIN) in ("runc", "crun")
PROBE_SRC = os.path.join(REPO, "tests", "probe", "probe.c")
BUSYBOX = "/bin/busybox"

# The uid/gid range the userns knob maps container root to.
USERNS_HOST_ID = 100000
USERNS_SIZE = 65536

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
CAP_BITS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6,
    "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}


def cap_mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP_BITS[n]
    return m


# Docker's masked and read-only paths (security-anchors.md 3.4).
DOCKER_MASKED = [
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
    "/proc/keys", "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
    "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap",
    "/sys/firmware",
] + sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle"))
DOCKER_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                   "/proc/sysrq-trigger"]

# Docker's unconditional allowlist (moby/profiles default.json rule 0),
# restricted to the names libseccomp 2.5 resolves on x86_64, plus the x86_64
# extras.  Everything absent is EPERM: mount, unshare, setns, keyctl, bpf,
# ptrace, io_uring_*, kexec_*, *_module, reboot, swapon, pivot_root ...
SECCOMP_ALLOW = """
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown
clock_adjtime clock_getres clock_gettime clock_nanosleep close close_range
connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2
fadvise64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchownat
fcntl fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
fstatfs fsync ftruncate futex futex_waitv futimesat getcpu getcwd getdents
getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid
getpgrp getpid getppid getpriority getrandom getresgid getresuid getrlimit
get_robust_list getrusage getsid getsockname getsockopt get_thread_area
gettid gettimeofday getuid getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents ioprio_get ioprio_set io_setup io_submit kill
landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek
lsetxattr lstat madvise membarrier memfd_create memfd_secret mincore mkdir
mkdirat mknod mknodat mlock mlock2 mlockall mmap mprotect mq_getsetattr
mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap msgctl
msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at
nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal
pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll prctl pread64
preadv preadv2 prlimit64 process_mrelease pselect6 pwrite64 pwritev
pwritev2 read readahead readlink readlinkat readv recvfrom recvmmsg recvmsg
remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir
rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr
sched_setparam sched_setscheduler sched_yield seccomp select semctl semget
semop semtimedop sendfile sendmmsg sendmsg sendto setfsgid setfsuid setgid
setgroups setitimer setpgid setpriority setregid setresgid setresuid
setreuid setrlimit set_robust_list setsid setsockopt set_thread_area
set_tid_address setuid setxattr shmat shmctl shmdt shmget shutdown
sigaltstack signalfd signalfd4 socketpair splice stat statfs statx symlink
symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create
timerfd_gettime timerfd_settime times tkill truncate umask uname unlink
unlinkat utime utimensat utimes vfork vmsplice wait4 waitid write writev
arch_prctl modify_ldt
""".split()

# Probe names (see probe.c try_syscall) the seccomp profile above denies.
DENIED_SYSCALLS = [
    "unshare", "mount", "keyctl", "add_key", "bpf", "perf_event_open",
    "userfaultfd", "io_uring_setup", "kexec_load", "init_module", "reboot",
    "swapon", "umount2", "setns", "pivot_root", "open_by_handle_at", "ptrace",
    "personality", "socket-alg", "socket-vsock",
]


def seccomp_profile():
    """A Docker-shaped profile: EPERM by default, an allowlist, and Docker's
    argument-filtered rules (clone namespace mask, clone3 ENOSYS, personality
    allowlist, AF_ALG/AF_VSOCK blocked)."""
    syscalls = [{"names": list(SECCOMP_ALLOW), "action": "SCMP_ACT_ALLOW"}]
    syscalls.append({
        "names": ["clone"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                  "op": "SCMP_CMP_MASKED_EQ"}]})
    syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO",
                     "errnoRet": 38})
    for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF):
        syscalls.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]})
    for op, v in (("SCMP_CMP_LT", 38), ("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40)):
        syscalls.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": v, "op": op}]})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": syscalls,
    }


def caps_block(names, ambient=False):
    names = list(names)
    block = {"bounding": names, "effective": names, "permitted": names}
    if ambient:
        block["ambient"] = names
    return block


def make_config(args=("/bin/moat-probe", "status"), *, userns=False,
                seccomp=True, terminal=False, env=None, cwd="/",
                hostname="moat-test", mounts=(), resources=None,
                caps=DEFAULT_CAPS, uid=0, gid=0, additional_gids=None,
                readonly=True, no_new_privileges=True, masked=None,
                readonly_paths=None, namespaces=None, hooks=None,
                sysctl=None, cgroups_path=None, annotations=None,
                rlimits=None, std_mounts=True):
    """A runtime-spec 1.2.0 config.json shaped like `runc spec`'s, with
    knobs.  Returns a plain dict the test may edit further."""
    if namespaces is None:
        namespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup"]
        if userns:
            namespaces = namespaces + ["user"]
    process = {
        "terminal": terminal,
        "user": {"uid": uid, "gid": gid},
        "args": list(args),
        "env": list(env) if env is not None else [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm"],
        "cwd": cwd,
        "capabilities": caps_block(caps),
        "rlimits": rlimits if rlimits is not None else [
            {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": no_new_privileges,
    }
    if additional_gids is not None:
        process["user"]["additionalGids"] = list(additional_gids)
    std = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                     "mode=0620"] + ([] if userns else ["gid=5"])},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777",
                     "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    linux = {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in namespaces],
        "maskedPaths": list(DOCKER_MASKED if masked is None else masked),
        "readonlyPaths": list(DOCKER_READONLY if readonly_paths is None
                              else readonly_paths),
    }
    if userns:
        linux["uidMappings"] = [{"containerID": 0, "hostID": USERNS_HOST_ID,
                                 "size": USERNS_SIZE}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": USERNS_HOST_ID,
                                 "size": USERNS_SIZE}]
    if seccomp:
        linux["seccomp"] = seccomp_profile()
    if resources:
        linux["resources"].update(copy.deepcopy(resources))
    if sysctl is not None:
        linux["sysctl"] = dict(sysctl)
    if cgroups_path is not None:
        linux["cgroupsPath"] = cgroups_path
    cfg = {
        "ociVersion": "1.2.0",
        "process": process,
        "root": {"path": "rootfs", "readonly": readonly},
        "hostname": hostname,
        "mounts": (std if std_mounts else []) + [dict(m) for m in mounts],
        "linux": linux,
    }
    if hooks is not None:
        cfg["hooks"] = hooks
    if annotations is not None:
        cfg["annotations"] = dict(annotations)
    return cfg


# --------------------------------------------------------------------------
# Session-wide artefacts: a world-traversable base dir (so a userns-mapped
# container root can reach its rootfs), the static probe, a rootfs template.
# (The fixtures themselves are in conftest.py.)


def _ensure_busybox():
    if os.access(BUSYBOX, os.X_OK):
        return
    r = subprocess.run(["apt-get", "install", "-y", "busybox-static"],
                       capture_output=True, text=True, timeout=300)
    if not os.access(BUSYBOX, os.X_OK):
        pytest.fail("cannot make a busybox rootfs: /bin/busybox missing and "
                    f"apt-get install busybox-static failed:\n{r.stdout}\n{r.stderr}")
    r = subprocess.run(["file", BUSYBOX], capture_output=True, text=True)
    if "dynamically linked" in r.stdout:
        pytest.fail(f"{BUSYBOX} is not static (install busybox-static)")


APPLETS = ("sh ash cat ls echo id sleep true false env ps mount umount grep "
           "head tail wc mkdir rm touch ln readlink stat hostname kill chmod "
           "whoami printf test [ dd sed awk date uname tr cut sync").split()


def build_rootfs(root, probe_bin):
    """A busybox rootfs with the probe as /bin/moat-probe, passwd and group
    with root and user 1000."""
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "run", "root",
              "home/user"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", a))
    os.symlink("../bin/busybox", os.path.join(root, "sbin", "init"))
    shutil.copy2(probe_bin, os.path.join(root, "bin", "moat-probe"))
    os.chmod(os.path.join(root, "bin", "moat-probe"), 0o755)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "user:x:1000:1000:user:/home/user:/bin/sh\n"
                "nobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")
    with open(os.path.join(root, "etc", "hostname"), "w") as f:
        f.write("template\n")
    return root


class Bundle:
    def __init__(self, path, config):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.config = config

    def write(self, config=None, raw=None):
        if config is not None:
            self.config = config
        with open(os.path.join(self.path, "config.json"), "w") as f:
            if raw is not None:
                f.write(raw)
            else:
                json.dump(self.config, f, indent=1)
        return self

    def rpath(self, p):
        return os.path.join(self.rootfs, p.lstrip("/"))


# --------------------------------------------------------------------------
# The runtime driver.

class Result:
    def __init__(self, argv, rc, out, err, out_path=None):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
        self.out_path = out_path

    @property
    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(f"{self} did not print JSON: {e}") from None

    @property
    def err_lines(self):
        return [line for line in self.err.splitlines() if line.strip()]

    def __repr__(self):
        return (f"<{' '.join(self.argv)} rc={self.rc} out={self.out[-2000:]!r} "
                f"err={self.err[-2000:]!r}>")

    def ok(self):
        assert self.rc == 0, f"expected success: {self}"
        return self


def plausible_id(cid):
    """Ids the tests create on purpose (new_id); deliberately invalid ids
    ("../x", "") are checked by their own tests, not scanned for."""
    import re
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.+-]{2,200}", cid or ""))


def new_id(prefix="t"):
    return f"{prefix}-{secrets.token_hex(5)}"


class Moat:
    """Runs the binary under test with --root <fresh dir>.  stdout/stderr go
    to files (not pipes): a detached container inherits them, and a pipe would
    block the call until the container exits."""

    def __init__(self, test_dir):
        self.bin = MOAT_BIN
        self.dir = test_dir
        self.root = os.path.join(test_dir, "state-root")
        os.makedirs(self.root)
        os.makedirs(os.path.join(test_dir, "io"))
        self.ids = []
        self.bundles = []
        self.procs = []
        self._n = itertools.count(1)

    def argv(self, args, global_opts=()):
        return [self.bin, "--root", self.root, *global_opts, *[str(a) for a in args]]

    def _track(self, args):
        args = [str(a) for a in args]
        if args and args[0] in ("create", "run"):
            # The id is the last positional argument.
            if args[-1] not in self.ids:
                self.ids.append(args[-1])
            for i, a in enumerate(args):
                if a in ("--bundle", "-b") and i + 1 < len(args):
                    self.bundles.append(os.path.abspath(args[i + 1]))

    def _files(self):
        n = next(self._n)
        io = os.path.join(self.dir, "io")
        os.makedirs(io, exist_ok=True)
        return (os.path.join(io, f"out.{n}"), os.path.join(io, f"err.{n}"))

    def __call__(self, *args, timeout=20, global_opts=(), stdin=None, pass_fds=(),
                 preexec_fn=None):
        self._track(args)
        argv = self.argv(args, global_opts)
        out_p, err_p = self._files()
        with open(out_p, "w+b") as o, open(err_p, "w+b") as e:
            try:
                p = subprocess.run(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                   stdout=o, stderr=e, timeout=timeout,
                                   pass_fds=pass_fds, preexec_fn=preexec_fn)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{' '.join(argv)} timed out after {timeout}s") from None
            rc = p.returncode
        return Result(argv, rc, read_text(out_p), read_text(err_p), out_p)

    def spawn(self, *args, global_opts=(), pass_fds=()):
        """Start the binary without waiting: returns (Popen, out_path, err_path)."""
        self._track(args)
        argv = self.argv(args, global_opts)
        out_p, err_p = self._files()
        with open(out_p, "wb") as o, open(err_p, "wb") as e:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o,
                                 stderr=e, pass_fds=pass_fds)
        self.procs.append(p)
        return p, out_p, err_p

    # Convenience wrappers -------------------------------------------------
    def create(self, bundle, cid, *extra, **kw):
        b = bundle.path if isinstance(bundle, Bundle) else bundle
        return self("create", "--bundle", b, *extra, cid, **kw)

    def run(self, bundle, cid, *extra, **kw):
        b = bundle.path if isinstance(bundle, Bundle) else bundle
        return self("run", "--bundle", b, *extra, cid, **kw)

    def state(self, cid):
        r = self("state", cid)
        assert r.rc == 0, f"state failed: {r}"
        return r.json

    def status(self, cid):
        return self.state(cid)["status"]

    def wait_status(self, cid, want, timeout=10):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.state(cid)
            if st["status"] == want:
                return st
            time.sleep(0.05)
        raise AssertionError(f"{cid}: status {st and st['status']!r}, wanted {want!r}")

    def start_probe(self, bundle, cid, *extra):
        """create + start; returns the init's host pid."""
        self.create(bundle, cid, *extra).ok()
        pid = self.state(cid)["pid"]
        self("start", cid).ok()
        return pid


def read_text(p):
    with open(p, "rb") as f:
        return f.read().decode("utf-8", "replace")


def wait_for(pred, timeout=10, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# Leftover detection, used by the teardown and by tests after a failed create.

def cgroup_dirs_named(cid):
    found = []
    for top in glob.glob("/sys/fs/cgroup/*/"):
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                if cid in d:
                    found.append(os.path.join(dirpath, d))
    return found


def procs_in_cgroup_named(cid):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cgroup") as f:
                if cid not in f.read():
                    continue
            # A zombie is dead; when it is reaped depends on the host's
            # init (orphans reparent to it), not on the runtime.
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    continue
            found.append(int(p))
        except OSError:
            pass
    return found


def mounts_mentioning(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if path in line:
                out.append(line.strip())
    return out


def leftovers(root, cid, bundle_paths=()):
    """Everything a container `cid` could leave behind on the host."""
    left = []
    sd = os.path.join(root, cid) if cid and "/" not in cid and cid not in (".", "..") else None
    if sd and os.path.lexists(sd):
        left.append(f"state dir {sd}")
    if os.path.isdir(root):
        for e in os.listdir(root):
            if e == ".engine":
                # Records of `run -d` containers: the dir itself may stay.
                left += [f"engine record {x}" for x in os.listdir(os.path.join(root, e))]
            elif os.path.isdir(os.path.join(root, e)) and not os.path.islink(os.path.join(root, e)):
                left.append(f"state dir {os.path.join(root, e)}")
    if cid:
        left += [f"cgroup {d}" for d in cgroup_dirs_named(cid)]
        left += [f"process {p}" for p in procs_in_cgroup_named(cid)]
    for b in bundle_paths:
        left += [f"mount {m}" for m in mounts_mentioning(b)]
    return sorted(set(left))


def state_root_left(root):
    """Entries of a state root that belong to some container: everything
    but the events log, which stays by design."""
    if not os.path.isdir(root):
        return []
    return sorted(e for e in os.listdir(root) if not e.startswith(".events.jsonl"))


def assert_nothing_left(moat, cid, bundle_paths=None, timeout=3):
    """Poll briefly (processes take a moment to be reaped, cgroups to be
    removable), then assert nothing of `cid` remains."""
    bps = bundle_paths if bundle_paths is not None else moat.bundles
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(moat.root, cid, bps)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"left behind by {cid!r}: {left}"


def _scrub(moat, cid):
    """Best-effort host cleanup after a leak so one bad test does not poison
    the next ones."""
    # A frozen (v1 freezer) task cannot act on SIGKILL until thawed.
    for d in cgroup_dirs_named(cid) if cid else []:
        fs = os.path.join(d, "freezer.state")
        if os.path.exists(fs):
            try:
                with open(fs, "w") as f:
                    f.write("THAWED")
            except OSError:
                pass
    for pid in procs_in_cgroup_named(cid) if cid else []:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.2)
    for b in moat.bundles:
        for line in sorted(mounts_mentioning(b), key=lambda l: -len(l.split()[4])):
            subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)
    if cid:
        for d in sorted(cgroup_dirs_named(cid), key=len, reverse=True):
            for sub, _, _ in sorted(os.walk(d), key=lambda x: -len(x[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


# --------------------------------------------------------------------------
# Small helpers shared by tests.

def run_probe(moat, bundle, *probe_args, cid=None, timeout=30, **cfg_knobs):
    """Rewrite the bundle's config with the probe args (plus knobs), run it in
    the foreground and return the probe's JSON."""
    if cfg_knobs or probe_args:
        cfg = make_config(args=("/bin/moat-probe",) + tuple(probe_args), **cfg_knobs)
        bundle.write(cfg)
    cid = cid or new_id()
    r = moat.run(bundle, cid, timeout=timeout)
    assert r.rc == 0, f"probe run failed: {r}"
    lines = [line for line in r.out.splitlines() if line.startswith("{")]
    assert lines, f"probe printed no JSON: {r}"
    return json.loads(lines[-1])


def probe_json(text):
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"no probe JSON in {text!r}"
    return json.loads(lines[-1])


def assert_error_line(r, *needles):
    """A failed command: non-zero exit and exactly one line on stderr,
    `moat: <what>: <why>`, mentioning each needle."""
    assert r.rc != 0, f"expected failure: {r}"
    lines = r.err_lines
    assert len(lines) == 1, f"expected exactly one stderr line: {r}"
    line = lines[0]
    if not IS_RUNC:
        assert r.rc == 1 or r.rc == 2, f"errors exit 1 (usage 2): {r}"
        assert line.startswith("moat: ") and line.count(": ") >= 2, \
            f"error line not `moat: <what>: <why>`: {line!r}"
    for n in needles:
        assert n.lower() in line.lower(), f"error line does not name {n!r}: {line!r}"


def host_stat_mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_canary_dir(test_dir, name="canary"):
    d = os.path.join(test_dir, name)
    os.makedirs(d)
    os.chmod(d, 0o777)
    return d


def snapshot_tree(path):
    """Names, types, sizes and mtimes under path (a host canary)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            snap[os.path.relpath(p, path)] = (stat.S_IFMT(st.st_mode), st.st_size,
                                              st.st_mtime_ns)
    st = os.lstat(path)
    snap["."] = (stat.S_IFMT(st.st_mode), st.st_mtime_ns)
    return snap


def probe_script_text(commands):
    """One sh -c script running /bin/moat-probe once per command, in order."""
    import shlex
    return "; ".join("/bin/moat-probe " + " ".join(shlex.quote(str(a)) for a in c)
                     for c in commands)


def probe_script(moat, bundle, commands, cid=None, timeout=30, expect_rc=0, **knobs):
    """Run several probe invocations in one container (through busybox sh)
    and return their JSON results in order."""
    script = probe_script_text(commands)
    bundle.write(make_config(args=["/bin/sh", "-c", script], **knobs))
    cid = cid or new_id()
    r = moat.run(bundle, cid, timeout=timeout)
    assert r.rc == expect_rc, f"probe script failed: {r}"
    results = [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]
    assert len(results) == len(commands), f"expected {len(commands)} results: {r}"
    return results


class ConsoleSocket:
    """The receiving end of --console-socket: accepts one connection, takes
    the pty master from SCM_RIGHTS and collects everything read from it."""

    def __init__(self, path):
        import socket
        import threading
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.master = None
        self.data = b""
        self.error = None
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self):
        import socket
        try:
            conn, _ = self.sock.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
            if not fds:
                self.error = "no fd received on the console socket"
                return
            self.master = fds[0]
            for extra in fds[1:]:
                os.close(extra)
            while True:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.data += chunk
        except Exception as e:  # reported by wait()
            self.error = repr(e)

    def wait(self, timeout=15):
        self._t.join(timeout)
        return self.data.decode("utf-8", "replace")

    def close(self):
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
        self.sock.close()


def as_host_user(uid, fn):
    """Run fn() in a forked child with all uids/gids set to `uid` and no
    capabilities (an unprivileged host user with the same uid as a userns
    container's root); returns fn's JSON-serialisable result."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            res = fn()
            os.write(wfd, json.dumps({"ok": res}).encode())
        except BaseException as e:  # reported to the parent
            os.write(wfd, json.dumps({"exc": repr(e)}).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    data = b""
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(rfd)
    os.waitpid(pid, 0)
    out = json.loads(data)
    if "exc" in out:
        raise AssertionError(f"host helper failed: {out['exc']}")
    return out["ok"]


def errno_of(fn):
    """'ok' or the errno name fn() raised."""
    import errno as _errno
    try:
        fn()
        return "ok"
    except OSError as e:
        return _errno.errorcode.get(e.errno, str(e.errno))


def std_mounts_without_dev(cfg):
    """Drop the /dev tmpfs (and everything mounted under /dev) so the
    rootfs's own /dev is used."""
    cfg["mounts"] = [m for m in cfg["mounts"]
                     if m["destination"] != "/dev" and not m["destination"].startswith("/dev/")]
    return cfg


def parse_scan_lines(text):
    """All `moat-probe scan` results printed by a hostile init loop."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('{"self"'):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # the last line may be cut by the kill
    return out
