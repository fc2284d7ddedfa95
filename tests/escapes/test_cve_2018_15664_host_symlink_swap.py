"""CVE-2018-15664 (docker cp, and podman's CVE-2019-10152): a host-side
operation on a container path resolved it, then a component was swapped for
a symlink, so the host wrote (as root) wherever the symlink pointed.

moat has no `cp`.  The host-side operations that touch a container rootfs
instead are: the idmap chown fallback of a writable root (src/sandbox/idmap.c:
a walk that chowns, and chmods set-id files back, then sets the
trusted.moat.idmap stamp on the root dir), the `--user NAME` lookup in the
rootfs's passwd/group (a read, covered by test_cve_2025_24965), the mount
targets of `-v`/`--mount`/`--tmpfs` and of the `--secret` tmpfs at
/run/secrets (made and mounted by the init before pivot_root, resolved in
the root), and image unpack into a tree (test_cve_2014_6407).  moat writes
no /etc/hostname, /etc/hosts or resolv.conf into the rootfs.

Property: rootfs symlinks (absolute, relative `..`, to a dir and to a file)
pointing at a host canary -- statically, and swapped with a directory by a
host thread in a loop during those operations -- never make the canary be
written, chowned or chmodded: every canary entry's lstat owner, mode, size,
mtime and sha256 are identical afterwards, and nothing is created in it.
The analogue of projectatomic/docker#349 checks the kernel's view: with
`/test -> /tmp` in the rootfs, `-v FILE:/test/testfile` shows FILE's contents
at the container's /tmp/testfile and nothing appears in the host's /tmp."""

import ctypes
import hashlib
import os
import shutil
import stat
import threading
import time

import pytest

from moat_imagelib import front_end
from moat_testlib import probe_json, snapshot_tree

RACE_SECONDS = 8
RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)


def make_canary(test_dir):
    """A host dir of root's with a plain file, a setuid file and a subdir."""
    c = os.path.join(test_dir, "canary")
    os.makedirs(os.path.join(c, "sub"))
    for rel, mode, body in (("file", 0o644, b"canary\n"), ("suid", 0o4755, b"#!/bin/sh\n"),
                            ("sub/deep", 0o600, b"deep\n")):
        with open(os.path.join(c, rel), "wb") as f:
            f.write(body)
        os.chmod(os.path.join(c, rel), mode)
    os.chmod(c, 0o755)
    return c


def canary_state(c):
    """snapshot_tree (types, sizes, mtimes) plus owner, mode and sha256."""
    out = {"tree": snapshot_tree(c)}
    for dp, dns, fns in os.walk(c):
        for n in ["."] + dns + fns:
            p = os.path.normpath(os.path.join(dp, n))
            st = os.lstat(p)
            body = ""
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    body = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, c)] = (st.st_uid, st.st_gid, st.st_mode, body)
    return out


def plant_links(root, canary):
    rel = os.path.relpath(canary, root)
    links = {"test": canary, "rel": rel, "etc/canary-file": os.path.join(canary, "file"),
             "etc/canary-suid": os.path.join(canary, "suid"),
             # /run is a tmpfs in the default spec; the link below it is
             # what a host-side secrets write would meet.
             "run/secrets": canary}
    for name, target in links.items():
        p = os.path.join(root, name)
        if os.path.lexists(p):
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
        os.symlink(target, p)


@pytest.fixture
def world(test_dir, rootfs_template):
    canary = make_canary(test_dir)
    root = os.path.join(test_dir, "rootfs")
    shutil.copytree(rootfs_template, root, symlinks=True)
    src = os.path.join(test_dir, "vol")
    os.makedirs(src)
    os.chmod(src, 0o755)
    with open(os.path.join(src, "testfile"), "w") as f:
        f.write("from the host\n")
    secret = os.path.join(test_dir, "secret")
    with open(secret, "w") as f:
        f.write("s3cret\n")
    before = canary_state(canary)
    yield root, canary, src, secret
    assert canary_state(canary) == before, "the host canary was written, chowned or chmodded"


OPS = {
    "chown": [],
    "bind-abs": ["-v", "{src}:/test/mnt:ro"],
    "bind-rel": ["-v", "{src}:/rel/mnt2:ro"],
    "tmpfs": ["--tmpfs", "/test/t"],
    "secret": ["--secret", "{secret},target=s"],
}


def run_ops(moat, root, src, secret, cmd=("/bin/moat-probe", "status")):
    """Each host-side operation on the rootfs in a `moat run` of its own (so
    one refused mount does not hide the next), all with the chown fallback
    (--read-only=false).  Returns {op: result}."""
    out = {}
    for op, flags in OPS.items():
        try:
            os.removexattr(root, "trusted.moat.idmap")  # so the chown walk runs again
        except OSError:
            pass
        flags = [f.format(src=src, secret=secret) for f in flags]
        r = front_end(moat, "--rm", "--read-only=false", "-u", "user", *flags, root, *cmd)
        assert r.rc == 0 or r.err.startswith("moat: "), r
        out[op] = r
    return out


def test_static_symlinks_to_canary(moat, world):
    root, canary, src, secret = world
    plant_links(root, canary)
    res = run_ops(moat, root, src, secret)
    assert res["chown"].rc == 0, res["chown"]
    # `rel` (../../canary) clamped at the root is rootfs/canary: once that
    # exists the bind through it succeeds, inside the root (the container
    # sees it); /test's absolute target stays under the container's /tmp
    # tmpfs, so those mounts are refused.  The secret lands in /run's tmpfs.
    os.makedirs(os.path.join(root, "canary"))
    res = run_ops(moat, root, src, secret, cmd=("/bin/sh", "-c", "cat /rel/mnt2/testfile "
                                                 "/run/secrets/s 2>/dev/null; /bin/moat-probe status"))
    assert res["bind-rel"].rc == 0 and "from the host" in res["bind-rel"].out, res["bind-rel"]
    assert os.listdir(os.path.join(root, "canary")) == ["mnt2"]
    assert res["secret"].rc == 0 and "s3cret" in res["secret"].out, res["secret"]
    assert res["bind-abs"].rc != 0 and res["tmpfs"].rc != 0
    # The chown walk did run (so the canary staying put means something).
    assert os.lstat(os.path.join(root, "bin", "busybox")).st_uid >= 100000
    for name in ("test", "rel", "run/secrets", "etc/canary-file", "etc/canary-suid"):
        assert os.path.islink(os.path.join(root, name)), name


def test_bind_through_in_root_symlink_lands_in_container(moat, world):
    """projectatomic/docker#349: /test -> /tmp inside the rootfs; a bind to
    /test/testfile must appear at the container's /tmp/testfile."""
    root, canary, src, secret = world
    os.symlink("/tmp", os.path.join(root, "test"))
    host_tmp_before = set(os.listdir("/tmp"))
    r = front_end(moat, "--rm", "-v", f"{src}/testfile:/test/testfile:ro", root,
                  "/bin/moat-probe", "read", "/tmp/testfile")
    assert r.rc == 0, r
    assert probe_json(r.out).get("data") == "from the host\n", r.out
    assert "testfile" not in set(os.listdir("/tmp")) - host_tmp_before
    assert not os.path.exists("/tmp/testfile")


def exchange(a, b):
    if _libc.renameat2(-100, a.encode(), -100, b.encode(), RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


def test_race_dir_symlink_swap(moat, world):
    """A host thread swaps rootfs/test, /rel, /run/secrets and etc/canary-file
    between a real directory (or file) and a symlink to the canary, as fast
    as it can, while `moat run` chowns the root and mounts through them."""
    root, canary, src, secret = world
    pairs = []
    for name, target, kind in (("test", canary, "d"), ("rel", os.path.relpath(canary, root), "d"),
                               ("run/secrets", canary, "d"), ("etc/canary-file", os.path.join(canary, "file"), "f")):
        p = os.path.join(root, name)
        if os.path.lexists(p):
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
        if kind == "d":
            os.makedirs(p)
        else:
            open(p, "w").close()
        os.symlink(target, p + ".alt")
        pairs.append((p, p + ".alt"))
    stop = threading.Event()
    swaps = [0]

    def swapper():
        while not stop.is_set():
            for a, b in pairs:
                exchange(a, b)
            swaps[0] += 1
    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    runs, ok = 0, 0
    deadline = time.monotonic() + RACE_SECONDS
    try:
        while time.monotonic() < deadline:
            res = run_ops(moat, root, src, secret)
            runs += 1
            ok += sum(r.rc == 0 for r in res.values())
    finally:
        stop.set()
        t.join(10)
    assert swaps[0] > 100 and runs >= 2, (swaps[0], runs)
