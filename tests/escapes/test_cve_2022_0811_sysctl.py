"""CVE-2022-0811 (cr8escape): sysctl values cannot smuggle a second key,
non-namespaced keys are refused, and net.* needs a private netns."""

import pytest

from moat_testlib import (assert_error_line, assert_nothing_left, make_config,
                          new_id, probe_json)


def _read(path):
    with open(path) as f:
        return f.read()


@pytest.fixture
def host_sysctls():
    """Snapshot the host values the bad configs aim at, and restore them if
    a vulnerable runtime changed them."""
    paths = ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/shm_rmid_forced",
             "/proc/sys/net/ipv4/ip_forward"]
    snap = {p: _read(p) for p in paths}
    yield snap
    changed = [p for p in paths if _read(p) != snap[p]]
    for p in changed:
        with open(p, "w") as f:
            f.write(snap[p])
    assert not changed, f"host sysctls changed: {changed}"


@pytest.mark.parametrize("sysctl,needle", [
    ({"kernel.shm_rmid_forced": "1+kernel.core_pattern=core.moat-test"}, "kernel.shm_rmid_forced"),
    ({"kernel.shm_rmid_forced": "1\nkernel.core_pattern=core.moat-test"}, "kernel.shm_rmid_forced"),
    ({"kernel.core_pattern": "core.moat-test"}, "kernel.core_pattern"),
    ({"kernel/core_pattern": "core.moat-test"}, "kernel/core_pattern"),
    ({"kernel.shm_rmid_forced/../core_pattern": "x"}, "kernel.shm_rmid_forced/../core_pattern"),
])
def test_bad_sysctl_refused(moat, bundle, host_sysctls, sysctl, needle):
    bundle.write(make_config(sysctl=sysctl))
    cid = new_id()
    r = moat.create(bundle, cid)
    assert_error_line(r, needle)
    assert_nothing_left(moat, cid)


def test_net_sysctl_needs_netns(moat, bundle, host_sysctls):
    cur = host_sysctls["/proc/sys/net/ipv4/ip_forward"].strip()
    cfg = make_config(sysctl={"net.ipv4.ip_forward": cur},
                      namespaces=["pid", "ipc", "uts", "mount", "cgroup"])
    bundle.write(cfg)
    cid = new_id()
    r = moat.create(bundle, cid)
    assert_error_line(r, "net.ipv4.ip_forward")
    assert_nothing_left(moat, cid)


def test_namespaced_sysctl_applies_inside_only(moat, bundle, host_sysctls):
    host = host_sysctls["/proc/sys/kernel/shm_rmid_forced"].strip()
    want = "0" if host == "1" else "1"
    bundle.write(make_config(args=["/bin/moat-probe", "read", "/proc/sys/kernel/shm_rmid_forced"],
                             sysctl={"kernel.shm_rmid_forced": want}))
    r = moat.run(bundle, new_id())
    assert r.rc == 0, r
    assert probe_json(r.out)["data"].strip() == want
