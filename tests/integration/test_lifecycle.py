"""Lifecycle: create/start/state/kill/delete/run/list/ps/pause/resume/features,
checked against what the kernel reports for the container's processes."""

import json
import os
import re
import signal
import time

import pytest

from moat_testlib import new_id, probe_json, read_text, wait_for


def proc_alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


def test_create_start_stop_delete(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "1"])
    cid = new_id()
    r = moat.create(b, cid)
    assert r.rc == 0, r
    st = moat.state(cid)
    assert st["id"] == cid
    assert st["status"] == "created"
    assert st["ociVersion"]
    assert os.path.realpath(st["bundle"]) == os.path.realpath(b.path)
    pid = st["pid"]
    assert isinstance(pid, int) and pid > 1 and proc_alive(pid)
    # The process waiting for `start` is not yet the container's program.
    assert os.path.realpath(f"/proc/{pid}/exe") != os.path.realpath(b.rpath("/bin/moat-probe"))

    moat("start", cid).ok()
    st = moat.state(cid)
    assert st["status"] == "running" and st["pid"] == pid
    # After start the init has exec'd the probe (/bin/moat-probe in rootfs).
    wait_for(lambda: "moat-probe" in os.readlink(f"/proc/{pid}/exe"),
             timeout=5, what="init to exec the probe")

    moat.wait_status(cid, "stopped", timeout=10)
    assert not proc_alive(pid)
    moat("delete", cid).ok()
    r = moat("state", cid)
    assert r.rc != 0, f"state of a deleted container must fail: {r}"
    assert not os.path.exists(os.path.join(moat.root, cid))


def test_start_twice_fails(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.create(b, cid).ok()
    moat("start", cid).ok()
    r = moat("start", cid)
    assert r.rc != 0, f"second start must fail: {r}"
    assert moat.status(cid) == "running"


def test_delete_running_needs_force(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    r = moat("delete", cid)
    assert r.rc != 0, f"delete of a running container without --force must fail: {r}"
    assert proc_alive(pid)
    moat("delete", "--force", cid).ok()
    wait_for(lambda: not proc_alive(pid), timeout=5, what="init to die")


def test_delete_force_unknown_id(moat):
    r = moat("delete", "--force", "no-such-" + new_id())
    assert r.rc == 0, r


def test_delete_created_container(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.create(b, cid).ok()
    pid = moat.state(cid)["pid"]
    moat("delete", "--force", cid).ok()
    wait_for(lambda: not proc_alive(pid), timeout=5, what="created init to die")


@pytest.mark.parametrize("code", [0, 3])
def test_run_foreground_exit_status(moat, make_bundle, code):
    b = make_bundle(args=["/bin/moat-probe", "exit", str(code)])
    cid = new_id()
    r = moat.run(b, cid)
    assert r.rc == code, r
    assert probe_json(r.out) == {"exit": code}


def test_run_foreground_killed_is_128_plus_signal(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "60"])
    cid = new_id()
    p, out, err = moat.spawn("run", "--bundle", b.path, cid)
    wait_for(lambda: moat("state", cid).rc == 0 and moat.status(cid) == "running",
             timeout=10, what="container running")
    moat("kill", cid, "KILL").ok()
    rc = p.wait(timeout=10)
    assert rc == 137, f"run exit {rc}, stderr {read_text(err)!r}"


def test_run_detached(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pidfile = os.path.join(moat.dir, "pidfile")
    t0 = time.monotonic()
    r = moat.run(b, cid, "--detach", "--pid-file", pidfile)
    assert r.rc == 0, r
    assert time.monotonic() - t0 < 10
    st = moat.state(cid)
    assert st["status"] == "running"
    with open(pidfile) as f:
        assert int(f.read().strip()) == st["pid"]
    assert proc_alive(st["pid"])


def test_create_pid_file(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pidfile = os.path.join(moat.dir, "pid")
    moat.create(b, cid, "--pid-file", pidfile).ok()
    with open(pidfile) as f:
        assert int(f.read().strip()) == moat.state(cid)["pid"]


TRAP = ["/bin/sh", "-c", "trap 'exit 7' TERM; trap 'exit 9' USR1; "
        "echo ready; while :; do sleep 0.05; done"]


@pytest.mark.parametrize("sig,code", [("TERM", 7), ("SIGTERM", 7), ("15", 7),
                                      ("USR1", 9), ("10", 9)])
def test_kill_signal_names_and_numbers(moat, make_bundle, sig, code):
    b = make_bundle(args=TRAP)
    cid = new_id()
    p, out, err = moat.spawn("run", "--bundle", b.path, cid)
    wait_for(lambda: "ready" in read_text(out), timeout=10, what="trap installed")
    moat("kill", cid, sig).ok()
    assert p.wait(timeout=10) == code


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9"])
def test_kill_sigkill(moat, make_bundle, sig):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "60"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    moat("kill", cid, sig).ok()
    moat.wait_status(cid, "stopped", timeout=10)
    assert not proc_alive(pid)


def test_kill_default_is_term(moat, make_bundle):
    b = make_bundle(args=TRAP)
    cid = new_id()
    p, out, err = moat.spawn("run", "--bundle", b.path, cid)
    wait_for(lambda: "ready" in read_text(out), timeout=10, what="trap installed")
    moat("kill", cid).ok()
    assert p.wait(timeout=10) == 7


def test_kill_bad_signal(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.start_probe(b, cid)
    r = moat("kill", cid, "NOTASIGNAL")
    assert r.rc != 0, r
    assert moat.status(cid) == "running"


def test_kill_all(moat, make_bundle):
    # Init plus background children; --all must reach every one of them.
    b = make_bundle(args=["/bin/sh", "-c",
                          "sleep 60 & sleep 60 & echo started; wait"])
    cid = new_id()
    p, out, err = moat.spawn("run", "--bundle", b.path, cid)
    wait_for(lambda: "started" in read_text(out), timeout=10, what="children")
    r = moat("ps", "--format", "json", cid)
    assert r.rc == 0, r
    pids = r.json
    assert len(pids) >= 3, pids
    moat("kill", "--all", cid, "KILL").ok()
    p.wait(timeout=10)
    wait_for(lambda: not any(proc_alive(x) for x in pids), timeout=5,
             what="all container processes to die")


def test_ps_json_lists_init(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    r = moat("ps", "--format", "json", cid)
    assert r.rc == 0, r
    assert isinstance(r.json, list) and pid in r.json, r
    r = moat("ps", cid)
    assert r.rc == 0 and str(pid) in r.out, r


def freezer_state(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if "freezer" in ctrls.split(","):
                with open(f"/sys/fs/cgroup/freezer{path}/freezer.state") as g:
                    return g.read().strip()
    raise AssertionError(f"pid {pid} in no freezer cgroup")


def test_pause_resume(moat, make_bundle):
    b = make_bundle(args=["/bin/sh", "-c", "while :; do echo x; sleep 0.02; done"])
    cid = new_id()
    p, out, err = moat.spawn("run", "--bundle", b.path, cid)
    wait_for(lambda: os.path.getsize(out) > 10, timeout=10, what="output")
    pid = moat.state(cid)["pid"]
    moat("pause", cid).ok()
    assert moat.status(cid) == "paused"
    assert freezer_state(pid) == "FROZEN"
    size = os.path.getsize(out)
    time.sleep(0.4)
    assert os.path.getsize(out) == size, "a paused container kept running"
    moat("resume", cid).ok()
    assert moat.status(cid) == "running"
    assert freezer_state(pid) == "THAWED"
    wait_for(lambda: os.path.getsize(out) > size, timeout=5, what="output after resume")
    moat("kill", cid, "KILL").ok()
    p.wait(timeout=10)


def test_list(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.create(b, cid).ok()
    r = moat("list")
    assert r.rc == 0 and cid in r.out and "created" in r.out, r
    r = moat("list", "-q")
    assert r.rc == 0 and r.out.split() == [cid], r
    r = moat("list", "--format", "json")
    assert r.rc == 0, r
    entries = r.json
    assert [e["id"] for e in entries] == [cid], entries
    assert entries[0]["status"] == "created"
    assert entries[0]["pid"] == moat.state(cid)["pid"]


def test_list_empty_root(moat):
    r = moat("list", "-q")
    assert r.rc == 0 and r.out.strip() == "", r


def test_features(moat):
    r = moat("features")
    assert r.rc == 0, r
    f = r.json
    assert re.match(r"^1\.\d+\.\d+", f["ociVersionMin"]), f
    assert re.match(r"^1\.\d+\.\d+", f["ociVersionMax"]), f
    assert "hooks" in f and "mountOptions" in f
    assert {"pid", "network", "mount", "user"} <= set(f["linux"]["namespaces"])


def cgroup_file(pid, ctrl, name):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrl in ctrls.split(","):
                return f"/sys/fs/cgroup/{ctrl}{path}/{name}"
    raise AssertionError(f"pid {pid} has no {ctrl} cgroup")


def test_resources_applied(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"],
                    resources={"memory": {"limit": 128 << 20},
                               "pids": {"limit": 50},
                               "cpu": {"shares": 512}})
    cid = new_id()
    pid = moat.start_probe(b, cid)
    assert int(read_text(cgroup_file(pid, "memory", "memory.limit_in_bytes"))) == 128 << 20
    assert read_text(cgroup_file(pid, "pids", "pids.max")).strip() == "50"
    assert int(read_text(cgroup_file(pid, "cpu", "cpu.shares"))) == 512


def test_update_memory(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    moat("update", "--memory", str(64 << 20), cid).ok()
    assert int(read_text(cgroup_file(pid, "memory", "memory.limit_in_bytes"))) == 64 << 20
    moat("update", "--pids-limit", "77", cid).ok()
    assert read_text(cgroup_file(pid, "pids", "pids.max")).strip() == "77"


def test_update_resources_file(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    res = os.path.join(moat.dir, "res.json")
    with open(res, "w") as f:
        json.dump({"memory": {"limit": 96 << 20}, "cpu": {"shares": 256}}, f)
    moat("update", "--resources", res, cid).ok()
    assert int(read_text(cgroup_file(pid, "memory", "memory.limit_in_bytes"))) == 96 << 20
    assert int(read_text(cgroup_file(pid, "cpu", "cpu.shares"))) == 256


def test_default_cgroup_path(moat, make_bundle):
    """Without linux.cgroupsPath moat uses /moat/<id> in every hierarchy."""
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.start_probe(b, cid)
    for ctrl in ("memory", "pids", "freezer", "cpu"):
        d = f"/sys/fs/cgroup/{ctrl}/moat/{cid}"
        assert os.path.isdir(d), f"{d} missing"
    assert os.path.isdir(f"/sys/fs/cgroup/unified/moat/{cid}")


def test_state_annotations(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"],
                    annotations={"org.example.key": "value"})
    cid = new_id()
    moat.create(b, cid).ok()
    assert moat.state(cid).get("annotations") == {"org.example.key": "value"}


def test_state_after_init_killed_from_host(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    os.kill(pid, signal.SIGKILL)
    moat.wait_status(cid, "stopped", timeout=10)
    moat("delete", cid).ok()


def test_update_cpu_shares_and_stdin(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    moat("update", "--cpu-shares", "300", cid).ok()
    assert int(read_text(cgroup_file(pid, "cpu", "cpu.shares"))) == 300
    res = os.path.join(moat.dir, "res-stdin.json")
    with open(res, "w") as f:
        json.dump({"pids": {"limit": 33}}, f)
    with open(res) as f:
        r = moat("update", "--resources", "-", cid, stdin=f)
    assert r.rc == 0, r
    assert read_text(cgroup_file(pid, "pids", "pids.max")).strip() == "33"


def test_update_refuses_garbage(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    before = read_text(cgroup_file(pid, "memory", "memory.limit_in_bytes"))
    r = moat("update", "--memory", "lots", cid)
    assert r.rc != 0, r
    assert read_text(cgroup_file(pid, "memory", "memory.limit_in_bytes")) == before


def test_log_json(moat, make_bundle):
    log = os.path.join(moat.dir, "moat.log")
    b = make_bundle()
    b.write(raw="{not json")
    r = moat("create", "--bundle", b.path, new_id(),
             global_opts=("--log", log, "--log-format", "json"))
    assert r.rc != 0, r
    with open(log) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    assert lines, "nothing logged"
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict) and entry, line


def test_exec_tty(moat, make_bundle):
    from moat_testlib import ConsoleSocket
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.start_probe(b, cid)
    sock = ConsoleSocket(os.path.join(moat.dir, "exec-console.sock"))
    try:
        r = moat("exec", "--tty", "--console-socket", sock.path, "--detach", cid,
                 "/bin/moat-probe", "status")
        assert r.rc == 0, r
        text = sock.wait()
    finally:
        sock.close()
    lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip().startswith("{")]
    assert lines, f"no output through the console: {text!r}"
    st = json.loads(lines[-1])
    assert all(f["target"].startswith("/dev/pts/") for f in st["fds"] if f["fd"] < 3), st


def test_run_keep(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "exit", "0"])
    cid = new_id()
    r = moat.run(b, cid, "--keep")
    assert r.rc == 0, r
    assert moat.status(cid) == "stopped"
    moat("delete", cid).ok()
    assert moat("state", cid).rc != 0


def test_run_removes_state_without_keep(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "exit", "0"])
    cid = new_id()
    moat.run(b, cid).ok()
    assert moat("state", cid).rc != 0
    assert not os.path.exists(os.path.join(moat.root, cid))


def test_no_new_keyring_accepted(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "exit", "0"])
    cid = new_id()
    moat.create(b, cid, "--no-new-keyring").ok()
    moat("start", cid).ok()
    moat.wait_status(cid, "stopped")


def test_default_state_root(moat, make_bundle):
    """Without --root the state lives in /run/moat/<id>."""
    import subprocess
    from moat_testlib import MOAT_BIN, IS_RUNC
    default = "/run/runc" if IS_RUNC else "/run/moat"
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.ids.append(cid)  # so the teardown scans for leftovers too
    try:
        # Files, not pipes: the created container inherits stdio.
        with open(os.path.join(moat.dir, "default-root.err"), "w+") as err:
            r = subprocess.run([MOAT_BIN, "create", "--bundle", b.path, cid],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=err, timeout=20)
            err.seek(0)
            assert r.returncode == 0, err.read()
        assert os.path.isdir(os.path.join(default, cid))
    finally:
        subprocess.run([MOAT_BIN, "delete", "--force", cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
    assert not os.path.exists(os.path.join(default, cid))
