"""CVE-2023-25809 (runc GHSA-m8cg-xc2p-r3fc): rootless runc without a cgroup
namespace left /sys/fs/cgroup writable, so the container could write the
user's own cgroup hierarchy on the host (move itself out of its cgroup, raise
its limits).

Without a cgroup namespace of its own, moat's cgroup mount is a bind of host
hierarchies (the container's cgroup directories).  Property: with no cgroup
namespace in the config, /sys/fs/cgroup and every mount below it is `ro` in
the container's /proc/self/mountinfo, and opening cgroup.procs or a
controller knob for writing (or creating a cgroup file) fails, whether the
config asks for "ro" or not, with and without a user namespace.  Under a user
namespace (moat's analogue of rootless) that holds even when the config asks
for "rw" explicitly; a rootful container's explicit "rw" is the operator's
choice and is honoured (as in runc), which the last test pins down.
"""

import glob
import json
import os

import pytest

from moat_testlib import IS_RUNC, make_config, new_id, probe_script_text

NO_CGROUPNS = ["pid", "network", "ipc", "uts", "mount"]


def _host_ctrls():
    return sorted(os.path.basename(p) for p in glob.glob("/sys/fs/cgroup/*")
                  if os.path.isdir(p) and not os.path.islink(p))


def _targets():
    """Files in the container's /sys/fs/cgroup a writable mount would let
    its root open for writing: the (bound) container cgroup's cgroup.procs
    in each hierarchy, some limits, and a new file."""
    ctrls = _host_ctrls()
    if not ctrls:  # pure cgroup v2 host: the hierarchy is /sys/fs/cgroup itself
        return ["/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/pids.max",
                "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/moat-new"]
    out = [f"/sys/fs/cgroup/{c}/cgroup.procs" for c in ctrls]
    knobs = {"memory": "memory.limit_in_bytes", "pids": "pids.max",
             "cpu": "cpu.shares", "unified": "cgroup.subtree_control"}
    out += [f"/sys/fs/cgroup/{c}/{k}" for c, k in knobs.items() if c in ctrls]
    out += ["/sys/fs/cgroup/moat-new", f"/sys/fs/cgroup/{ctrls[0]}/moat-new"]
    return out


def _cgroup_cfg(bundle, cmds, userns, opts):
    """A probe script config with no cgroup namespace and the cgroup mount's
    options replaced by OPTS."""
    cfg = make_config(args=["/bin/sh", "-c", probe_script_text(cmds)], userns=userns,
                      namespaces=NO_CGROUPNS + (["user"] if userns else []))
    for m in cfg["mounts"]:
        if m["destination"] == "/sys/fs/cgroup":
            m["options"] = list(opts)
    bundle.write(cfg)


def _check(moat, bundle, userns, opts):
    targets = _targets()
    cmds = [["mountinfo"]] + [["write", t, ""] for t in targets]
    _cgroup_cfg(bundle, cmds, userns, opts)
    r = moat.run(bundle, new_id(), timeout=30)
    assert r.rc == 0, r
    res = [json.loads(line) for line in r.out.splitlines()
           if line.startswith("{")]
    assert len(res) == len(cmds), r
    cg = [m for m in res[0]["mounts"] if m["dest"] == "/sys/fs/cgroup"
          or m["dest"].startswith("/sys/fs/cgroup/")]
    assert cg, "no /sys/fs/cgroup mount in the container"
    # The container's own cgroup is what is bound: its dirs, not the host root.
    writable = [m for m in cg if "ro" not in m["options"].split(",")]
    opened = [(t, x) for t, x in zip(targets, res[1:]) if x["result"] == "ok"]
    return writable, opened, res


@pytest.mark.parametrize("userns", [False, True], ids=["rootful", "userns"])
@pytest.mark.parametrize("opts", [
    ["nosuid", "noexec", "nodev", "relatime", "ro"],
    ["nosuid", "noexec", "nodev", "relatime"],
], ids=["ro", "no-ro"])
def test_host_cgroupns_mount_readonly(moat, bundle, userns, opts):
    writable, opened, _ = _check(moat, bundle, userns, opts)
    assert not writable, f"writable cgroup mounts without a cgroup namespace: {writable}"
    assert not opened, f"opened for writing from the container: {opened}"


def test_userns_explicit_rw_still_readonly(moat, bundle):
    """The rootless case of the CVE: the container's root is not host root,
    and an explicit "rw" must not expose host hierarchies for writing."""
    if IS_RUNC:
        pytest.skip("runc honours rw")
    writable, opened, _ = _check(moat, bundle, True,
                                 ["nosuid", "noexec", "nodev", "rw"])
    assert not writable, f"writable cgroup mounts: {writable}"
    assert not opened, f"opened for writing from the container: {opened}"


def test_rootful_explicit_rw_is_honoured(moat, bundle):
    """Control: the check above can see a writable mount.  A rootful
    container whose operator asked for "rw" gets it (and its root, which
    owns the bound cgroup files, can open them for writing)."""
    writable, opened, _ = _check(moat, bundle, False,
                                 ["nosuid", "noexec", "nodev", "rw"])
    assert writable, "explicit rw was not honoured"
    assert opened, "no cgroup file writable through an rw mount"
