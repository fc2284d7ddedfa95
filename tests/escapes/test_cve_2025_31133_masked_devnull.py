"""CVE-2025-31133: masked files are the real /dev/null (char 1:3, empty
reads) even when the rootfs's /dev/null is a symlink (to a host canary or to
a procfs file) or missing and /dev is bind-mounted from the rootfs; masking
is never skipped and the canary is never touched."""

import os

import pytest

from moat_testlib import DOCKER_MASKED, make_config, new_id, probe_json

MASKED_FILES = [p for p in DOCKER_MASKED if os.path.isfile(p)]
MASKED_DIRS = [p for p in DOCKER_MASKED if os.path.isdir(p)]


def _script(write):
    cmds = []
    for p in MASKED_FILES:
        cmds.append(f"/bin/moat-probe stat {p}; /bin/moat-probe read {p}")
        if write:
            cmds.append(f"/bin/moat-probe write {p} pwned")
    for p in MASKED_DIRS:
        cmds.append(f"/bin/moat-probe stat {p}")
    return "; ".join(cmds)


def _check_masking(out, write):
    import json
    res = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    i = 0
    for p in MASKED_FILES:
        st, rd = res[i], res[i + 1]
        i += 3 if write else 2
        assert st["type"] == "chr" and st["rdev"] == "1:3", f"{p} not masked: {st}"
        assert rd["error"] is None and rd["bytes"] == 0, f"{p} readable: {rd}"
    for p in MASKED_DIRS:
        st = res[i]
        i += 1
        assert st["type"] == "dir" and st["entries"] == [], f"{p} not masked: {st}"


def _dev_bind_config(bundle, args):
    cfg = make_config(args=args)
    cfg["mounts"] = [
        {"destination": "/dev", "type": "bind", "source": bundle.rpath("/dev"),
         "options": ["rbind", "rw"]} if m["destination"] == "/dev" else m
        for m in cfg["mounts"]]
    return cfg


def test_default_masking(moat, bundle):
    assert MASKED_FILES and MASKED_DIRS
    bundle.write(make_config(args=["/bin/sh", "-c", _script(write=True)]))
    r = moat.run(bundle, new_id())
    assert r.rc == 0, r
    _check_masking(r.out, write=True)


@pytest.mark.parametrize("variant", ["host-canary", "missing"])
def test_devnull_symlink_with_dev_bind(moat, bundle, test_dir, variant):
    canary = os.path.join(test_dir, "canary-file")
    with open(canary, "w") as f:
        f.write("canary")
    os.chmod(canary, 0o666)
    before = os.stat(canary)
    if variant == "host-canary":
        os.symlink(canary, bundle.rpath("/dev/null"))
    bundle.write(_dev_bind_config(bundle, ["/bin/sh", "-c", _script(write=True)]))
    r = moat.run(bundle, new_id())
    if r.rc == 0:
        _check_masking(r.out, write=True)
    else:
        assert r.err_lines, r
    with open(canary) as f:
        assert f.read() == "canary", "host canary written through a masked path"
    assert os.stat(canary).st_mtime_ns == before.st_mtime_ns


def test_devnull_symlink_to_core_pattern(moat, bundle):
    with open("/proc/sys/kernel/core_pattern") as f:
        core = f.read()
    os.symlink("/proc/sys/kernel/core_pattern", bundle.rpath("/dev/null"))
    # No writes in this variant: a vulnerable runtime would hand the
    # container the host's core_pattern.
    bundle.write(_dev_bind_config(bundle, ["/bin/sh", "-c", _script(write=False) +
                                           "; /bin/moat-probe mountinfo"]))
    r = moat.run(bundle, new_id())
    if r.rc == 0:
        _check_masking(r.out, write=False)
        mounts = probe_json(r.out)["mounts"]
        for m in mounts:
            if m["dest"] in MASKED_FILES:
                assert m["root"] != "/sys/kernel/core_pattern", m
    else:
        assert r.err_lines, r
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == core
