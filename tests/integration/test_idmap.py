"""Ownership of the rootfs under the user namespace (sandbox/idmap.c):
idmapped mounts for read-only roots and for bind mounts that ask
(runtime-spec 1.1 idmap/ridmap, uidMappings), chown once with a stamp for
writable roots and for filesystems that cannot be idmapped.  Every check is
made from inside the container with `stat`, and on the host's files."""

import json
import os
import shutil
import subprocess

import pytest

from moat_testlib import (IS_RUNC, USERNS_HOST_ID, assert_error_line,
                          make_config, new_id)

pytestmark = pytest.mark.skipif(IS_RUNC, reason="moat's idmap handling")

STAMP = "trusted.moat.idmap"


def fresh_rootfs(rootfs_template, test_dir, name="rootfs"):
    """A private copy (owned by host root) with one file of host uid 1000."""
    root = os.path.join(test_dir, name)
    shutil.copytree(rootfs_template, root, symlinks=True)
    # copytree copies a directory's xattrs: a stamp the shared template got
    # from another test's --read-only=false run comes along (and must not
    # count: moat checks it names this directory's inode).
    try:
        os.removexattr(root, STAMP)
    except OSError:
        pass
    with open(os.path.join(root, "home", "user", "f"), "w") as f:
        f.write("x")
    os.chown(os.path.join(root, "home", "user", "f"), 1000, 1000)
    return root


def owners(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            st = os.lstat(os.path.join(d, n))
            out[os.path.relpath(os.path.join(d, n), root)] = (st.st_uid, st.st_gid, st.st_mode, st.st_ctime_ns)
    return out


def fe(moat, rootfs, *flags, cmd):
    before = list(moat.ids)
    r = moat("run", "--rm", *flags, rootfs, "/bin/sh", "-c", cmd)
    moat.ids[:] = before
    return r


STAT = "stat -c '%u:%g %n' /bin/busybox /home/user/f /etc/passwd"
ROOT_MOUNT = "awk '$5 == \"/\"' /proc/self/mountinfo"


def test_readonly_root_is_idmapped(moat, rootfs_template, test_dir):
    root = fresh_rootfs(rootfs_template, test_dir)
    before = owners(root)
    r = fe(moat, root, cmd=STAT + "; " + ROOT_MOUNT + "; touch /x 2>&1; true")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[:3] == ["0:0 /bin/busybox", "1000:1000 /home/user/f", "0:0 /etc/passwd"], r.out
    assert "idmapped" in lines[3] and " ro," in lines[3] and "nosuid" in lines[3], lines[3]
    assert "Read-only file system" in r.out
    # Nothing on the host changed: not one owner, mode or ctime.
    assert owners(root) == before
    with pytest.raises(OSError):
        os.getxattr(root, STAMP)


def test_writable_root_is_chowned_once(moat, rootfs_template, test_dir):
    root = fresh_rootfs(rootfs_template, test_dir)
    r = fe(moat, root, "--read-only=false", cmd=STAT + "; echo hi > /new; stat -c '%u' /new")
    assert r.rc == 0, r
    assert r.out.splitlines() == ["0:0 /bin/busybox", "1000:1000 /home/user/f", "0:0 /etc/passwd", "0"], r.out
    h = USERNS_HOST_ID
    st = os.stat(os.path.join(root, "bin", "busybox"))
    assert (st.st_uid, st.st_gid) == (h, h)
    st = os.stat(os.path.join(root, "home", "user", "f"))
    assert (st.st_uid, st.st_gid) == (h + 1000, h + 1000)
    assert os.stat(os.path.join(root, "new")).st_uid == h
    rst = os.stat(root)
    assert os.getxattr(root, STAMP).decode() == (f"uid 0 {h} 65536\ngid 0 {h} 65536\n"
                                                 f"root {rst.st_dev:x} {rst.st_ino:x}\n")
    # The stamp stops a second walk: no ctime changes.  A read-only run of
    # the same root stays on the chowned path (idmapped, its owners would be
    # nobody).
    before = owners(root)
    r = fe(moat, root, "--read-only=false", cmd=STAT)
    assert r.rc == 0 and r.out.splitlines()[0] == "0:0 /bin/busybox", r
    r = fe(moat, root, cmd=STAT + "; " + ROOT_MOUNT + "")
    assert r.rc == 0 and r.out.splitlines()[0] == "0:0 /bin/busybox", r
    assert "idmapped" not in r.out.splitlines()[3]
    assert owners(root) == before


def test_unmapped_owner_is_nobody(moat, make_bundle):
    """A host file owner outside the mapping stays unmapped: container uids
    0..999 only, so host uid 1000's file is nobody inside."""
    cfg = make_config(args=["/bin/sh", "-c", STAT], userns=True,
                      annotations={"org.moat.rootfs.idmap": "on"})
    for k in ("uidMappings", "gidMappings"):
        cfg["linux"][k][0]["size"] = 1000
    b = make_bundle()
    os.chown(os.path.join(b.path, "rootfs", "home", "user"), 0, 0)
    with open(os.path.join(b.path, "rootfs", "home", "user", "f"), "w") as f:
        f.write("x")
    os.chown(os.path.join(b.path, "rootfs", "home", "user", "f"), 1000, 1000)
    b.write(cfg)
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    assert r.out.splitlines()[:2] == ["0:0 /bin/busybox", "65534:65534 /home/user/f"], r.out


def test_oci_without_annotation_is_runc(moat, make_bundle):
    """runc semantics: the runtime does not touch the rootfs's ownership."""
    b = make_bundle()
    b.write(make_config(args=["/bin/sh", "-c", "stat -c '%u:%g %n' /bin/busybox"], userns=True))
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == "65534:65534 /bin/busybox", r.out
    assert os.stat(os.path.join(b.path, "rootfs", "bin", "busybox")).st_uid == 0


def test_oci_bad_annotation(moat, make_bundle):
    b = make_bundle()
    b.write(make_config(userns=True, annotations={"org.moat.rootfs.idmap": "maybe"}))
    r = moat.run(b, new_id())
    assert_error_line(r, "annotations.org.moat.rootfs.idmap: expected `on`, `chown` or `off`, got `maybe`")


def test_oci_idmap_bind_mounts(moat, make_bundle, test_dir):
    """idmap with the container's mapping, and uidMappings of its own (a new
    user namespace made for the mount): on-disk 0 -> container 0, and with
    {containerID 0, hostID 100000+500} on-disk 500 shows as container 0."""
    vol = os.path.join(test_dir, "vol")
    os.makedirs(vol)
    with open(os.path.join(vol, "a"), "w") as f:
        f.write("a")
    os.chown(os.path.join(vol, "a"), 500, 500)
    own = [{"containerID": 500, "hostID": USERNS_HOST_ID, "size": 1}]
    mounts = [
        {"destination": "/home", "type": "bind", "source": vol, "options": ["rbind", "ro", "idmap"]},
        {"destination": "/root", "type": "bind", "source": vol, "options": ["rbind", "ro", "ridmap"],
         "uidMappings": own, "gidMappings": own},
    ]
    b = make_bundle()
    b.write(make_config(args=["/bin/sh", "-c", "stat -c '%u:%g' /home/a /root/a; grep -E ' /(home|root) ' "
                              "/proc/self/mountinfo"], userns=True, mounts=mounts))
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[:2] == ["500:500", "0:0"], r.out
    assert all("idmapped" in l and "nosuid" in l and "nodev" in l for l in lines[2:4]), lines
    assert os.stat(os.path.join(vol, "a")).st_uid == 500


def test_idmap_needs_userns(moat, make_bundle, test_dir):
    vol = os.path.join(test_dir, "vol")
    os.makedirs(vol)
    b = make_bundle()
    b.write(make_config(mounts=[{"destination": "/home", "type": "bind", "source": vol,
                                 "options": ["rbind", "idmap"]}]))
    r = moat.run(b, new_id())
    assert_error_line(r, "idmapped mounts need a new user namespace")


def test_frontend_volume_idmap(moat, rootfs_template, test_dir):
    vol = os.path.join(test_dir, "vol")
    os.makedirs(vol)
    open(os.path.join(vol, "a"), "w").close()
    r = fe(moat, rootfs_template, "-v", f"{vol}:/mnt:ro,idmap", cmd="stat -c '%u' /mnt/a; touch /mnt/b 2>&1")
    assert r.rc != 0 or "Read-only" in r.out, r
    assert r.out.splitlines()[0] == "0", r
    assert not os.path.exists(os.path.join(vol, "b"))
    r = fe(moat, rootfs_template, "-v", f"{vol}:/mnt:idmap", cmd="true")
    assert_error_line(r, "idmap needs ro")


def test_fallback_where_the_filesystem_cannot_idmap(moat, rootfs_template, test_dir):
    """ramfs has no idmapped mounts (and no trusted xattrs): the root is
    chowned once, the stamp is a file in /run/moat/.idmap-stamps."""
    mnt = os.path.join(test_dir, "ramfs")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "ramfs", "ramfs", mnt], check=True)
    stamp = None
    try:
        os.chmod(mnt, 0o755)
        root = fresh_rootfs(rootfs_template, mnt)
        r = fe(moat, root, cmd=STAT + "; " + ROOT_MOUNT + "")
        assert r.rc == 0, r
        if "idmapped" in r.out:
            pytest.skip("ramfs can be idmapped on this kernel: no fallback to test")
        assert r.out.splitlines()[0] == "0:0 /bin/busybox", r.out
        assert os.stat(os.path.join(root, "bin", "busybox")).st_uid == USERNS_HOST_ID
        st = os.stat(root)
        stamp = f"/run/moat/.idmap-stamps/{st.st_dev:x}-{st.st_ino:x}"
        assert open(stamp).read() == f"uid 0 {USERNS_HOST_ID} 65536\ngid 0 {USERNS_HOST_ID} 65536\n"
        before = owners(root)
        r = fe(moat, root, cmd=STAT)
        assert r.rc == 0, r
        assert owners(root) == before
    finally:
        subprocess.run(["umount", mnt], check=True)
        if stamp and os.path.exists(stamp):
            os.unlink(stamp)


def test_copied_stamp_does_not_count(moat, rootfs_template, test_dir):
    """cp -a of a chowned root carries the stamp xattr but the copy's owners
    are whatever the copier made them: the stamp names the original's inode,
    so the copy is walked again."""
    a = fresh_rootfs(rootfs_template, test_dir, "a")
    assert fe(moat, a, "--read-only=false", cmd="true").rc == 0
    b = os.path.join(test_dir, "b")
    shutil.copytree(a, b, symlinks=True)  # as root: every file owned by 0 again
    assert os.getxattr(b, STAMP) == os.getxattr(a, STAMP)
    os.chown(os.path.join(b, "bin", "busybox"), 0, 0)
    r = fe(moat, b, "--read-only=false", cmd=STAT)
    assert r.rc == 0 and r.out.splitlines()[0] == "0:0 /bin/busybox", r
