"""CVE-2025-52565: with terminal=true /dev/console is the pts the runtime
allocated (char, major 136), masking and read-only paths still hold, and a
pre-created rootfs /dev/console symlink is never followed."""

import json
import os

import pytest

from moat_testlib import (DOCKER_MASKED, ConsoleSocket, make_config,
                          mounts_mentioning, new_id, std_mounts_without_dev)

MASKED = [p for p in DOCKER_MASKED if os.path.isfile(p)][0]
SCRIPT = (f"/bin/moat-probe stat /dev/console; /bin/moat-probe stat {MASKED}; "
          "/bin/moat-probe write /proc/sys/kernel/hostname x; "
          f"/bin/moat-probe read {MASKED}; /bin/moat-probe status")


def _run_with_console(moat, bundle, test_dir):
    sock = ConsoleSocket(os.path.join(test_dir, "console.sock"))
    cid = new_id()
    try:
        r = moat.create(bundle, cid, "--console-socket", sock.path)
        if r.rc != 0:
            return r, None
        moat("start", cid).ok()
        moat.wait_status(cid, "stopped", timeout=15)
        text = sock.wait()
        assert sock.error is None, sock.error
    finally:
        sock.close()
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines()]
    return r, [json.loads(line) for line in lines if line.startswith("{")]


def _check(res):
    console, kcore, hostname_w, kcore_r, status = res
    assert console["type"] == "chr", console
    assert console["rdev"].split(":")[0] == "136", f"/dev/console is not a pts: {console}"
    assert kcore["type"] == "chr" and kcore["rdev"] == "1:3", kcore
    assert hostname_w["result"] in ("EROFS", "EACCES"), hostname_w
    assert kcore_r["bytes"] == 0
    # The console is the controlling terminal on stdio.
    assert all(f["target"].startswith("/dev/pts/") for f in status["fds"] if f["fd"] < 3), status


@pytest.mark.parametrize("userns", [False, True])
def test_console_is_pts(moat, bundle, test_dir, userns):
    bundle.write(make_config(args=["/bin/sh", "-c", SCRIPT], terminal=True, userns=userns))
    r, res = _run_with_console(moat, bundle, test_dir)
    assert r.rc == 0, r
    _check(res)


def test_precreated_console_symlink_not_followed(moat, bundle, test_dir):
    canary = os.path.join(test_dir, "canary-console")
    with open(canary, "w") as f:
        f.write("canary")
    before = os.stat(canary)
    os.symlink(canary, bundle.rpath("/dev/console"))
    cfg = std_mounts_without_dev(make_config(args=["/bin/sh", "-c", SCRIPT], terminal=True))
    # Keep a devpts instance: the console comes from it.
    cfg["mounts"].append({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                          "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                      "mode=0620", "gid=5"]})
    bundle.write(cfg)
    r, res = _run_with_console(moat, bundle, test_dir)
    if r.rc == 0:
        _check(res)
    else:
        assert r.err_lines, r
    assert mounts_mentioning(canary) == []
    with open(canary) as f:
        assert f.read() == "canary"
    after = os.stat(canary)
    assert (after.st_mtime_ns, after.st_ino, after.st_mode) == \
        (before.st_mtime_ns, before.st_ino, before.st_mode)
