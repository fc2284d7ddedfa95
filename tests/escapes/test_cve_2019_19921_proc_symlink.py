"""CVE-2019-19921 / CVE-2023-27561: /proc or /sys replaced by a symlink in
the rootfs must make create fail, and nothing may be mounted on the target."""

import os

import pytest

from moat_testlib import (assert_error_line, assert_nothing_left, make_canary_dir,
                          mounts_mentioning, new_id, snapshot_tree)


@pytest.mark.parametrize("path", ["/proc", "/sys"])
@pytest.mark.parametrize("target", ["host", "inside"])
def test_proc_sys_symlink_refused(moat, bundle, test_dir, path, target):
    canary = make_canary_dir(test_dir)
    snap = snapshot_tree(canary)
    os.rmdir(bundle.rpath(path))
    if target == "host":
        os.symlink(canary, bundle.rpath(path))
    else:
        os.makedirs(bundle.rpath("/fake" + path))
        os.symlink("/fake" + path, bundle.rpath(path))
    cid = new_id()
    r = moat.create(bundle, cid)
    assert_error_line(r, path)
    assert_nothing_left(moat, cid)
    assert mounts_mentioning(canary) == []
    assert snapshot_tree(canary) == snap
    if target == "inside":
        assert os.listdir(bundle.rpath("/fake" + path)) == []
