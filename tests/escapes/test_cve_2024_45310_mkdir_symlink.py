"""CVE-2024-45310: creating a missing mount target must not follow a
symlinked intermediate directory out of the rootfs: the host canary stays
empty."""

import os

import pytest

from moat_testlib import make_canary_dir, make_config, new_id, snapshot_tree


@pytest.mark.parametrize("kind", ["abs", "rel"])
@pytest.mark.parametrize("mtype", ["tmpfs", "bind-file", "bind-dir"])
def test_missing_intermediate_is_symlink(moat, bundle, test_dir, kind, mtype):
    canary = make_canary_dir(test_dir)
    snap = snapshot_tree(canary)
    depth = bundle.rootfs.count("/") + 2
    target = canary if kind == "abs" else "../" * depth + canary.lstrip("/")
    os.symlink(target, bundle.rpath("/link"))
    src_file = os.path.join(test_dir, "src-file")
    with open(src_file, "w") as f:
        f.write("x")
    if mtype == "tmpfs":
        m = {"destination": "/link/a/b/c", "type": "tmpfs", "source": "tmpfs"}
    elif mtype == "bind-file":
        m = {"destination": "/link/a/file", "type": "bind", "source": src_file,
             "options": ["bind", "ro"]}
    else:
        m = {"destination": "/link/a/dir", "type": "bind", "source": test_dir,
             "options": ["rbind", "ro"]}
    bundle.write(make_config(args=["/bin/moat-probe", "status"], mounts=[m]))
    r = moat.run(bundle, new_id())
    assert r.rc == 0 or r.err_lines, r
    assert snapshot_tree(canary) == snap, f"created on the host: {os.listdir(canary)}"
