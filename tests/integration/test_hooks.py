"""Hooks run in the runtime namespace at their lifecycle points and receive
the container state on stdin."""

import json
import os

from moat_testlib import make_config, new_id, wait_for


def _hook(test_dir, name, env=None):
    out = os.path.join(test_dir, f"hook.{name}")
    h = {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}.tmp; mv {out}.tmp {out}"]}
    if env:
        h["env"] = env
    return h, out


def _load(p):
    with open(p) as f:
        return json.load(f)


def test_hooks_get_state(moat, bundle, test_dir):
    cr, cr_out = _hook(test_dir, "createRuntime")
    ps, ps_out = _hook(test_dir, "poststart")
    pst, pst_out = _hook(test_dir, "poststop")
    bundle.write(make_config(args=["/bin/moat-probe", "sleep", "30"],
                             hooks={"createRuntime": [cr], "poststart": [ps], "poststop": [pst]}))
    cid = new_id()
    moat.create(bundle, cid).ok()
    pid = moat.state(cid)["pid"]
    st = _load(cr_out)
    assert st["id"] == cid and st["pid"] == pid, st
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    assert st["status"] == "creating", st
    assert not os.path.exists(ps_out), "poststart ran before start"
    moat("start", cid).ok()
    wait_for(lambda: os.path.exists(ps_out), timeout=5, what="poststart hook")
    st = _load(ps_out)
    assert st["id"] == cid and st["pid"] == pid, st
    assert not os.path.exists(pst_out), "poststop ran before delete"
    moat("delete", "--force", cid).ok()
    wait_for(lambda: os.path.exists(pst_out), timeout=5, what="poststop hook")
    assert _load(pst_out)["id"] == cid


def test_hook_env_and_args(moat, bundle, test_dir):
    out = os.path.join(test_dir, "hook.env")
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"echo \"$0 $MOAT_HOOK_VAR\" > {out}", "arg0"],
            "env": ["MOAT_HOOK_VAR=hello", "PATH=/bin:/usr/bin"]}
    bundle.write(make_config(hooks={"createRuntime": [hook]}))
    cid = new_id()
    moat.create(bundle, cid).ok()
    with open(out) as f:
        assert f.read().split() == ["arg0", "hello"]
