"""CVE-2022-0492: in a default container no step of the release_agent
escape is possible: no new user namespace, no mount, /sys/fs/cgroup
read-only, release_agent not writable."""

import glob
import os

import pytest

from moat_testlib import probe_script


@pytest.mark.parametrize("userns", [False, True])
def test_release_agent_chain_blocked(moat, bundle, userns):
    ctrls = sorted(os.path.basename(p) for p in glob.glob("/sys/fs/cgroup/*")
                   if os.path.isdir(p))
    targets = ["/sys/fs/cgroup/release_agent"] + \
        [f"/sys/fs/cgroup/{c}/release_agent" for c in ctrls] + \
        [f"/sys/fs/cgroup/{c}/notify_on_release" for c in ctrls]
    cmds = [["syscall", "unshare", "mount", "unshare-mnt"], ["mountinfo"]] + \
        [["write", t, ""] for t in targets]
    r = probe_script(moat, bundle, cmds, userns=userns)
    sysc = r[0]
    assert sysc["unshare"] == "EPERM", sysc
    assert sysc["mount"] == "EPERM", sysc
    assert sysc["unshare-mnt"] == "EPERM", sysc
    cg = [m for m in r[1]["mounts"] if m["dest"] == "/sys/fs/cgroup"
          or m["dest"].startswith("/sys/fs/cgroup/")]
    assert cg, "no /sys/fs/cgroup in the container"
    for m in cg:
        assert "ro" in m["options"].split(","), f"writable: {m}"
    for t, res in zip(targets, r[2:]):
        assert res["result"] != "ok", f"{t} writable from the container: {res}"


def test_without_seccomp_caps_still_block(moat, bundle):
    """Defence in depth: with seccomp off, missing CAP_SYS_ADMIN alone still
    stops the chain."""
    r = probe_script(moat, bundle, [["syscall", "mount", "mount-tmpfs", "unshare-mnt"]],
                     seccomp=False)
    assert r[0] == {"mount": "EPERM", "mount-tmpfs": "EPERM", "unshare-mnt": "EPERM"}, r
