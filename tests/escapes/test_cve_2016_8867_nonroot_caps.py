"""CVE-2016-8867: a non-root container user has no effective or permitted
capabilities (ambient is not filled behind the user's back)."""

import pytest

from moat_testlib import make_config, new_id, probe_json

MANY = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN",
        "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID"]


@pytest.mark.parametrize("userns", [False, True])
def test_nonroot_user_no_caps(moat, bundle, userns):
    bundle.write(make_config(args=["/bin/moat-probe", "status"], caps=MANY,
                             uid=1000, gid=1000, userns=userns))
    r = moat.run(bundle, new_id())
    assert r.rc == 0, r
    st = probe_json(r.out)
    assert st["uid"] == 1000
    for f in ("CapEff", "CapPrm", "CapAmb", "CapInh"):
        assert int(st[f], 16) == 0, f"{f} = {st[f]} for uid 1000"


def test_exec_nonroot_user_no_caps(moat, bundle):
    bundle.write(make_config(args=["/bin/moat-probe", "sleep", "30"], caps=MANY))
    cid = new_id()
    moat.start_probe(bundle, cid)
    r = moat("exec", "--user", "1000:1000", cid, "/bin/moat-probe", "status")
    assert r.rc == 0, r
    st = probe_json(r.out)
    assert st["uid"] == 1000
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
