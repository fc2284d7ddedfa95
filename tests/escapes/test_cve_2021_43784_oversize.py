"""CVE-2021-43784 (runc GHSA-v95c-p5hm-xq8f): a netlink bytemsg longer than
UINT16_MAX overflowed its length field, so user data (a huge uid map or
namespace path) was parsed by runc init as control attributes.

moat's init is forked from the parent and inherits the parsed config; what
crosses the parent -> init boundary is the id maps (written by the parent into
/proc/<init>/uid_map and gid_map), the namespace fds (opened by the parent)
and sync messages, of which the hooks state (holding the config's annotations)
is the one with user-sized content.  The property: a config with an oversize
field either works, as verified from inside the container or by a hook, or
fails with exactly one `moat: ...` line naming the field, exit 1 and nothing
left behind.  The framing itself is unit-tested in tests/unit/test_sync.c and
the map bounds in tests/unit/test_spec.c (test_idmap_text_bounds).
"""

import json
import os

import pytest

from moat_testlib import (IS_RUNC, assert_error_line, assert_nothing_left,
                          make_config, new_id, probe_json)

KIB = 1024
# The id range the 340-line maps use; they do not overlap USERNS_HOST_ID.
MAP_HOST_BASE = 60000


def _maps(n, cbase, hbase):
    return [{"containerID": cbase + i, "hostID": hbase + i, "size": 1} for i in range(n)]


def _refused(moat, bundle, cfg, *needles):
    bundle.write(cfg)
    cid = new_id()
    r = moat.run(bundle, cid, timeout=60)
    assert_error_line(r, *needles)
    assert r.out == "", f"the container ran: {r}"
    assert_nothing_left(moat, cid)
    return r


# ---- fails, naming the field ---------------------------------------------------

def test_namespace_path_70k(moat, bundle):
    cfg = make_config()
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                  if n["type"] != "network"]
    cfg["linux"]["namespaces"].append({"type": "network", "path": "/" + "n" * 70 * KIB})
    _refused(moat, bundle, cfg, "linux.namespaces")


def test_hostname_70k(moat, bundle):
    _refused(moat, bundle, make_config(hostname="h" * 70 * KIB), "hostname")


@pytest.mark.parametrize("n,cbase,hbase", [
    (341, 0, MAP_HOST_BASE),                 # the kernel's 340-line limit
    (4096, 0, MAP_HOST_BASE),                # far beyond it
    (171, 1000000000, 2000000000),           # 171 lines, 4104 bytes: over a page
])
def test_uid_map_over_kernel_limits(moat, bundle, n, cbase, hbase):
    cfg = make_config(userns=True)
    root = {"containerID": 0, "hostID": 100000, "size": 1}
    cfg["linux"]["uidMappings"] = [root] + _maps(n, cbase + 1, hbase)
    _refused(moat, bundle, cfg, "uidMappings")


def test_hooks_state_over_the_message_limit(moat, bundle):
    """300 KiB of annotations with a hook: the state the init's hooks get
    does not fit one sync message.  (Before the fix, 208-256 KiB made the
    parent's send fail with EMSGSIZE and both sides wait for each other
    forever; this size failed the same way.)"""
    if IS_RUNC:
        pytest.skip("runc passes any state size")
    cfg = make_config(hooks={"createRuntime": [{"path": "/bin/true"}]},
                      annotations={"org.moat.test.big": "a" * 300 * KIB})
    _refused(moat, bundle, cfg, "annotations")


def test_sysctl_value_70k(moat, bundle):
    """procfs takes a sysctl write of at most a page: the 70 KiB value is
    refused naming the key (and the value in the container stays)."""
    cfg = make_config(sysctl={"kernel.shm_rmid_forced": "0" * 70 * KIB + "1"})
    _refused(moat, bundle, cfg, "kernel.shm_rmid_forced")


def test_single_env_string_over_max_arg_strlen(moat, bundle):
    cfg = make_config(args=["/bin/sh", "-c", "echo ${#BIG}"],
                      env=["PATH=/bin", "BIG=" + "x" * 200 * KIB])
    _refused(moat, bundle, cfg, "process.env" if not IS_RUNC else "")


# ---- works, and the kernel shows the whole value --------------------------------

def test_uid_map_340_lines_applied(moat, bundle):
    cfg = make_config(args=["/bin/moat-probe", "status"], userns=True)
    cfg["linux"]["uidMappings"] = _maps(340, 0, MAP_HOST_BASE)
    cfg["linux"]["gidMappings"] = _maps(340, 0, MAP_HOST_BASE)
    bundle.write(cfg)
    r = moat.run(bundle, new_id(), timeout=60)
    assert r.rc == 0, r
    st = probe_json(r.out)
    for key in ("uid_map", "gid_map"):
        lines = [tuple(int(x) for x in line.split()) for line in st[key].splitlines()]
        assert lines == [(i, MAP_HOST_BASE + i, 1) for i in range(340)], (key, lines[:3], len(lines))
    assert st["uid"] == 0 and st["gid"] == 0, st


def test_big_env_and_args_within_arg_max(moat, bundle):
    """A 100 KiB variable, 500 more of 1 KiB and 300 arguments of 1000 bytes
    (about 0.9 MiB, under ARG_MAX with the default 8 MiB stack): all arrive."""
    env = ["PATH=/bin", "BIG=" + "x" * 100 * KIB] + \
        [f"E{i}=" + "z" * 1000 for i in range(500)]
    args = ["/bin/sh", "-c", 'echo "$# ${#BIG} ${#E499} ${#300}"', "sh"] + \
        ["y" * 999 + str(i % 10) for i in range(300)]
    bundle.write(make_config(args=args, env=env))
    r = moat.run(bundle, new_id(), timeout=60)
    assert r.rc == 0, r
    assert r.out.split() == ["300", str(100 * KIB), "1000", "1000"], r


def test_hooks_state_under_the_message_limit(moat, bundle, test_dir):
    """220 KiB of annotations (over the default socket buffer, under the
    sync limit): a createContainer hook, run by the init from the state it
    received over the sync socket, sees every byte."""
    out = os.path.join(test_dir, "hook-state.json")
    big = "".join(chr(ord("a") + i % 26) for i in range(220 * KIB))
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}"]}
    bundle.write(make_config(hooks={"createContainer": [hook]},
                             annotations={"org.moat.test.big": big}))
    cid = new_id()
    r = moat.run(bundle, cid, timeout=60)
    assert r.rc == 0, r
    with open(out) as f:
        state = json.load(f)
    assert state["id"] == cid, state.get("id")
    assert state["annotations"]["org.moat.test.big"] == big
