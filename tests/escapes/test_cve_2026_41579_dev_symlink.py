"""CVE-2026-41579 / CVE-2026-47766: a rootfs whose /dev is a symlink out of
the rootfs, with no /dev mount in the config: device nodes and links are
never created on the host; create fails or confines them."""

import os

import pytest

from moat_testlib import (make_canary_dir, make_config, mounts_mentioning, new_id,
                          snapshot_tree, std_mounts_without_dev)


@pytest.mark.parametrize("kind", ["abs", "rel"])
def test_dev_symlink_to_host(moat, bundle, test_dir, kind):
    canary = make_canary_dir(test_dir)
    snap = snapshot_tree(canary)
    os.rmdir(bundle.rpath("/dev"))
    depth = bundle.rootfs.count("/") + 2
    os.symlink(canary if kind == "abs" else "../" * depth + canary.lstrip("/"),
               bundle.rpath("/dev"))
    bundle.write(std_mounts_without_dev(make_config(args=["/bin/moat-probe", "status"])))
    r = moat.run(bundle, new_id())
    assert r.rc == 0 or r.err_lines, r
    assert snapshot_tree(canary) == snap, f"created on the host: {os.listdir(canary)}"
    assert mounts_mentioning(canary) == []
