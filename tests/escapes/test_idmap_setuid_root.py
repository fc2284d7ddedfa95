"""Idmapped mounts write through as the on-disk owner: a file container root
creates through a writable idmapped mount is host uid 0.  Marked setuid, it
would be a setuid-root binary for every host user (the container's nosuid
does not apply on the host).  moat never idmaps a writable root (it chowns
instead) and `moat run -v ...:idmap` must be read-only; checked from inside:
container root makes a setuid copy of busybox in every writable place, and
the host must not get a root-owned set-uid file out of it."""

import os
import shutil
import stat

import pytest

from moat_testlib import IS_RUNC, USERNS_HOST_ID, as_host_user, make_config, new_id

pytestmark = pytest.mark.skipif(IS_RUNC, reason="moat's idmap handling")

PLANT = "cp /bin/busybox {p} && chmod 4755 {p} && stat -c '%u %a' {p}"


def assert_not_host_root_setuid(path):
    st = os.lstat(path)
    assert not (st.st_uid == 0 and st.st_mode & stat.S_ISUID), \
        f"{path}: host-root-owned set-uid file made by the container ({oct(st.st_mode)})"
    # And run as an unprivileged host user it does not give root.
    euid = as_host_user(1000, lambda: os.popen(f"{path} id -u").read().strip())
    assert euid != "0", f"{path} gave host euid 0"


def test_writable_root_front_end(moat, rootfs_template, test_dir):
    root = os.path.join(test_dir, "rootfs")
    shutil.copytree(rootfs_template, root, symlinks=True)
    os.chmod(test_dir, 0o755)
    r = moat("run", "--rm", "--read-only=false", root, "/bin/sh", "-c", PLANT.format(p="/sx"))
    moat.ids.clear()
    assert r.rc == 0, r
    assert r.out.split() == ["0", "4755"], r  # inside: container root's setuid file
    assert os.lstat(os.path.join(root, "sx")).st_uid == USERNS_HOST_ID
    assert_not_host_root_setuid(os.path.join(root, "sx"))


def test_writable_root_oci_annotation(moat, make_bundle):
    """The annotation asks for an idmapped root; writable, it is chowned."""
    b = make_bundle()
    b.write(make_config(args=["/bin/sh", "-c", PLANT.format(p="/sx")], userns=True, readonly=False,
                        annotations={"org.moat.rootfs.idmap": "on"}))
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    assert_not_host_root_setuid(os.path.join(b.path, "rootfs", "sx"))


def test_idmapped_volume_is_read_only(moat, rootfs_template, test_dir):
    vol = os.path.join(test_dir, "vol")
    os.makedirs(vol)
    r = moat("run", "--rm", "-v", f"{vol}:/mnt:ro,idmap", rootfs_template, "/bin/sh", "-c",
             PLANT.format(p="/mnt/sx"))
    moat.ids.clear()
    assert r.rc != 0 and "Read-only file system" in r.err, r
    assert os.listdir(vol) == []
    r = moat("run", "--rm", "-v", f"{vol}:/mnt:rw,idmap", rootfs_template, "/bin/true")
    moat.ids.clear()
    assert r.rc != 0 and "idmap needs ro" in r.err, r
