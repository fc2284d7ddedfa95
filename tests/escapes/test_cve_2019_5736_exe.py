"""CVE-2019-5736: no container process may ever write the host runtime
binary.  Three protections, each tested from inside with the exploit itself
(the init exec'ing a "#!/proc/self/exe" script, a handle held until the
runtime exits, then a reopen for writing), and the host binary byte-identical
after every hostile run:

- A container whose init execs its entrypoint through the exec stub (a new
  pid namespace, no CAP_SYS_PTRACE, no hooks run by the init: moat's
  default) reaches no moat binary at all: the waiting init is non-dumpable,
  and what /proc/self/exe names at the final execve is the stub, a sealed
  memfd.
- Any other container without a user namespace (or whose user namespace
  could write the binary) only ever sees a sealed copy as the runtime's exe
  (the binary through a private read-only overlayfs, or a sealed memfd).
- A container in a user namespace that maps neither the binary's owner nor
  its group may see the host binary itself, which the kernel's DAC check
  then keeps it from opening for writing."""

import errno
import fcntl
import os
import shutil
import subprocess

import pytest

from moat_testlib import (DEFAULT_CAPS, IS_RUNC, MOAT_BIN, USERNS_HOST_ID, new_id,
                          parse_scan_lines, probe_json, read_text, sha256,
                          wait_for)

F_GET_SEALS = 1034
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 1, 2, 4, 8
HOST_BIN = os.path.realpath(MOAT_BIN)


def _sealed_kind(pid):
    """How the runtime process PID's exe is protected, seen by host root:
    "memfd" (a sealed memfd copy) or "overlay" (a read-only superblock: even
    host root's write open fails with EROFS).  Fails the test otherwise."""
    fd = os.open(f"/proc/{pid}/exe", os.O_RDONLY)
    try:
        try:
            seals = fcntl.fcntl(fd, F_GET_SEALS)
        except OSError:
            seals = None
        ro = os.fstatvfs(fd).f_flag & os.ST_RDONLY
    finally:
        os.close(fd)
    if seals is not None:
        want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
        assert seals & want == want, f"memfd seals {seals:#x}"
        return "memfd"
    assert ro, f"exe of {pid} is neither a sealed memfd nor read-only"
    try:
        os.close(os.open(f"/proc/{pid}/exe", os.O_WRONLY))
        raise AssertionError(f"exe of {pid} opened O_WRONLY from the host")
    except OSError as e:
        assert e.errno == errno.EROFS, e
    return "overlay"


@pytest.fixture
def ptrace_allowed(test_dir, monkeypatch):
    """The baseline policy refuses CAP_SYS_PTRACE; these tests need it."""
    pol = os.path.join(test_dir, "ptrace-policy.yaml")
    with open(pol, "w") as f:
        f.write("version: 1\nrules:\n  moat.caps.sys_ptrace: warn\n")
    monkeypatch.setenv("MOAT_POLICY", pol)


def test_waiting_init_exe_is_a_sealed_copy(moat, make_bundle, ptrace_allowed):
    """Without a user namespace container root may own the host binary, and
    with CAP_SYS_PTRACE a container process may pass the ptrace checks that
    guard a non-dumpable init: the waiting init must run from a sealed copy
    (a memfd, or the binary through a private read-only overlayfs)."""
    before = sha256(MOAT_BIN)
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"], userns=False,
                    caps=DEFAULT_CAPS + ["CAP_SYS_PTRACE"])
    cid = new_id()
    moat.create(b, cid).ok()
    pid = moat.state(cid)["pid"]
    target = os.readlink(f"/proc/{pid}/exe")
    assert os.path.realpath(target) != HOST_BIN and target != HOST_BIN, target
    if not IS_RUNC:
        _sealed_kind(pid)
    # Even host root cannot open it for writing (sealed / read-only / busy).
    try:
        fd = os.open(f"/proc/{pid}/exe", os.O_WRONLY)
        os.close(fd)
        raise AssertionError("the waiting init's exe opened O_WRONLY from the host")
    except OSError:
        pass
    # From inside the container (an exec'd probe, if exec before start is
    # supported) the init's exe is unreadable or the sealed copy, never
    # writable.
    r = moat("exec", cid, "/bin/moat-probe", "exe", "1")
    if r.rc == 0:
        res = probe_json(r.out)
        assert res["open_wronly"] != "ok", res
        assert res["target"] is None or res["target"].startswith("/memfd:") \
            or res["target"] == target, res
        assert res["target"] != HOST_BIN
    moat("start", cid).ok()
    assert sha256(MOAT_BIN) == before


def _stub_memfd(pid):
    """The sealed exec stub among the fds of the waiting init PID."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("/memfd:moat-exec"):
            return f"/proc/{pid}/fd/{fd}"
    raise AssertionError(f"no exec stub memfd among the fds of {pid}")


@pytest.mark.skipif(IS_RUNC, reason="the exec stub is moat's")
def test_waiting_init_with_exec_stub_is_out_of_reach(moat, make_bundle):
    """moat's default: no sealed copy of moat, the init is the host binary,
    but nothing in the container can open or trace it, and the stub it will
    exec through is sealed."""
    before = sha256(MOAT_BIN)
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"], userns=False)
    cid = new_id()
    moat.create(b, cid).ok()
    pid = moat.state(cid)["pid"]
    # Not vacuous: this is the path without the sealed re-exec.
    assert os.path.realpath(os.readlink(f"/proc/{pid}/exe")) == HOST_BIN
    r = moat("exec", cid, "/bin/moat-probe", "exe", "1")
    assert r.rc == 0, r
    res = probe_json(r.out)
    assert res["readlink_error"] == "EACCES", res
    assert res["open_wronly"] == "EACCES" and res["open_rdonly"] == "EACCES", res
    r = moat("exec", cid, "/bin/moat-probe", "syscall", "ptrace:1")
    assert r.rc == 0, r
    assert probe_json(r.out)["ptrace:1"] == "EPERM", r
    stub = _stub_memfd(pid)
    fd = os.open(stub, os.O_RDWR)
    try:
        want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
        assert fcntl.fcntl(fd, F_GET_SEALS) & want == want
        with pytest.raises(PermissionError):
            os.write(fd, b"\x7fELF")
    finally:
        os.close(fd)
    moat("start", cid).ok()
    # The program runs, and the stub did not follow it in.
    wait_for(lambda: os.readlink(f"/proc/{pid}/exe").endswith("/bin/moat-probe"),
             timeout=5, what="exec of the container program")
    assert not any(os.readlink(f"/proc/{pid}/fd/{f}").startswith("/memfd:")
                   for f in os.listdir(f"/proc/{pid}/fd")), "the stub's memfd leaked into the container"
    assert sha256(MOAT_BIN) == before


def _self_exe_entrypoint(make_bundle, **knobs):
    b = make_bundle(args=["/evil"], userns=False, **knobs)
    with open(os.path.join(b.rootfs, "evil"), "w") as f:
        f.write("#!/proc/self/exe --version\n")
    os.chmod(os.path.join(b.rootfs, "evil"), 0o755)
    return b


@pytest.mark.skipif(IS_RUNC, reason="the exec stub is moat's")
def test_self_exe_entrypoint_meets_the_exec_stub(moat, make_bundle):
    """An entrypoint interpreted by /proc/self/exe gets the stub, which runs
    nothing: the container exits 127 without any moat having run in it."""
    before = sha256(MOAT_BIN)
    r = moat.run(_self_exe_entrypoint(make_bundle), new_id())
    assert r.rc == 127, r
    assert "moat version" not in r.out + r.err, r
    assert sha256(MOAT_BIN) == before


@pytest.mark.skipif(IS_RUNC, reason="compares with moat's exec stub")
def test_self_exe_entrypoint_control_runs_a_sealed_moat(moat, make_bundle, ptrace_allowed):
    """Control for the test above: where moat re-execs sealed (the container
    may hold CAP_SYS_PTRACE), the same entrypoint runs the sealed moat, so
    the script does reach the runtime's exe."""
    # (An ASan build of moat runs in the container too: LeakSanitizer cannot
    # work there.)
    b = _self_exe_entrypoint(make_bundle, caps=DEFAULT_CAPS + ["CAP_SYS_PTRACE"],
                             env=["PATH=/bin", "ASAN_OPTIONS=detect_leaks=0"])
    _copy_libs(MOAT_BIN, b.rootfs)
    r = moat.run(b, new_id())
    assert r.rc == 0 and "moat version" in r.out, r


def test_hostile_init_during_execs(moat, make_bundle, hostile_scan_loop):
    """pid 1 scans /proc in a loop while the host runs execs into it: no
    process it can see has the host binary as exe or an exe it can open for
    writing."""
    before = sha256(MOAT_BIN)
    b = make_bundle(args=hostile_scan_loop, userns=True, seccomp=False)
    cid = new_id()
    r = moat.create(b, cid)
    assert r.rc == 0, r
    out = r.out_path
    moat("start", cid).ok()
    wait_for(lambda: "ready" in read_text(out), timeout=10, what="hostile init")
    for _ in range(6):
        moat("exec", cid, "/bin/moat-probe", "sleep", "0.3").ok()
    moat("kill", cid, "KILL").ok()
    moat.wait_status(cid, "stopped")
    scans = parse_scan_lines(read_text(out))
    assert len(scans) > 3, "the hostile loop did not run"
    # The scans overlapped the execs (the check below is not vacuous).
    assert any(p["exe"] == "/bin/moat-probe" for s in scans for p in s["procs"]), \
        "no exec'd process was ever seen by the hostile init"
    seen = 0
    for s in scans:
        for p in s["procs"]:
            seen += 1
            assert p["wronly"] != "ok", f"exe of pid {p['pid']} writable: {p}"
            assert p["exe"] != HOST_BIN, f"host runtime binary visible: {p}"
            assert p["exe"] is None or not p["exe"].startswith(os.path.dirname(HOST_BIN) + "/"), p
    assert seen
    assert sha256(MOAT_BIN) == before, "the host runtime binary changed"


def _copy_libs(binary, rootfs):
    """A dynamically linked runtime (an ASan build) needs its loader and
    libraries inside the rootfs to run there as the exploit makes it."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
        if path.startswith("/") and os.path.exists(path):
            dst = os.path.join(rootfs, path.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(path, dst)


def _exploit(moat, make_bundle, test_dir, *, userns, owner=0, mode=0o755,
             bindir="runtime", via_exec=False):
    """Run the CVE-2019-5736 exploit against a copy of the runtime binary
    owned by OWNER (host uid and gid) with MODE, in BINDIR: through the
    container's init, or (VIA_EXEC) through a `moat exec` into a running
    container.  Returns (probe result, the copy's path)."""
    binary = os.path.join(test_dir, bindir, "moat")
    os.makedirs(os.path.dirname(binary))
    shutil.copy2(MOAT_BIN, binary)
    os.chown(binary, owner, owner)
    os.chmod(binary, mode)
    moat.bin = binary
    before = sha256(binary)
    # No pid namespace: the runtime-as-container-process may exit without
    # taking the exec'd probe with it.  A user namespace cannot mount a procfs
    # of a pid namespace it does not own: the host's /proc is bound (beside
    # /proc, where moat only accepts a fresh procfs).
    b = make_bundle(args=["/bin/moat-probe", "sleep", "60"] if via_exec else ["/evil"], userns=userns, seccomp=False, readonly=False,
                    namespaces=["network", "ipc", "uts", "mount", "cgroup"]
                    + (["user"] if userns else []),
                    std_mounts=False, masked=[], readonly_paths=[],
                    mounts=[{"destination": "/hostproc", "type": "bind",
                             "source": "/proc", "options": ["rbind", "ro"]},
                            {"destination": "/dev", "type": "tmpfs",
                             "source": "tmpfs", "options": ["nosuid", "mode=755"]}])
    with open(os.path.join(b.rootfs, "evil"), "w") as f:
        # The init's execve runs this script's interpreter, the runtime's
        # /proc/self/exe, as the container process; --log makes it block
        # opening the FIFO for writing until the probe opens it.
        f.write("#!/hostproc/self/exe --log=/fifo\n")
    os.chmod(os.path.join(b.rootfs, "evil"), 0o755)
    os.mkfifo(os.path.join(b.rootfs, "fifo"))
    os.makedirs(os.path.join(b.rootfs, "hostproc"))
    os.chmod(os.path.join(b.rootfs, "fifo"), 0o666)
    _copy_libs(binary, b.rootfs)
    cid = new_id()
    moat.create(b, cid).ok()
    pid = moat.state(cid)["pid"]
    moat("start", cid).ok()
    if via_exec:
        # The exec'd process runs the exe of the `moat exec` that made it.
        pid_file = os.path.join(test_dir, "evil.pid")
        moat("exec", "--detach", "--pid-file", pid_file, cid, "/evil").ok()
        pid = int(read_text(pid_file))
    # Detached: a moat exec waiting for the probe would keep its own exe
    # text-busy (harmless when sealed, but it would hide an unsealed one).
    r = moat("exec", "--detach", cid, "/bin/moat-probe", "exe-reopen", "/hostproc",
             str(pid), "/fifo")
    assert r.rc == 0, r
    wait_for(lambda: '"write"' in read_text(r.out_path), timeout=15, what="the exploit probe")
    res = probe_json(read_text(r.out_path))
    if via_exec:
        moat("kill", cid, "KILL").ok()
    moat.wait_status(cid, "stopped")
    assert sha256(binary) == before, "the runtime binary changed"
    # Not vacuous: the container really held a handle to the runtime's exe.
    assert res["hold"] == "ok" and res["fifo"] == "ok", res
    assert res["write"] != "ok", f"the container wrote the runtime binary: {res}"
    return res, binary


def _met_sealed_copy(res, binary):
    """The exploit held the sealed copy: a memfd whose seals refuse the write,
    or the binary through a read-only overlayfs whose reopen is refused."""
    assert res["target"] != binary, res
    if not IS_RUNC:
        assert (res["target"].startswith("/memfd:") and res["write"] == "EPERM") \
            or res["reopen_wronly"] == "EROFS", res


@pytest.mark.parametrize("via_exec", [False, True], ids=["init", "exec"])
def test_exploit_without_userns_meets_a_sealed_copy(moat, make_bundle, test_dir, via_exec):
    res, binary = _exploit(moat, make_bundle, test_dir, userns=False, via_exec=via_exec)
    _met_sealed_copy(res, binary)


def test_exploit_meets_the_memfd_fallback(moat, make_bundle, test_dir):
    """moat does not build its overlay for a binary whose path reads as
    deleted (it could not tell the file from a replaced one): the sealed
    memfd copy it falls back to must hold as well."""
    res, binary = _exploit(moat, make_bundle, test_dir, userns=False,
                           bindir="runtime (deleted)")
    _met_sealed_copy(res, binary)
    if not IS_RUNC:
        assert res["target"].startswith("/memfd:"), res


@pytest.mark.parametrize("via_exec", [False, True], ids=["init", "exec"])
def test_exploit_in_unmapping_userns_is_refused_by_dac(moat, make_bundle, test_dir, via_exec):
    """The binary's owner and group (host root) are outside the container's
    mappings and it has no group/other write bit: moat skips the sealed
    re-exec (for create and for exec), and the exploit's reopen is refused
    with EACCES."""
    res, binary = _exploit(moat, make_bundle, test_dir, userns=True, via_exec=via_exec)
    if not IS_RUNC:
        assert res["target"] == binary, res
        assert res["reopen_wronly"] == "EACCES", res


@pytest.mark.parametrize("via_exec", [False, True], ids=["init", "exec"])
@pytest.mark.parametrize("owner,mode", [(USERNS_HOST_ID, 0o755), (0, 0o757),
                                        (0, 0o775)],
                         ids=["owner-mapped", "other-writable", "group-writable"])
def test_exploit_in_userns_that_could_write_meets_a_sealed_copy(
        moat, make_bundle, test_dir, owner, mode, via_exec):
    """A binary the container's ids could write (owned by a mapped id, or
    writable by group or other): moat must re-exec sealed."""
    res, binary = _exploit(moat, make_bundle, test_dir, userns=True,
                           owner=owner, mode=mode, via_exec=via_exec)
    _met_sealed_copy(res, binary)


def _ptrace_exec_before_start(moat, make_bundle, test_dir, caps):
    """Create a container (pid namespace, no user namespace) on a copy of the
    runtime binary, then, before start, exec a probe with CAP_SYS_PTRACE that
    holds the waiting init's exe and reopens it for writing once the init
    has exec'd.  Returns (the exec's result, the probe's result or None, the
    copy's path, the copy's digest before)."""
    binary = os.path.join(test_dir, "runtime", "moat")
    os.makedirs(os.path.dirname(binary))
    shutil.copy2(MOAT_BIN, binary)
    os.chmod(binary, 0o755)
    moat.bin = binary
    before = sha256(binary)
    # The entrypoint tells the probe (through the FIFO) that the init has
    # exec'd, which ends the text-busy mark of the runtime's exe.
    b = make_bundle(args=["/bin/sh", "-c", "echo x > /fifo; exec /bin/moat-probe sleep 30"],
                    userns=False, seccomp=False, caps=caps)
    os.mkfifo(os.path.join(b.rootfs, "fifo"))
    os.chmod(os.path.join(b.rootfs, "fifo"), 0o666)
    cid = new_id()
    moat.create(b, cid).ok()
    pid_file = os.path.join(test_dir, "probe.pid")
    r = moat("exec", "--detach", "--pid-file", pid_file, "--cap", "CAP_SYS_PTRACE", cid,
             "/bin/moat-probe", "exe-reopen", "/proc", "1", "/fifo")
    res = None
    if r.rc == 0:
        # The probe holds the init's exe (fd 3) before it waits on the FIFO.
        probe_pid = int(read_text(pid_file))
        wait_for(lambda: len(os.listdir(f"/proc/{probe_pid}/fd")) > 3, timeout=10,
                 what="the exploit probe's hold")
        moat("start", cid).ok()
        wait_for(lambda: '"write"' in read_text(r.out_path), timeout=15, what="the exploit's write")
        res = probe_json(read_text(r.out_path))
    moat("kill", cid, "KILL")
    moat("delete", "--force", cid).ok()
    return r, res, binary, before


@pytest.mark.skipif(IS_RUNC, reason="the exec stub is moat's")
def test_ptrace_exec_into_a_waiting_stub_init_is_refused(moat, make_bundle, test_dir):
    """The waiting init of a container that execs through the stub is the
    host binary, guarded by being non-dumpable, which CAP_SYS_PTRACE in the
    host's user namespace overrides: an exec that would hold it before the
    init has exec'd is refused (and nothing is left behind); after start the
    same exec runs."""
    r, res, binary, before = _ptrace_exec_before_start(moat, make_bundle, test_dir, DEFAULT_CAPS)
    assert sha256(binary) == before, f"the runtime binary changed: {res}"
    assert r.rc == 1 and res is None, (r, res)
    assert "CAP_SYS_PTRACE" in r.err and "CVE-2019-5736" in r.err, r
    assert len(r.err.strip().splitlines()) == 1, r
    # Started, the init is the container's program: the same exec is fine.
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"], userns=False)
    cid = new_id()
    moat.create(b, cid).ok()
    moat("start", cid).ok()
    r = moat("exec", "--cap", "CAP_SYS_PTRACE", cid, "/bin/moat-probe", "exe", "1")
    assert r.rc == 0 and probe_json(r.out)["target"] == "/bin/moat-probe", r


def test_ptrace_exec_into_a_waiting_sealed_init_meets_the_copy(
        moat, make_bundle, test_dir, ptrace_allowed):
    """Control: where the container may hold CAP_SYS_PTRACE the init runs
    from a sealed copy, so the exec is allowed and the exploit does hold the
    init's exe, which it cannot write."""
    r, res, binary, before = _ptrace_exec_before_start(
        moat, make_bundle, test_dir, DEFAULT_CAPS + ["CAP_SYS_PTRACE"])
    assert r.rc == 0, r
    assert sha256(binary) == before, f"the runtime binary changed: {res}"
    assert res["hold"] == "ok" and res["fifo"] == "ok", res
    assert res["write"] != "ok", res
    _met_sealed_copy(res, binary)
