"""CVE-2025-24965 class: files the runtime might read from the rootfs (here
/etc/passwd and /etc/group, for user lookups) are symlinks to host canary
files; the host files are never read (their atime stays put under relatime)
and the container still runs with the numeric ids it was given."""

import os

from moat_testlib import make_config, new_id


def _canary(test_dir, name):
    p = os.path.join(test_dir, name)
    with open(p, "w") as f:
        f.write("root:x:0:0:CANARY:/:/bin/sh\n")
    os.chmod(p, 0o644)
    # atime older than mtime: with relatime any read updates the atime.
    os.utime(p, (1_000_000, os.stat(p).st_mtime))
    return p


def test_passwd_group_symlinks_not_followed_on_host(moat, bundle, test_dir):
    pw = _canary(test_dir, "canary-passwd")
    gr = _canary(test_dir, "canary-group")
    os.unlink(bundle.rpath("/etc/passwd"))
    os.unlink(bundle.rpath("/etc/group"))
    os.symlink(pw, bundle.rpath("/etc/passwd"))
    os.symlink(gr, bundle.rpath("/etc/group"))
    bundle.write(make_config(args=["/bin/sh", "-c",
                                   "/bin/moat-probe status; /bin/moat-probe read /etc/passwd; "
                                   "/bin/moat-probe sleep 30"],
                             uid=1000, gid=1000, additional_gids=[1000]))
    cid = new_id()
    r = moat.create(bundle, cid)
    assert r.rc == 0, f"create must not fail or depend on the symlinked passwd: {r}"
    moat("start", cid).ok()
    moat("exec", "--user", "1000", cid, "/bin/moat-probe", "status").ok()
    moat("exec", cid, "/bin/moat-probe", "status").ok()
    moat("kill", cid, "KILL").ok()
    moat.wait_status(cid, "stopped")
    from moat_testlib import read_text
    import json
    res = [json.loads(x) for x in read_text(r.out_path).splitlines() if x.startswith('{"')]
    st, rd = res[0], res[1]
    assert (st["uid"], st["gid"]) == (1000, 1000)
    assert rd.get("data") is None or "CANARY" not in rd["data"], \
        "the in-container symlink reached the host file"
    for p in (pw, gr):
        assert os.stat(p).st_atime == 1_000_000, f"host canary {p} was read"
