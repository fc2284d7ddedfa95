"""CVE-2024-21626 (Leaky Vessels): no host fd reaches the container (only
0, 1, 2 and explicitly preserved ones), a cwd through /proc/self/fd/N is
refused, and getcwd() works inside."""

import os

import pytest

from moat_testlib import make_config, new_id, probe_json, read_text


def _leaky_fds():
    """Non-CLOEXEC fds the runtime inherits from its caller: a host
    directory (the CVE's cgroup fd), a host file and a pipe."""
    d = os.open("/sys/fs/cgroup", os.O_RDONLY | os.O_DIRECTORY)
    f = os.open("/etc/hostname", os.O_RDONLY)
    r, w = os.pipe()
    fds = (d, f, r, w)
    for fd in fds:
        os.set_inheritable(fd, True)
    return fds


def test_only_stdio_in_container(moat, bundle):
    fds = _leaky_fds()
    try:
        bundle.write(make_config(args=["/bin/moat-probe", "status"]))
        r = moat.run(bundle, new_id(), pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    assert r.rc == 0, r
    st = probe_json(r.out)
    assert sorted(x["fd"] for x in st["fds"]) == [0, 1, 2], st["fds"]
    for x in st["fds"]:
        assert "cgroup" not in x["target"] and "hostname" not in x["target"], x


def test_preserve_fds(moat, bundle, test_dir):
    p = os.path.join(test_dir, "preserved")
    with open(p, "w") as f:
        f.write("x")
    keep = os.open(p, os.O_RDONLY)
    leak = _leaky_fds()
    try:
        bundle.write(make_config(args=["/bin/moat-probe", "status"]))
        cid = new_id()
        # The preserved fd must be fd 3 in the runtime; move it there in the
        # child only (fd 3 of this process belongs to pytest).
        r = moat.create(bundle, cid, "--preserve-fds", "1", pass_fds=(3, keep) + leak,
                        preexec_fn=lambda: os.dup2(keep, 3))
        assert r.rc == 0, r
        moat("start", cid).ok()
        moat.wait_status(cid, "stopped")
    finally:
        for fd in (keep,) + leak:
            os.close(fd)
    st = probe_json(read_text(r.out_path))
    got = {x["fd"]: x["target"] for x in st["fds"]}
    assert sorted(got) == [0, 1, 2, 3], got
    assert got[3] == p


@pytest.mark.parametrize("via", ["config", "exec"])
def test_cwd_through_proc_fd_refused(moat, make_bundle, via):
    if via == "config":
        for n in range(3, 9):
            b = make_bundle(args=["/bin/moat-probe", "status"], cwd=f"/proc/self/fd/{n}")
            r = moat.run(b, new_id())
            assert r.rc != 0, f"cwd /proc/self/fd/{n} accepted: {r}"
            assert '"cwd"' not in r.out, f"the process ran with cwd /proc/self/fd/{n}: {r}"
    else:
        b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
        cid = new_id()
        moat.start_probe(b, cid)
        for n in range(3, 9):
            r = moat("exec", "--cwd", f"/proc/self/fd/{n}", cid, "/bin/moat-probe", "status")
            assert r.rc != 0, f"exec --cwd /proc/self/fd/{n} accepted: {r}"
            assert '"cwd"' not in r.out, r


def test_getcwd_works(moat, bundle):
    for cwd in ("/", "/etc", "/tmp"):
        bundle.write(make_config(args=["/bin/moat-probe", "status"], cwd=cwd))
        r = moat.run(bundle, new_id())
        st = probe_json(r.out)
        assert st["cwd"] == cwd and st["cwd_error"] is None, st
