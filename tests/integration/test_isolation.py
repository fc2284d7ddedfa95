"""Isolation: what the kernel reports from inside a default container."""

import os

import pytest

from moat_testlib import (DEFAULT_CAPS, DENIED_SYSCALLS, DOCKER_MASKED,
                          DOCKER_READONLY, USERNS_HOST_ID, USERNS_SIZE, cap_mask,
                          make_config, mounts_mentioning, new_id, probe_json,
                          probe_script, run_probe, wait_for)


def caps(status, field):
    return int(status[field], 16)


def map_lines(text):
    return [line.split() for line in text.strip().splitlines()]


def test_userns_maps_root_elsewhere(moat, bundle):
    st = run_probe(moat, bundle, "status", userns=True)
    assert map_lines(st["uid_map"]) == [["0", str(USERNS_HOST_ID), str(USERNS_SIZE)]]
    assert map_lines(st["gid_map"]) == [["0", str(USERNS_HOST_ID), str(USERNS_SIZE)]]
    assert st["uid"] == 0 and st["gid"] == 0


def test_userns_host_sees_mapped_uid(moat, bundle):
    bundle.write(__import__("moat_testlib").make_config(
        args=["/bin/moat-probe", "sleep", "30"], userns=True))
    cid = new_id()
    pid = moat.start_probe(bundle, cid)
    with open(f"/proc/{pid}/status") as f:
        uid_line = [line for line in f if line.startswith("Uid:")][0]
    assert uid_line.split()[1:] == [str(USERNS_HOST_ID)] * 4


def test_without_userns_identity_map(moat, bundle):
    st = run_probe(moat, bundle, "status", userns=False)
    assert map_lines(st["uid_map"]) == [["0", "0", "4294967295"]]


@pytest.mark.parametrize("userns", [False, True])
def test_capabilities_as_configured(moat, bundle, userns):
    st = run_probe(moat, bundle, "status", userns=userns)
    want = cap_mask(DEFAULT_CAPS)
    assert caps(st, "CapEff") == want
    assert caps(st, "CapPrm") == want
    assert caps(st, "CapBnd") == want
    assert caps(st, "CapInh") == 0
    assert caps(st, "CapAmb") == 0


def test_capabilities_extra_cap(moat, bundle):
    want = DEFAULT_CAPS + ["CAP_CHOWN", "CAP_SYS_CHROOT"]
    st = run_probe(moat, bundle, "status", caps=want)
    assert caps(st, "CapEff") == cap_mask(want)
    assert caps(st, "CapBnd") == cap_mask(want)


def test_no_new_privs_and_seccomp(moat, bundle):
    st = run_probe(moat, bundle, "status")
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"


def test_knobs_off_are_reported(moat, bundle):
    """The knobs really reach the kernel: without them the probe sees 0,
    so the tests above can fail."""
    st = run_probe(moat, bundle, "status", seccomp=False, no_new_privileges=False)
    assert st["NoNewPrivs"] == "0"
    assert st["Seccomp"] == "0"


@pytest.mark.parametrize("userns", [False, True])
def test_denied_syscalls_eperm(moat, bundle, userns):
    res = run_probe(moat, bundle, "syscall", *DENIED_SYSCALLS, "clone3",
                    "clone-newns", "getpid", userns=userns)
    bad = {k: v for k, v in res.items() if k in DENIED_SYSCALLS and v != "EPERM"}
    assert not bad, f"not EPERM: {bad}"
    assert res["clone3"] == "ENOSYS", res
    assert res["clone-newns"] == "EPERM", res
    assert res["getpid"] == "ok"


def test_root_readonly(moat, bundle):
    r = probe_script(moat, bundle, [["write", "/newfile"], ["write", "/etc/group"],
                                    ["write", "/etc/passwd"], ["write", "/dev/shm/ok", "x"],
                                    ["write", "/dev/null", "x"]])
    assert [x["result"] for x in r[:3]] == ["EROFS"] * 3, r
    assert r[3]["result"] == "ok", r
    assert r[4]["result"] == "ok", r
    assert not os.path.exists(bundle.rpath("/newfile"))


def test_root_writable_when_configured(moat, bundle):
    r = probe_script(moat, bundle, [["write", "/newfile", "hello"]], readonly=False)
    assert r[0]["result"] == "ok"
    with open(bundle.rpath("/newfile")) as f:
        assert f.read() == "hello"


def host_kind(path):
    if os.path.isdir(path):
        return "dir"
    if os.path.exists(path):
        return "file"
    return None


def test_masked_paths(moat, bundle):
    present = [(p, host_kind(p)) for p in DOCKER_MASKED if host_kind(p)]
    assert present, "no masked path exists on this host"
    cmds = []
    for p, _ in present:
        cmds += [["stat", p], ["read", p]]
    r = probe_script(moat, bundle, cmds)
    for i, (p, kind) in enumerate(present):
        st, rd = r[2 * i], r[2 * i + 1]
        if kind == "file":
            assert st["type"] == "chr" and st["rdev"] == "1:3", (p, st)
            assert rd["error"] is None and rd["bytes"] == 0, (p, rd)
        else:
            assert st["type"] == "dir" and st["entries"] == [], (p, st)


def test_masked_dirs_readonly(moat, bundle):
    dirs = [p for p in DOCKER_MASKED if host_kind(p) == "dir"]
    assert dirs
    r = probe_script(moat, bundle, [["write", p + "/x"] for p in dirs])
    for p, res in zip(dirs, r):
        assert res["result"] in ("EROFS", "EACCES", "EPERM"), (p, res)


def test_readonly_paths(moat, bundle):
    r = probe_script(moat, bundle, [["write", "/proc/sys/kernel/hostname", "x"],
                                    ["write", "/proc/sysrq-trigger", ""],
                                    ["write", "/proc/sys/vm/drop_caches", "1"],
                                    ["mountinfo"]])
    assert r[0]["result"] == "EROFS", r[0]
    if os.path.exists("/proc/sysrq-trigger"):
        assert r[1]["result"] in ("EROFS", "EACCES"), r[1]
    else:
        assert r[1]["result"] == "ENOENT", r[1]
    assert r[2]["result"] == "EROFS", r[2]
    mounts = {m["dest"]: m for m in r[3]["mounts"]}
    for p in DOCKER_READONLY:
        if os.path.exists(p):
            assert p in mounts, f"{p} not a mount"
            assert "ro" in mounts[p]["options"].split(","), mounts[p]


def test_sys_and_cgroup_readonly(moat, bundle):
    r = probe_script(moat, bundle, [["mountinfo"], ["write", "/sys/kernel/uevent_helper", ""],
                                    ["write", "/sys/fs/cgroup/moat-x", ""],
                                    ["write", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "1"]])
    mounts = r[0]["mounts"]
    sysm = [m for m in mounts if m["dest"] == "/sys"]
    assert sysm and "ro" in sysm[-1]["options"].split(","), sysm
    cg = [m for m in mounts if m["dest"] == "/sys/fs/cgroup"
          or m["dest"].startswith("/sys/fs/cgroup/")]
    assert cg, "no /sys/fs/cgroup mount"
    for m in cg:
        assert "ro" in m["options"].split(","), f"writable cgroup mount {m}"
    for res in r[1:]:
        assert res["result"] in ("EROFS", "EACCES", "ENOENT", "EPERM"), res


def test_only_loopback(moat, bundle):
    r = run_probe(moat, bundle, "read", "/proc/net/dev")
    ifaces = [line.split(":")[0].strip() for line in r["data"].splitlines()[2:]]
    assert ifaces == ["lo"], ifaces


def test_hostname(moat, bundle):
    st = run_probe(moat, bundle, "status", hostname="moat-isolated")
    assert st["hostname"] == "moat-isolated"
    assert os.uname().nodename != "moat-isolated"


def test_pid_namespace(moat, bundle):
    st = run_probe(moat, bundle, "status")
    assert st["pid"] == 1


def test_cgroup_namespace(moat, bundle):
    r = run_probe(moat, bundle, "read", "/proc/self/cgroup")
    for line in r["data"].splitlines():
        assert line.split(":", 2)[2] == "/", r["data"]


def test_cgroup_namespace_without_cgroup_mount(moat, bundle):
    # The parent moves the init into its cgroup while the init mounts; with
    # no cgroup mount to wait at, the init waits after its other mounts, so
    # its cgroup namespace is still rooted at the container's own cgroup.
    cfg = make_config(args=("/bin/moat-probe", "read", "/proc/self/cgroup"))
    cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] != "cgroup"]
    bundle.write(cfg)
    r = moat.run(bundle, new_id())
    assert r.rc == 0, r
    data = probe_json(r.out)["data"]
    for line in data.splitlines():
        assert line.split(":", 2)[2] == "/", data


def test_pids_limit_stops_fork_bomb(moat, bundle):
    r = run_probe(moat, bundle, "fork-bomb", "200", resources={"pids": {"limit": 16}})
    assert r["count"] < 16, r
    assert r["errno"] == "EAGAIN", r


def test_rlimit_nofile(moat, bundle):
    r = run_probe(moat, bundle, "read", "/proc/self/limits",
                  rlimits=[{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}])
    line = [ln for ln in r["data"].splitlines() if ln.startswith("Max open files")][0]
    assert line.split()[3:5] == ["512", "1024"], line


def test_devices(moat, bundle):
    want = {"/dev/null": "1:3", "/dev/zero": "1:5", "/dev/full": "1:7",
            "/dev/random": "1:8", "/dev/urandom": "1:9", "/dev/tty": "5:0"}
    cmds = [["stat", p] for p in want] + [["stat", "/dev"], ["stat", "/dev/ptmx"]]
    r = probe_script(moat, bundle, cmds)
    for (p, rdev), st in zip(want.items(), r):
        assert st["type"] == "chr" and st["rdev"] == rdev, st
    entries = set(r[len(want)]["entries"])
    allowed = {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx",
               "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "console", "core"}
    assert entries <= allowed, f"unexpected device entries: {entries - allowed}"
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx"} <= entries
    assert r[-1]["error"] is None, r[-1]


def test_non_root_user_has_no_caps(moat, bundle):
    st = run_probe(moat, bundle, "status", uid=1000, gid=1000)
    assert (st["uid"], st["gid"], st["euid"]) == (1000, 1000, 1000)
    assert caps(st, "CapEff") == 0 and caps(st, "CapPrm") == 0
    assert caps(st, "CapAmb") == 0 and caps(st, "CapInh") == 0


def test_additional_gids(moat, bundle):
    st = run_probe(moat, bundle, "status", uid=1000, gid=1000, additional_gids=[5, 42])
    assert sorted(st["groups"]) == [5, 42] or sorted(st["groups"]) == [5, 42, 1000], st


def test_cwd_and_env(moat, bundle):
    r = probe_script(moat, bundle, [["status"]], cwd="/etc",
                     env=["PATH=/bin", "MOAT_TEST_VAR=xyz"])
    assert r[0]["cwd"] == "/etc"
    bundle.write(__import__("moat_testlib").make_config(
        args=["/bin/sh", "-c", "echo $MOAT_TEST_VAR; pwd"], cwd="/etc",
        env=["PATH=/bin", "MOAT_TEST_VAR=xyz"]))
    r = moat.run(bundle, new_id())
    assert r.rc == 0 and r.out.split() == ["xyz", "/etc"], r


def test_mounts_invisible_on_host(moat, bundle):
    bundle.write(__import__("moat_testlib").make_config(args=["/bin/moat-probe", "sleep", "30"]))
    cid = new_id()
    moat.start_probe(bundle, cid)
    assert mounts_mentioning(bundle.path) == [], "container mounts leaked to the host"


def test_bind_mounts(moat, bundle, test_dir):
    ro = os.path.join(test_dir, "ro-src")
    rw = os.path.join(test_dir, "rw-src")
    for d in (ro, rw):
        os.makedirs(d)
        os.chmod(d, 0o777)
    with open(os.path.join(ro, "f"), "w") as f:
        f.write("from-host")
    mounts = [
        {"destination": "/mnt-ro", "type": "bind", "source": ro, "options": ["rbind", "ro"]},
        {"destination": "/tmp", "type": "bind", "source": rw, "options": ["rbind", "rw"]},
    ]
    bundle_dirs = ("/mnt-ro",)
    for d in bundle_dirs:
        os.makedirs(bundle.rpath(d), exist_ok=True)
    r = probe_script(moat, bundle, [["read", "/mnt-ro/f"], ["write", "/mnt-ro/g"],
                                    ["write", "/tmp/h", "in"]], mounts=mounts)
    assert r[0]["data"] == "from-host"
    assert r[1]["result"] == "EROFS"
    assert r[2]["result"] == "ok"
    with open(os.path.join(rw, "h")) as f:
        assert f.read() == "in"
    assert not os.path.exists(os.path.join(ro, "g"))


def test_tmpfs_mount_with_missing_destination(moat, bundle):
    # The destination does not exist in the (read-only) rootfs: the runtime
    # creates it before making the rootfs read-only.
    mounts = [{"destination": "/scratch/deep", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "size=1m"]}]
    r = probe_script(moat, bundle, [["write", "/scratch/deep/x", "1"]], mounts=mounts)
    assert r[0]["result"] == "ok"


def test_running_container_state_dir_private(moat, bundle):
    bundle.write(__import__("moat_testlib").make_config(args=["/bin/moat-probe", "sleep", "30"]))
    cid = new_id()
    moat.start_probe(bundle, cid)
    sd = os.path.join(moat.root, cid)
    wait_for(lambda: os.path.isdir(sd), timeout=2, what="state dir")
    mode = os.stat(sd).st_mode & 0o777
    assert mode & 0o022 == 0, f"state dir {sd} is group/world writable ({oct(mode)})"
