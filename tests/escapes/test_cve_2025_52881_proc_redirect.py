"""CVE-2025-52881 (runc GHSA-cgrx-mc8f-2prm): containers sharing a volume
race symlinks in it so that a mount lands on procfs files, and the runtime's
later writes to /proc (LSM labels, sysctls) go to another procfs file:
/proc/self/sched (a no-op: the LSM is silently not applied) or
/proc/sysrq-trigger (host DoS).  That passed the old "is on procfs" check.

moat writes sysctls after pivot_root through a private clone of the
container's /proc/sys mount, each key opened with RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV and checked to be on procfs
(sandbox/rootfs.c moat_sysctl_apply), and masked/read-only paths under /proc
must land on procfs; the LSM write is unit-tested in tests/unit/test_security.c
(test_lsm_apply_*), and a config asking for apparmorProfile/selinuxLabel on
this LSM-less kernel failing closed is
tests/integration/test_hardened.py::test_lsm_request_refused_without_the_lsm.

Properties here, from inside the container and on the host:
(b) sysctls from config.json show their configured value in the container's
    /proc/sys, and the host's values are unchanged;
(c) several containers started together share a host volume whose mount
    targets a host thread keeps swapping for symlinks to /proc/sysrq-trigger,
    /proc/self/sched, /proc/sys/kernel ...: each container either runs
    confined (sysctls applied, seccomp and capabilities as configured, no
    foreign mount inside /proc) or fails with one error line, and the host's
    sysctls (kernel.sysrq included) are unchanged.
"""

import json
import os
import threading
import time

import pytest

from moat_testlib import (DOCKER_MASKED, DOCKER_READONLY, IS_RUNC, cap_mask,
                          DEFAULT_CAPS, make_config, new_id, probe_script_text)

# kernel.sysrq (what /proc/sysrq-trigger obeys) only exists with
# CONFIG_MAGIC_SYSRQ; the redirect targets below are then simply missing.
HOST_KEYS = [k for k in ("kernel/sysrq", "kernel/shm_rmid_forced", "kernel/msgmax",
                         "net/ipv4/ip_unprivileged_port_start", "kernel/core_pattern",
                         "kernel/hostname")
             if os.path.exists("/proc/sys/" + k)]


def _read_sys(rel):
    with open("/proc/sys/" + rel) as f:
        return f.read().strip()


@pytest.fixture
def host_sysctls():
    """The host's values before the test; afterwards they must be the same
    (a vulnerable runtime's changes are undone, then reported)."""
    snap = {k: _read_sys(k) for k in HOST_KEYS}
    yield snap
    changed = {k: (snap[k], _read_sys(k)) for k in HOST_KEYS if _read_sys(k) != snap[k]}
    for k in changed:
        with open("/proc/sys/" + k, "w") as f:
            f.write(snap[k])
    assert not changed, f"host sysctls changed: {changed}"


def _wanted(host):
    """Container values that differ from the host's."""
    return {
        "kernel.shm_rmid_forced": "0" if host["kernel/shm_rmid_forced"] == "1" else "1",
        "kernel.msgmax": str(int(host["kernel/msgmax"]) + 123),
        "net.ipv4.ip_unprivileged_port_start":
            "555" if host["net/ipv4/ip_unprivileged_port_start"] != "555" else "556",
    }


def _sysctl_reads(sysctl):
    return [["read", "/proc/sys/" + k.replace(".", "/")] for k in sysctl]


# ---- (b) sysctls land in the container's namespaces only --------------------------

@pytest.mark.parametrize("userns", [False, True], ids=["rootful", "userns"])
def test_sysctls_applied_inside_host_unchanged(moat, bundle, host_sysctls, userns):
    want = _wanted(host_sysctls)
    cmds = _sysctl_reads(want) + [["write", "/proc/sys/kernel/shm_rmid_forced", "0"]]
    bundle.write(make_config(args=["/bin/sh", "-c", probe_script_text(cmds)], sysctl=want,
                             userns=userns))
    r = moat.run(bundle, new_id(), timeout=30)
    assert r.rc == 0, r
    res = [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]
    assert len(res) == len(cmds), r
    for (key, value), got in zip(want.items(), res):
        assert got["error"] is None and got["data"].strip() == value, (key, got)
    # /proc/sys stays read-only for the container itself.
    assert res[-1]["result"] in ("EROFS", "EACCES"), res[-1]
    # The host fixture checks the host values on the way out; check now too.
    assert {k: _read_sys(k) for k in HOST_KEYS} == host_sysctls


# ---- (c) racing symlinks in a shared volume -------------------------------------------

PROC_TARGETS = ["/proc/sysrq-trigger", "/proc/self/sched", "/proc/sys/kernel",
                "/proc/sys", "/proc/self/attr", "/proc/sys/kernel/shm_rmid_forced"]


class Churner(threading.Thread):
    """Swaps VOL/d (a directory) and VOL/f (a file) for symlinks to procfs
    paths and back, as fast as it can, until stopped."""

    def __init__(self, vol):
        super().__init__(daemon=True)
        self.vol, self.stop, self.swaps, self.error = vol, threading.Event(), 0, None

    def _swap(self, name, make_real, target):
        p = os.path.join(self.vol, name)
        tmp = os.path.join(self.vol, f".{name}.lnk")
        try:
            os.symlink(target, tmp)
            os.replace(tmp, p) if not os.path.isdir(p) or os.path.islink(p) else (
                os.rmdir(p), os.replace(tmp, p))
            time.sleep(0.0005)
            os.unlink(p)
            make_real(p)
            self.swaps += 1
        except OSError:
            pass  # a container's mount holds the dir busy, or we raced ourselves
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                t = PROC_TARGETS[i % len(PROC_TARGETS)]
                self._swap("d", lambda p: os.mkdir(p), t)
                self._swap("f", lambda p: open(p, "w").close(), t)
                i += 1
        except Exception as e:  # reported by the test
            self.error = repr(e)


def _expected_proc_mounts():
    return {p for p in DOCKER_MASKED + DOCKER_READONLY if p.startswith("/proc")}


def _assert_confined(name, out, want):
    res = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(res) == 2 + len(want), f"{name}: {out!r}"
    st, mi = res[0], res[1]
    assert st["Seccomp"] == "2", f"{name}: no seccomp filter: {st}"
    assert int(st["CapEff"], 16) == cap_mask(DEFAULT_CAPS), f"{name}: {st}"
    assert st["NoNewPrivs"] == "1", f"{name}: {st}"
    for (key, value), got in zip(want.items(), res[2:]):
        assert got["error"] is None and got["data"].strip() == value, (name, key, got)
    allowed = _expected_proc_mounts()
    foreign = [m for m in mi["mounts"] if m["dest"].startswith("/proc/")
               and m["dest"] not in allowed]
    assert not foreign, f"{name}: a volume mount landed inside /proc: {foreign}"
    procs = [m for m in mi["mounts"] if m["dest"] == "/proc"]
    assert procs and procs[-1]["fstype"] == "proc", f"{name}: /proc is {procs}"


@pytest.mark.slow
def test_shared_volume_symlink_race(moat, make_bundle, test_dir, host_sysctls):
    n_containers, rounds = 6, 5
    vol = os.path.join(test_dir, "shared-vol")
    os.makedirs(vol)
    os.chmod(vol, 0o777)
    os.mkdir(os.path.join(vol, "d"))
    open(os.path.join(vol, "f"), "w").close()
    src_file = os.path.join(test_dir, "bind-src")
    with open(src_file, "w") as f:
        f.write("volume file\n")
    want = _wanted(host_sysctls)
    cmds = [["status"], ["mountinfo"]] + _sysctl_reads(want)
    mounts = [
        {"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind", "rw"]},
        {"destination": "/vol/d", "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"]},
        {"destination": "/vol/f", "type": "bind", "source": src_file, "options": ["bind", "ro"]},
    ]
    bundles = [make_bundle(args=["/bin/sh", "-c", probe_script_text(cmds)], sysctl=want,
                           mounts=mounts) for _ in range(n_containers)]
    churn = Churner(vol)
    churn.start()
    outcomes = {"ok": 0, "refused": 0}
    refusals = set()
    try:
        for rnd in range(rounds):
            procs = []
            for i, b in enumerate(bundles):
                cid = new_id(f"r{rnd}c{i}")
                p, out_p, err_p = moat.spawn("run", "--bundle", b.path, cid)
                procs.append((cid, p, out_p, err_p))
            for cid, p, out_p, err_p in procs:
                rc = p.wait(timeout=60)
                with open(out_p) as f:
                    out = f.read()
                with open(err_p) as f:
                    err = [line for line in f.read().splitlines() if line.strip()]
                if rc == 0:
                    _assert_confined(cid, out, want)
                    outcomes["ok"] += 1
                else:
                    assert len(err) == 1 and (IS_RUNC or err[0].startswith("moat: ")), \
                        f"{cid}: rc={rc} stderr={err} stdout={out!r}"
                    assert "{" not in out, f"{cid}: failed after the process ran: {out!r}"
                    outcomes["refused"] += 1
                    refusals.add(err[0].split(": ", 2)[-1][:160])
                assert {k: _read_sys(k) for k in HOST_KEYS} == host_sysctls, \
                    f"host sysctls changed after {cid}"
    finally:
        churn.stop.set()
        churn.join(10)
    assert churn.error is None, churn.error
    assert churn.swaps > 0, "the churn thread never swapped anything"
    # Both outcomes are acceptable; the counts say what the race produced.
    print(f"outcomes {outcomes}, swaps {churn.swaps}, refusals {sorted(refusals)}")
    assert sum(outcomes.values()) == n_containers * rounds
