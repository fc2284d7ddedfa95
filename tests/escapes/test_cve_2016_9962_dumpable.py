"""CVE-2016-9962: the runtime's init is non-dumpable until it execs the
container program, so neither a host user with the container root's uid nor
a process inside the container can ptrace it or read its fds."""

import ctypes
import os

from moat_testlib import (USERNS_HOST_ID, as_host_user, errno_of, new_id,
                          parse_scan_lines, probe_json, read_text, wait_for)

PTRACE_ATTACH, PTRACE_DETACH = 16, 17


def _attack(pid):
    def run():
        libc = ctypes.CDLL(None, use_errno=True)
        res = {"fd_list": errno_of(lambda: os.listdir(f"/proc/{pid}/fd")),
               "exe": errno_of(lambda: os.readlink(f"/proc/{pid}/exe")),
               "environ": errno_of(lambda: open(f"/proc/{pid}/environ", "rb").read())}
        rc = libc.ptrace(PTRACE_ATTACH, pid, None, None)
        if rc == 0:
            os.waitpid(pid, 0x40000000)  # __WALL
            libc.ptrace(PTRACE_DETACH, pid, None, None)
            res["ptrace"] = "ok"
        else:
            import errno
            res["ptrace"] = errno.errorcode[ctypes.get_errno()]
        return res
    return as_host_user(USERNS_HOST_ID, run)


def test_waiting_init_not_dumpable(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"], userns=True)
    cid = new_id()
    moat.create(b, cid).ok()
    pid = moat.state(cid)["pid"]
    with open(f"/proc/{pid}/status") as f:
        uid_line = [line for line in f if line.startswith("Uid:")][0].split()
    res = _attack(pid)
    assert res["fd_list"] != "ok", f"fds of the waiting init readable: {res}"
    assert res["environ"] != "ok", res
    assert res["ptrace"] != "ok", f"waiting init ptrace-able by uid {USERNS_HOST_ID}: {res}"
    # From inside (exec before start, where supported): same answer.
    r = moat("exec", cid, "/bin/moat-probe", "read", "/proc/1/environ")
    if r.rc == 0:
        assert probe_json(r.out)["error"] is not None, r
    r = moat("exec", cid, "/bin/moat-probe", "syscall", "ptrace:1")
    if r.rc == 0:
        assert probe_json(r.out)["ptrace:1"] != "ok", r

    # Control: once the container program runs (dumpable, uid 100000 on the
    # host) the very same attacker can read its fds, so the checks above can
    # fail.
    moat("start", cid).ok()
    wait_for(lambda: "moat-probe" in os.readlink(f"/proc/{pid}/exe"), timeout=5,
             what="exec of the container program")
    assert uid_line[1] in (str(USERNS_HOST_ID), "0")
    assert _attack(pid)["fd_list"] == "ok"


def test_exec_helper_not_readable_from_container(moat, make_bundle, hostile_scan_loop):
    """While execs enter the container, pid 1 keeps trying to read the fds of
    every process it sees: only container programs may be readable."""
    b = make_bundle(args=hostile_scan_loop, userns=True, seccomp=False)
    cid = new_id()
    r = moat.create(b, cid)
    assert r.rc == 0, r
    moat("start", cid).ok()
    wait_for(lambda: "ready" in read_text(r.out_path), timeout=10, what="hostile init")
    for _ in range(6):
        moat("exec", cid, "/bin/moat-probe", "sleep", "0.3").ok()
    moat("kill", cid, "KILL").ok()
    moat.wait_status(cid, "stopped")
    scans = parse_scan_lines(read_text(r.out_path))
    assert len(scans) > 3
    # The scans overlapped the execs (the check below is not vacuous).
    assert any(p["exe"] == "/bin/moat-probe" for s in scans for p in s["procs"]), \
        "no exec'd process was ever seen by the hostile init"
    container_exes = ("/bin/busybox", "/bin/moat-probe")
    raced = 0
    for s in scans:
        for p in s["procs"]:
            if p["fd_list"] != "ok":
                continue
            # A process gone by the second read was listed as what the first
            # read saw (or as whatever that execs, from the container).
            gone = p["exe_after_err"] in ("ENOENT", "ESRCH")
            if p["exe"] != p["exe_after"] and not gone:
                # It exec'd between the scan's two exe reads, so the fd list
                # was taken at an unknown side of that execve: it must end as
                # a container program, and what was listed must be nothing
                # but the exec's stdio (the runtime's own fds are sockets,
                # memfds and the state dir).
                raced += 1
                assert p["exe_after"] in container_exes, \
                    f"fds of a non-container process readable from pid 1: {p}"
                for t in p.get("fds", []):
                    assert not t.startswith(("socket:", "anon_inode:", "pipe:", "/memfd:")), \
                        f"a runtime fd readable through /proc/{p['pid']}/fd: {p}"
            else:
                assert p["exe"] in container_exes, \
                    f"fds of a non-container process readable from pid 1: {p}"
            for t in p.get("fds", []):
                # stdio is the test's own output file; anything under
                # the state root or the bundle is a runtime leak.
                assert not t.startswith((moat.root, b.path)), \
                    f"host path visible through /proc/{p['pid']}/fd: {t}"
    print(f"{raced} fd lists taken across an execve")
