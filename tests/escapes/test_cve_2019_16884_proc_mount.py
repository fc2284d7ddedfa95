"""CVE-2019-16884 / CVE-2023-28642: a bind mount over /proc or anything
below it (which could fake /proc/self/attr, sysctls ...) is refused."""

import os

import pytest

from moat_testlib import assert_error_line, assert_nothing_left, make_config, new_id


@pytest.mark.parametrize("dest", ["/proc", "/proc/self/attr", "/proc/sys/kernel",
                                  "/proc/self", "/proc/sysrq-trigger"])
def test_bind_over_proc_refused(moat, bundle, test_dir, dest):
    src = os.path.join(test_dir, "fake-proc")
    os.makedirs(src)
    if dest == "/proc/sysrq-trigger":
        src = os.path.join(src, "file")
        open(src, "w").close()
    bundle.write(make_config(mounts=[{"destination": dest, "type": "bind",
                                      "source": src, "options": ["rbind"]}]))
    cid = new_id()
    r = moat.create(bundle, cid)
    assert_error_line(r, dest)
    assert_nothing_left(moat, cid)


def test_tmpfs_over_proc_refused(moat, bundle):
    cfg = make_config()
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/proc"]
    cfg["mounts"].insert(0, {"destination": "/proc", "type": "tmpfs", "source": "tmpfs"})
    bundle.write(cfg)
    cid = new_id()
    r = moat.create(bundle, cid)
    assert_error_line(r, "/proc")
    assert_nothing_left(moat, cid)
