"""exec: the new process joins the container's namespaces, cgroup and
security settings, and gets exactly the identity it asked for."""

import json
import os

import pytest

from moat_testlib import (DEFAULT_CAPS, DENIED_SYSCALLS, cap_mask, make_config,
                          new_id, probe_json, read_text, wait_for)


@pytest.fixture
def running(moat, make_bundle):
    """A running userns container whose init sleeps; returns (cid, pid, bundle)."""
    def start(**knobs):
        knobs.setdefault("userns", True)
        b = make_bundle(args=["/bin/moat-probe", "sleep", "60"], **knobs)
        cid = new_id()
        pid = moat.start_probe(b, cid)
        return cid, pid, b
    return start


def exec_probe(moat, cid, *args, opts=()):
    r = moat("exec", *opts, cid, "/bin/moat-probe", *args)
    assert r.rc == 0, f"exec failed: {r}"
    return probe_json(r.out)


def ns_links(pid):
    return {ns: os.readlink(f"/proc/{pid}/ns/{ns}")
            for ns in ("mnt", "pid", "net", "ipc", "uts", "user", "cgroup")}


def test_exec_joins_namespaces(moat, running):
    cid, pid, _ = running()
    st = exec_probe(moat, cid, "status")
    with open(f"/proc/{pid}/uid_map") as f:
        assert st["uid_map"] == f.read()
    assert st["hostname"] == "moat-test"
    assert st["pid"] != 1 and st["pid"] > 1
    assert st["uid"] == 0


def test_exec_same_ns_inodes(moat, running):
    cid, pid, _ = running()
    # A detached exec'd sleeper, so its namespaces can be read from the host.
    pidfile = os.path.join(moat.dir, "exec.pid")
    r = moat("exec", "--detach", "--pid-file", pidfile, cid, "/bin/moat-probe", "sleep", "30")
    assert r.rc == 0, r
    epid = int(read_text(pidfile).strip())
    assert ns_links(epid) == ns_links(pid)
    with open(f"/proc/{epid}/cgroup") as f, open(f"/proc/{pid}/cgroup") as g:
        assert f.read() == g.read()
    r = moat("ps", "--format", "json", cid)
    assert epid in r.json and pid in r.json, r


def test_exec_caps_no_inheritable_or_ambient(moat, running):
    cid, _, _ = running()
    st = exec_probe(moat, cid, "status")
    assert int(st["CapEff"], 16) == cap_mask(DEFAULT_CAPS)
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0


def test_exec_cap_adds_without_inheritable(moat, running):
    cid, _, _ = running()
    st = exec_probe(moat, cid, "status", opts=("--cap", "CAP_CHOWN"))
    assert int(st["CapEff"], 16) & cap_mask(["CAP_CHOWN"]), st
    assert int(st["CapInh"], 16) == 0, st
    assert int(st["CapAmb"], 16) == 0, st


def test_exec_security_settings(moat, running):
    cid, _, _ = running()
    st = exec_probe(moat, cid, "status")
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
    res = exec_probe(moat, cid, "syscall", *DENIED_SYSCALLS)
    bad = {k: v for k, v in res.items() if v != "EPERM"}
    assert not bad, bad


def test_exec_no_new_privs_flag(moat, running):
    cid, _, _ = running(no_new_privileges=False)
    assert exec_probe(moat, cid, "status")["NoNewPrivs"] == "0"
    st = exec_probe(moat, cid, "status", opts=("--no-new-privs",))
    assert st["NoNewPrivs"] == "1"


@pytest.mark.parametrize("spec,uid,gid", [("1:2", 1, 2), ("1", 1, 0), ("0", 0, 0),
                                          ("1000:1000", 1000, 1000), ("0:5", 0, 5)])
def test_exec_user(moat, running, spec, uid, gid):
    """CVE-2026-30892 class: `-u 1` must be uid 1, never root."""
    cid, _, _ = running()
    st = exec_probe(moat, cid, "status", opts=("--user", spec))
    assert (st["uid"], st["euid"], st["gid"], st["egid"]) == (uid, uid, gid, gid), st
    if uid != 0:
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st


@pytest.mark.parametrize("spec", ["abc", "1:x", "-1", "1:2:3", "x:1"])
def test_exec_user_invalid(moat, running, spec):
    cid, _, _ = running()
    r = moat("exec", "--user", spec, cid, "/bin/moat-probe", "status")
    assert r.rc != 0, f"--user {spec!r} accepted: {r}"
    assert '"uid"' not in r.out, "the process ran anyway"


def test_exec_cwd_env(moat, running):
    cid, _, _ = running()
    r = moat("exec", "--cwd", "/etc", "--env", "MOAT_X=42", cid,
             "/bin/sh", "-c", "pwd; echo $MOAT_X")
    assert r.rc == 0 and r.out.split() == ["/etc", "42"], r


def test_exec_exit_status(moat, running):
    cid, _, _ = running()
    r = moat("exec", cid, "/bin/moat-probe", "exit", "5")
    assert r.rc == 5, r


def test_exec_process_file(moat, running):
    cid, _, _ = running()
    proc = make_config(args=["/bin/moat-probe", "status"], uid=1000, gid=1000,
                       cwd="/tmp")["process"]
    p = os.path.join(moat.dir, "process.json")
    with open(p, "w") as f:
        json.dump(proc, f)
    r = moat("exec", "--process", p, cid)
    assert r.rc == 0, r
    st = probe_json(r.out)
    assert (st["uid"], st["gid"], st["cwd"]) == (1000, 1000, "/tmp")


def test_exec_fds(moat, running):
    cid, _, _ = running()
    st = exec_probe(moat, cid, "status")
    assert sorted(f["fd"] for f in st["fds"]) == [0, 1, 2], st["fds"]


def test_exec_stopped_container_fails(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "exit", "0"])
    cid = new_id()
    moat.create(b, cid).ok()
    moat("start", cid).ok()
    moat.wait_status(cid, "stopped")
    r = moat("exec", cid, "/bin/moat-probe", "status")
    assert r.rc != 0, r
    assert '"uid"' not in r.out


def test_exec_unknown_container(moat):
    r = moat("exec", "nope-" + new_id(), "/bin/true")
    assert r.rc != 0 and r.err_lines, r


def test_exec_detach_pid_file(moat, running):
    cid, _, _ = running()
    pidfile = os.path.join(moat.dir, "e.pid")
    r = moat("exec", "--detach", "--pid-file", pidfile, cid, "/bin/moat-probe", "sleep", "30")
    assert r.rc == 0, r
    epid = int(read_text(pidfile).strip())
    wait_for(lambda: "moat-probe" in os.readlink(f"/proc/{epid}/exe"), timeout=5,
             what="exec'd process")
