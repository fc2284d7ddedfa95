"""CVE-2021-30465: a mount destination that traverses a symlink pointing
outside the rootfs must not land outside it; a host canary dir stays
untouched whether create refuses or confines the mount."""

import os

import pytest

from moat_testlib import (make_canary_dir, make_config, mounts_mentioning, new_id,
                          snapshot_tree)


def _escape_links(bundle, canary):
    depth = bundle.rootfs.count("/") + 2
    return {
        "abs": canary,                                   # absolute host path
        "rel": "../" * depth + canary.lstrip("/"),       # climbs out with ..
        "root": "/",                                     # the container root
    }


@pytest.mark.parametrize("kind", ["abs", "rel"])
@pytest.mark.parametrize("mtype", ["tmpfs", "bind"])
def test_mount_destination_through_symlink(moat, bundle, test_dir, kind, mtype):
    canary = make_canary_dir(test_dir)
    src = make_canary_dir(test_dir, "bind-src")
    with open(os.path.join(src, "payload"), "w") as f:
        f.write("payload")
    snap = snapshot_tree(canary)
    os.symlink(_escape_links(bundle, canary)[kind], bundle.rpath("/evil"))
    m = ({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs",
          "options": ["size=64k"]} if mtype == "tmpfs" else
         {"destination": "/evil/sub", "type": "bind", "source": src,
          "options": ["rbind", "rw"]})
    bundle.write(make_config(args=["/bin/sh", "-c",
                                   "/bin/moat-probe write /evil/sub/written x; "
                                   "/bin/moat-probe sleep 30"], mounts=[m]))
    cid = new_id()
    r = moat.create(bundle, cid)
    if r.rc == 0:
        assert mounts_mentioning(canary) == [], "a mount landed on the host canary"
        moat("start", cid).ok()
        moat("kill", cid, "KILL").ok()
        moat.wait_status(cid, "stopped")
    else:
        assert r.err_lines, r
    assert snapshot_tree(canary) == snap, f"host canary changed: {os.listdir(canary)}"
    assert mounts_mentioning(canary) == []


def test_mount_destination_container_root_symlink_stays_inside(moat, bundle, test_dir):
    """`/evil -> /` resolves to the container root: the mount must appear
    inside the container (at /sub), i.e. confinement, not refusal."""
    os.symlink("/", bundle.rpath("/evil"))
    os.makedirs(bundle.rpath("/sub"))
    m = {"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"]}
    bundle.write(make_config(args=["/bin/moat-probe", "mountinfo"], mounts=[m]))
    r = moat.run(bundle, new_id())
    if r.rc == 0:
        import json
        dests = [x["dest"] for x in json.loads(r.out.splitlines()[-1])["mounts"]]
        assert "/sub" in dests, dests
    else:
        assert r.err_lines, r


def _rename_exchange(a, b):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE, SYS_renameat2 = -100, 2, 316
    return libc.syscall(SYS_renameat2, AT_FDCWD, a.encode(), AT_FDCWD, b.encode(),
                        RENAME_EXCHANGE)


def test_mount_destination_swap_race(moat, bundle, test_dir):
    """The real CVE is a race: a directory on the destination path is swapped
    with a symlink out of the rootfs while the runtime sets up mounts.  Swap
    it continuously during a series of creates: the canary stays untouched."""
    import threading
    canary = make_canary_dir(test_dir)
    snap = snapshot_tree(canary)
    d, link = bundle.rpath("/vol"), bundle.rpath("/vol-link")
    os.makedirs(os.path.join(d, "sub"))
    os.symlink(canary, link)
    bundle.write(make_config(args=["/bin/moat-probe", "exit", "0"],
                             mounts=[{"destination": "/vol/sub", "type": "tmpfs",
                                      "source": "tmpfs", "options": ["size=64k"]},
                                     {"destination": "/vol/sub2/x", "type": "tmpfs",
                                      "source": "tmpfs", "options": ["size=64k"]}]))
    stop = threading.Event()
    swaps = [0]

    def swapper():
        while not stop.is_set():
            if _rename_exchange(d, link) == 0:
                swaps[0] += 1

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    try:
        for i in range(15):
            cid = new_id(f"race{i}")
            r = moat.create(bundle, cid)
            assert r.rc == 0 or r.err_lines, r
            assert mounts_mentioning(canary) == [], "a mount landed on the host canary"
            moat("delete", "--force", cid).ok()
    finally:
        stop.set()
        t.join(5)
    assert swaps[0] > 100, "the swap loop did not run"
    assert snapshot_tree(canary) == snap, f"host canary changed: {os.listdir(canary)}"
