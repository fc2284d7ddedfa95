"""Issue 6, faults: 200 detached containers started, listed, stopped and
removed leave no process, mount, cgroup or fd behind, counted before and
after on the whole host (not only what moat says)."""

import glob
import json
import os

import pytest

from moat_testlib import IS_RUNC, new_id, wait_for

pytestmark = pytest.mark.skipif(IS_RUNC, reason="the engine is moat's")

N = 200


def host_counts(root, prefix):
    """What the test's containers can hold on the host: processes (their
    inits and everything in their cgroups, their monitors), cgroup dirs,
    mounts of the state root or of secrets, and the host's open files.
    Counted from /proc and /sys, whatever moat says."""
    in_cgroups = monitors = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cgroup") as f:
                if prefix in f.read():
                    in_cgroups += 1
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if argv[0].endswith(b"moat-monitor") and root.encode() in argv:
                monitors += 1
        except OSError:
            pass
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for line in f if root in line or "moat-secrets" in line)
    cgroups = sum(1 for top in glob.glob("/sys/fs/cgroup/*/") for _, dirs, _ in os.walk(top)
                  for d in dirs if d.startswith(prefix))
    with open("/proc/sys/fs/file-nr") as f:
        fds = int(f.read().split()[0])
    return {"in_cgroups": in_cgroups, "monitors": monitors, "mounts": mounts, "cgroups": cgroups, "fds": fds}


def test_200_detached_containers_leave_nothing(moat, rootfs_template):
    prefix = new_id("many")
    names = [f"{prefix}-{i:03d}" for i in range(N)]
    before = host_counts(moat.root, prefix)
    try:
        for n in names:
            r = moat("run", "-d", "--name", n, rootfs_template, "sleep", "300", timeout=60)
            assert r.rc == 0 and r.out.strip() == n, r
        rows = [json.loads(x) for x in moat("ps", "--format", "json").out.splitlines()]
        mine = {x["Names"]: x for x in rows if x["Names"].startswith(prefix)}
        assert len(mine) == N and all(x["State"] == "running" for x in mine.values())
        during = host_counts(moat.root, prefix)
        # Each container: its init, a monitor and the monitor's spawner.
        assert during["in_cgroups"] == N and during["monitors"] == 2 * N, during
        assert during["cgroups"] >= N and during["fds"] > before["fds"] + N, (before, during)
        for i in range(0, N, 50):
            r = moat("stop", "-t", "0", *names[i:i + 50], timeout=120)
            assert r.rc == 0, r
        assert moat("ps", "-q").out.split().count(names[0]) == 0
        assert len([x for x in moat("ps", "-a", "-q").out.split() if x.startswith(prefix)]) == N
        for i in range(0, N, 50):
            assert moat("rm", *names[i:i + 50], timeout=120).rc == 0
        assert [x for x in moat("ps", "-a", "-q").out.split() if x.startswith(prefix)] == []
    finally:
        moat("rm", "-f", *names, timeout=300)

    def settled():
        after = host_counts(moat.root, prefix)
        return all(after[k] == before[k] for k in ("in_cgroups", "monitors", "mounts", "cgroups"))
    wait_for(settled, timeout=20, what="host back to its counts")
    after = host_counts(moat.root, prefix)
    # fds: other processes on the host open and close files meanwhile; a
    # leak of one fd per container (200) stands far above that noise.
    assert after["fds"] - before["fds"] < N // 2, (before, after)
    assert not os.listdir(os.path.join(moat.root, ".engine"))
