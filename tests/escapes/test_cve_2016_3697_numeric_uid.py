"""CVE-2016-3697: a numeric user is a uid, never a user name looked up in
the image's /etc/passwd (where "1000" could be a name for uid 0)."""

from moat_testlib import make_config, new_id


def _poison(bundle):
    with open(bundle.rpath("/etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n1000:x:0:0::/:/bin/sh\n")
    with open(bundle.rpath("/etc/group"), "w") as f:
        f.write("root:x:0:\n1000:x:0:\n")


def test_config_numeric_uid(moat, bundle):
    _poison(bundle)
    bundle.write(make_config(args=["/bin/sh", "-c", "id -u; id -g"], uid=1000, gid=1000))
    r = moat.run(bundle, new_id())
    assert r.rc == 0 and r.out.split() == ["1000", "1000"], r


def test_exec_numeric_user(moat, bundle):
    _poison(bundle)
    bundle.write(make_config(args=["/bin/moat-probe", "sleep", "30"]))
    cid = new_id()
    moat.start_probe(bundle, cid)
    r = moat("exec", "--user", "1000", cid, "/bin/sh", "-c", "id -u")
    assert r.rc == 0 and r.out.split() == ["1000"], r
