"""`moat run --privileged` (cli/run_privileged.c): built like Docker's, then
put through admission.  The baseline refuses it (exit 3, the rule ids,
nothing left behind); a policy that allows the rules lets it run, with one
warning of what it turns off.  The user namespace stays unless --userns host."""

import json
import os

import pytest

from moat_testlib import IS_RUNC, USERNS_HOST_ID, mounts_mentioning, state_root_left

pytestmark = pytest.mark.skipif(IS_RUNC, reason="the front end is moat's")

RULES = ["moat.privileged", "moat.caps.all", "moat.caps.sys_admin", "moat.caps.sys_module",
         "moat.caps.sys_ptrace", "moat.caps.dac_read_search", "moat.caps.net_admin",
         "moat.caps.sys_rawio", "moat.caps.bpf", "moat.devices.raw"]
ALL_CAPS = (1 << (int(open("/proc/sys/kernel/cap_last_cap").read()) + 1)) - 1


@pytest.fixture(autouse=True)
def baseline(monkeypatch):
    monkeypatch.delenv("MOAT_POLICY", raising=False)
    if os.path.exists("/etc/moat/policy.yaml"):
        pytest.fail("/etc/moat/policy.yaml exists: the baseline cannot be tested")


def allow_policy(test_dir):
    p = os.path.join(test_dir, "allow.yaml")
    with open(p, "w") as f:
        f.write("version: 1\nrules:\n" + "".join(f"  {r}: warn\n" for r in RULES))
    return p


def fe(moat, *args, policy=None):
    before = list(moat.ids)
    r = moat(*([ "--policy", policy] if policy else []), "run", *args)
    moat.ids[:] = before
    return r


def test_refused_by_baseline(moat, rootfs_template):
    r = fe(moat, "--rm", "--name", "priv", "--privileged", rootfs_template, "/bin/true")
    assert r.rc == 3, r
    assert "policy denied container `priv`" in r.err, r
    for rule in RULES:
        assert f"  {rule}: " in r.err, (rule, r.err)
    assert "warning: --privileged" not in r.err
    assert state_root_left(moat.root) == [], state_root_left(moat.root)
    assert not mounts_mentioning("moat-secrets") and not mounts_mentioning(rootfs_template)


def test_allowed_by_policy(moat, rootfs_template, test_dir):
    r = fe(moat, "--rm", "--privileged", rootfs_template, "/bin/sh", "-c",
           "/bin/moat-probe status; grep -E ' /sys ' /proc/self/mountinfo; ls /dev/vda /dev/kmsg",
           policy=allow_policy(test_dir))
    assert r.rc == 0, r
    st = json.loads(r.out.splitlines()[0])
    assert int(st["CapEff"], 16) == ALL_CAPS and int(st["CapBnd"], 16) == ALL_CAPS, st
    assert st["Seccomp"] == "0", st
    assert st["uid_map"].split() == ["0", str(USERNS_HOST_ID), "65536"], st  # the userns stays
    assert " rw," in r.out.splitlines()[1], r.out  # /sys writable
    assert r.err.count("moat: warning: --privileged:") == 1, r.err
    for what in ("every capability", "no seccomp", "no masked", "writable /sys", "host's devices"):
        assert what in r.err, what
    assert state_root_left(moat.root) == []


def test_allowed_with_host_userns(moat, rootfs_template, test_dir):
    r = fe(moat, "--rm", "--privileged", "--userns", "host", rootfs_template, "/bin/moat-probe", "status",
           policy=allow_policy(test_dir))
    assert r.rc == 0, r
    st = json.loads(r.out.splitlines()[0])
    assert st["uid_map"].split() == ["0", "0", "4294967295"], st
    assert "its root is the host's root" in r.err, r.err
