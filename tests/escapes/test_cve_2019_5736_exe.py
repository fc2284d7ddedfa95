"""CVE-2019-5736: the container must never reach the host runtime binary
through /proc/<pid>/exe: the waiting init (and every runtime helper visible
in the container) is a sealed memfd copy, its exe cannot be opened for
writing, and the host binary is byte-identical after a hostile run."""

import fcntl
import os

from moat_testlib import (IS_RUNC, MOAT_BIN, new_id, parse_scan_lines,
                          probe_json, read_text, sha256, wait_for)

F_GET_SEALS = 1034
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 1, 2, 4, 8
HOST_BIN = os.path.realpath(MOAT_BIN)


def test_waiting_init_exe_is_sealed_memfd(moat, make_bundle):
    before = sha256(MOAT_BIN)
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"], userns=True)
    cid = new_id()
    moat.create(b, cid).ok()
    pid = moat.state(cid)["pid"]
    target = os.readlink(f"/proc/{pid}/exe")
    assert os.path.realpath(target) != HOST_BIN and target != HOST_BIN, target
    if not IS_RUNC:
        assert target.startswith("/memfd:"), f"init exe is {target!r}, not a memfd"
    if target.startswith("/memfd:"):
        fd = os.open(f"/proc/{pid}/exe", os.O_RDONLY)
        try:
            seals = fcntl.fcntl(fd, F_GET_SEALS)
        finally:
            os.close(fd)
        want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
        assert seals & want == want, f"memfd seals {seals:#x}"
    # Even host root cannot open it for writing (sealed / text busy).
    try:
        fd = os.open(f"/proc/{pid}/exe", os.O_WRONLY)
        os.close(fd)
        raise AssertionError("the waiting init's exe opened O_WRONLY from the host")
    except OSError:
        pass
    # From inside the container (an exec'd probe, if exec before start is
    # supported) the init's exe is unreadable or a memfd, never writable.
    r = moat("exec", cid, "/bin/moat-probe", "exe", "1")
    if r.rc == 0:
        res = probe_json(r.out)
        assert res["open_wronly"] != "ok", res
        assert res["target"] is None or res["target"].startswith("/memfd:") \
            or res["target"] == target, res
        assert res["target"] != HOST_BIN
    moat("start", cid).ok()
    assert sha256(MOAT_BIN) == before


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
