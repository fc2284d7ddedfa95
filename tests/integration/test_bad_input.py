"""Bad input: every refused create prints one line naming the problem, exits
non-zero and leaves nothing behind (asserted here and again by the teardown)."""

import os
import time

import pytest

from moat_testlib import (IS_RUNC, assert_error_line, assert_nothing_left,
                          make_config, new_id, wait_for)


def create_fails(moat, bundle, *needles, cid=None, timeout=30):
    cid = cid or new_id()
    r = moat.create(bundle, cid, timeout=timeout)
    assert_error_line(r, *needles)
    assert_nothing_left(moat, cid)
    r2 = moat("state", cid)
    assert r2.rc != 0, f"state of a failed create must fail: {r2}"
    return r


def edit(bundle, fn, **knobs):
    cfg = make_config(**knobs)
    fn(cfg)
    bundle.write(cfg)


def test_malformed_json(moat, bundle):
    bundle.write(raw='{"ociVersion": "1.2.0", "process": {"args": ["/bin/true"]')
    create_fails(moat, bundle, "config.json")


def test_config_not_an_object(moat, bundle):
    bundle.write(raw='["not", "an", "object"]')
    create_fails(moat, bundle, "config.json")


def test_missing_config(moat, bundle):
    os.unlink(os.path.join(bundle.path, "config.json"))
    create_fails(moat, bundle, "config.json")


def test_unknown_namespace_type(moat, bundle):
    edit(bundle, lambda c: c["linux"]["namespaces"].append({"type": "bogusns"}))
    create_fails(moat, bundle, "bogusns")


def test_duplicate_namespace(moat, bundle):
    edit(bundle, lambda c: c["linux"]["namespaces"].append({"type": "pid"}))
    create_fails(moat, bundle, "pid")


def test_bad_capability_name(moat, bundle):
    edit(bundle, lambda c: c["process"]["capabilities"]["bounding"].append("CAP_NOT_A_CAP"))
    create_fails(moat, bundle, "CAP_NOT_A_CAP")


def test_relative_mount_destination(moat, bundle):
    edit(bundle, lambda c: c["mounts"].append(
        {"destination": "relative/dest", "type": "tmpfs", "source": "tmpfs"}))
    create_fails(moat, bundle, "relative/dest")


def test_missing_rootfs(moat, bundle):
    import shutil
    shutil.rmtree(bundle.rootfs)
    create_fails(moat, bundle, "rootfs")


def test_rootfs_is_a_file(moat, bundle):
    import shutil
    shutil.rmtree(bundle.rootfs)
    with open(bundle.rootfs, "w") as f:
        f.write("x")
    create_fails(moat, bundle, "rootfs")


def test_empty_args(moat, bundle):
    edit(bundle, lambda c: c["process"].update(args=[]))
    create_fails(moat, bundle, "args")


def test_relative_cwd(moat, bundle):
    edit(bundle, lambda c: c["process"].update(cwd="etc"))
    create_fails(moat, bundle, "cwd")


def test_unknown_rlimit(moat, bundle):
    edit(bundle, lambda c: c["process"]["rlimits"].append(
        {"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}))
    create_fails(moat, bundle, "RLIMIT_BOGUS")


def test_uid_mappings_without_userns(moat, bundle):
    def f(c):
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    edit(bundle, f)
    create_fails(moat, bundle, "mapping")


def test_hostname_without_uts_namespace(moat, bundle):
    edit(bundle, lambda c: c["linux"].update(
        namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "uts"]))
    create_fails(moat, bundle, "hostname")


def test_bind_mount_missing_source(moat, bundle, test_dir):
    missing = os.path.join(test_dir, "does-not-exist")
    edit(bundle, lambda c: c["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": missing, "options": ["rbind"]}))
    create_fails(moat, bundle, "does-not-exist")


def test_unknown_seccomp_action(moat, bundle):
    edit(bundle, lambda c: c["linux"]["seccomp"].update(defaultAction="SCMP_ACT_BOGUS"))
    create_fails(moat, bundle, "SCMP_ACT_BOGUS")


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "", ".", "..", "x y", "a\nb",
                                    "x" * 1025], ids=["dotdot-x", "a-slash-b", "empty",
                                                      "dot", "dotdot", "space", "newline",
                                                      "long"])
def test_invalid_ids(moat, bundle, bad_id, test_dir):
    before = set(os.listdir(test_dir))
    r = moat.create(bundle, bad_id)
    assert r.rc != 0, f"id {bad_id!r} accepted: {r}"
    assert len(r.err_lines) == 1, r
    if not IS_RUNC:
        assert r.err_lines[0].startswith("moat: "), r
    assert set(os.listdir(test_dir)) == before, "something created next to the state root"
    assert os.listdir(moat.root) == [] or all(
        not os.path.isdir(os.path.join(moat.root, e)) for e in os.listdir(moat.root))
    # Also refused by the other commands taking an id, without touching
    # anything outside the root.
    for cmd in (["state"], ["start"], ["kill"], ["delete"]):
        r = moat(*cmd, bad_id)
        assert r.rc != 0, r
    assert set(os.listdir(test_dir)) == before


def test_duplicate_id(moat, make_bundle):
    b1 = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    b2 = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.create(b1, cid).ok()
    st = moat.state(cid)
    r = moat.create(b2, cid)
    assert_error_line(r, cid)
    # The first container is untouched.
    st2 = moat.state(cid)
    assert st2["pid"] == st["pid"] and st2["status"] == "created"
    assert os.path.realpath(st2["bundle"]) == os.path.realpath(b1.path)


def test_failing_create_runtime_hook(moat, bundle, test_dir):
    marker = os.path.join(test_dir, "hook-ran")
    hooks = {"createRuntime": [{"path": "/bin/sh",
                                "args": ["sh", "-c", f"touch {marker}; exit 3"]}]}
    bundle.write(make_config(hooks=hooks))
    create_fails(moat, bundle, "hook")
    assert os.path.exists(marker), "the hook never ran"


def test_hanging_hook_times_out(moat, bundle, test_dir):
    pidfile = os.path.join(test_dir, "hook.pid")
    hooks = {"createRuntime": [{"path": "/bin/sh",
                                "args": ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"],
                                "timeout": 1}]}
    bundle.write(make_config(hooks=hooks))
    t0 = time.monotonic()
    create_fails(moat, bundle, "hook", timeout=20)
    assert time.monotonic() - t0 < 10, "the hook timeout was not enforced"
    hook_pid = int(open(pidfile).read())

    def gone():
        try:
            with open(f"/proc/{hook_pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True
    wait_for(gone, timeout=5, what="the timed-out hook to be killed")


def test_failing_poststart_hook_does_not_hide_container(moat, bundle, test_dir):
    """A prestart-class failure after create must still leave a deletable
    container or none at all; here createContainer fails."""
    hooks = {"createContainer": [{"path": "/bin/false", "args": ["false"]}]}
    bundle.write(make_config(hooks=hooks))
    create_fails(moat, bundle, "hook")


@pytest.mark.parametrize("argv", [["create"], ["start"], ["state"], ["kill"],
                                  ["bogus-command"], ["create", "--no-such-flag", "x"]])
def test_usage_errors(moat, argv):
    r = moat(*argv)
    assert r.rc == 2, f"usage error must exit 2: {r}"
    assert r.err_lines, r


def test_unknown_id_commands(moat):
    cid = "absent-" + new_id()
    for cmd in (["state", cid], ["start", cid], ["kill", cid, "KILL"], ["delete", cid],
                ["pause", cid], ["resume", cid], ["ps", cid]):
        r = moat(*cmd)
        assert_error_line(r, cid)
