"""The hardened default config (`moat spec`), checked from inside a container
with the probe; Landlock; `moat spec --compat`; LSM requests refused."""

import json
import os
import shlex
import subprocess

import pytest

from moat_testlib import (DENIED_SYSCALLS, IS_RUNC, USERNS_HOST_ID, USERNS_SIZE,
                          assert_error_line, assert_nothing_left, cap_mask,
                          new_id)

pytestmark = pytest.mark.skipif(IS_RUNC, reason="moat spec and Landlock are moat's")

PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
               "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
               "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]
RUNC_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


@pytest.fixture
def spec_bundle(make_bundle, moat):
    """spec_bundle(compat=False) -> Bundle whose config.json is what
    `moat spec` wrote (process.args set per run)."""
    def make(compat=False):
        b = make_bundle()
        os.unlink(os.path.join(b.path, "config.json"))
        moat("spec", "--bundle", b.path, *(["--compat"] if compat else [])).ok()
        with open(os.path.join(b.path, "config.json")) as f:
            b.config = json.load(f)
        b.config["process"]["terminal"] = False
        return b
    return make


def run_script(moat, bundle, lines, edit=None, expect_rc=0):
    """Run shell LINES (probe invocations and busybox commands) in one
    container; returns (probe JSON results in order, full stdout)."""
    cfg = json.loads(json.dumps(bundle.config))
    cfg["process"]["args"] = ["/bin/sh", "-c", "; ".join(lines)]
    if edit:
        edit(cfg)
    bundle.write(cfg)
    r = moat.run(bundle, new_id(), timeout=60)
    assert r.rc == expect_rc, f"unexpected exit: {r}"
    return [json.loads(x) for x in r.out.splitlines() if x.startswith("{")], r.out


def probe(*args):
    return "/bin/moat-probe " + " ".join(shlex.quote(str(a)) for a in args)


def set_annotation(value):
    def edit(cfg):
        if value is None:
            cfg.get("annotations", {}).pop("org.moat.landlock", None)
        else:
            cfg.setdefault("annotations", {})["org.moat.landlock"] = value
    return edit


# ---- moat spec --------------------------------------------------------------

def test_spec_refuses_to_overwrite(moat, spec_bundle):
    b = spec_bundle()
    before = open(os.path.join(b.path, "config.json")).read()
    r = moat("spec", "--bundle", b.path)
    assert_error_line(r, "config.json", "exists")
    assert open(os.path.join(b.path, "config.json")).read() == before


def test_spec_hardened_vs_compat(spec_bundle):
    h = spec_bundle().config
    c = spec_bundle(compat=True).config
    hns = {n["type"] for n in h["linux"]["namespaces"]}
    cns = {n["type"] for n in c["linux"]["namespaces"]}
    assert hns == {"pid", "network", "ipc", "uts", "mount", "cgroup", "user"}
    assert cns == hns - {"user"}
    assert h["linux"]["uidMappings"] == [{"containerID": 0, "hostID": USERNS_HOST_ID,
                                          "size": USERNS_SIZE}]
    assert "uidMappings" not in c["linux"]
    for s in ("bounding", "effective", "permitted"):
        assert sorted(h["process"]["capabilities"][s]) == sorted(PODMAN_CAPS)
        assert sorted(c["process"]["capabilities"][s]) == sorted(RUNC_CAPS)
    for s in ("inheritable", "ambient"):
        assert not h["process"]["capabilities"].get(s)
    assert h["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "seccomp" not in c["linux"]
    assert h["linux"]["resources"]["pids"]["limit"] == 512
    assert "pids" not in c["linux"]["resources"]
    assert h["annotations"]["org.moat.landlock"] == "on"
    assert "org.moat.landlock" not in c.get("annotations", {})
    assert h["root"]["readonly"] and c["root"]["readonly"]
    assert h["process"]["noNewPrivileges"] and c["process"]["noNewPrivileges"]


def test_features_reports_landlock(moat):
    r = moat("features").ok()
    supported = subprocess.run(
        ["python3", "-c", "import ctypes,sys;"
         "sys.exit(0 if ctypes.CDLL(None).syscall(444, None, 0, 1) > 0 else 1)"]).returncode == 0
    assert r.json["annotations"]["org.moat.landlock"] == ("true" if supported else "false")


# ---- the hardened config, from inside -------------------------------------

def test_hardened_identity_caps_seccomp(moat, spec_bundle):
    b = spec_bundle()
    (st,), _ = run_script(moat, b, [probe("status")])
    assert st["uid_map"].split() == ["0", str(USERNS_HOST_ID), str(USERNS_SIZE)]
    assert st["gid_map"].split() == ["0", str(USERNS_HOST_ID), str(USERNS_SIZE)]
    want = cap_mask(PODMAN_CAPS)
    assert int(st["CapEff"], 16) == want
    assert int(st["CapBnd"], 16) == want
    assert int(st["CapPrm"], 16) == want
    assert int(st["CapInh"], 16) == 0
    assert int(st["CapAmb"], 16) == 0
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"


def test_hardened_denied_syscalls(moat, spec_bundle):
    b = spec_bundle()
    (res,), _ = run_script(moat, b, [probe("syscall", *DENIED_SYSCALLS, "clone3",
                                           "clone-newns", "getpid")])
    bad = {k: v for k, v in res.items() if k in DENIED_SYSCALLS and v != "EPERM"}
    assert not bad, f"not EPERM: {bad}"
    assert res["clone3"] == "ENOSYS"
    assert res["clone-newns"] == "EPERM"
    assert res["getpid"] == "ok"


def test_hardened_filesystem(moat, spec_bundle):
    b = spec_bundle()
    masked = [p for p in b.config["linux"]["maskedPaths"] if os.path.isfile(p)]
    assert masked, "no masked file exists on this host"
    res, out = run_script(moat, b, [
        probe("write", "/newfile", "x"),
        probe("write", "/tmp/ok", "x"),
        probe("write", "/run/ok", "x"),
        probe("write", "/proc/sys/kernel/hostname", "x"),
        probe("write", "/sys/kernel/uevent_helper", "x"),
        probe("read", "/proc/net/dev"),
        # noexec /tmp: a copy of an executable cannot be run.
        "cat /bin/moat-probe > /tmp/p; chmod 755 /tmp/p; /tmp/p status; echo tmp-exec-rc=$?",
    ] + [probe("read", p) for p in masked])
    assert res[0]["result"] == "EROFS", res[0]
    assert res[1]["result"] == "ok" and res[2]["result"] == "ok", res[1:3]
    assert res[3]["result"] in ("EROFS", "EACCES"), res[3]
    assert res[4]["result"] in ("EROFS", "EACCES"), res[4]
    ifaces = [x.split(":")[0].strip() for x in res[5]["data"].splitlines()[2:]]
    assert ifaces == ["lo"], ifaces
    assert "tmp-exec-rc=126" in out, out
    assert len(res) == 6 + len(masked), out  # the /tmp copy printed nothing
    for p, r in zip(masked, res[6:]):
        assert r["error"] is None and r["bytes"] == 0, (p, r)
    assert not os.path.exists(b.rpath("/newfile"))


def test_hardened_setuid_binary_grants_nothing(moat, spec_bundle):
    """A setuid-root binary of the image (owned by container root) run by a
    non-root user: the kernel ignores the bit (nosuid/no_new_privs)."""
    b = spec_bundle()
    suid = b.rpath("/bin/suid-probe")
    with open(b.rpath("/bin/moat-probe"), "rb") as src, open(suid, "wb") as dst:
        dst.write(src.read())
    os.chown(suid, USERNS_HOST_ID, USERNS_HOST_ID)
    os.chmod(suid, 0o4755)

    def as_user(cfg):
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    (st,), _ = run_script(moat, b, ["/bin/suid-probe status"], edit=as_user)
    assert st["uid"] == 1000 and st["euid"] == 1000, st
    assert int(st["CapEff"], 16) == 0, st


def test_hardened_pids_limit_stops_fork_bomb(moat, spec_bundle):
    b = spec_bundle()
    (r,), _ = run_script(moat, b, [probe("fork-bomb", "3000")])
    assert r["count"] < 512, r
    assert r["errno"] == "EAGAIN", r
    # The host is fine: it can still start processes.
    assert subprocess.run(["/bin/true"]).returncode == 0


def test_hardened_memory_limit_oom_kills_inside(moat, spec_bundle):
    b = spec_bundle()

    def small(cfg):
        cfg["linux"]["resources"]["memory"] = {"limit": 32 * 1024 * 1024}
    _, out = run_script(moat, b, [
        # Doubles a string until the cgroup's limit is hit.
        "awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo hog-rc=$?",
        "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"
        " || cat /sys/fs/cgroup/memory.events",
    ], edit=small)
    assert "hog-rc=137" in out, out  # 128 + SIGKILL
    kills = [line.split() for line in out.splitlines() if line.startswith("oom_kill ")]
    assert kills and int(kills[0][1]) >= 1, out


# ---- Landlock ---------------------------------------------------------------

LANDLOCK_LINES = [probe("write", "/dev/not-a-volume", "x"), probe("write", "/tmp/ok", "x"),
                  probe("write", "/dev/null", "x"), probe("write", "/dev/shm/ok", "x"),
                  probe("write", "/data/ok", "x")]


def with_volume(test_dir, bundle, annotation):
    vol = os.path.join(test_dir, "vol")
    os.makedirs(vol, exist_ok=True)
    os.makedirs(bundle.rpath("/data"), exist_ok=True)
    os.chown(vol, USERNS_HOST_ID, USERNS_HOST_ID)

    def edit(cfg):
        set_annotation(annotation)(cfg)
        cfg["mounts"].append({"destination": "/data", "type": "bind", "source": vol,
                              "options": ["rbind", "nosuid", "nodev", "noexec"]})
    return edit


def test_landlock_on_denies_writes_outside_writable_mounts(moat, spec_bundle, test_dir):
    """/dev is a writable tmpfs the config does not declare as a volume:
    with Landlock the write fails EACCES, the declared ones work."""
    b = spec_bundle()
    res, _ = run_script(moat, b, LANDLOCK_LINES, edit=with_volume(test_dir, b, "on"))
    assert res[0]["result"] == "EACCES", res[0]
    assert [r["result"] for r in res[1:]] == ["ok"] * 4, res


@pytest.mark.parametrize("annotation", ["off", None])
def test_landlock_off_normal_permissions(moat, spec_bundle, test_dir, annotation):
    b = spec_bundle()
    res, _ = run_script(moat, b, LANDLOCK_LINES, edit=with_volume(test_dir, b, annotation))
    assert [r["result"] for r in res] == ["ok"] * 5, res


# `run`: the check happens in the init before execve (and at create once
# create_validate calls moat_landlock_check); either way the container fails.
def test_landlock_needs_no_new_privs(moat, spec_bundle):
    b = spec_bundle()
    cfg = dict(b.config)
    cfg["process"] = dict(cfg["process"], noNewPrivileges=False, args=["/bin/true"])
    b.write(cfg)
    cid = new_id()
    r = moat.run(b, cid)
    assert_error_line(r, "landlock", "noNewPrivileges")
    assert_nothing_left(moat, cid)


def test_landlock_bad_value_refused(moat, spec_bundle):
    b = spec_bundle()
    cfg = json.loads(json.dumps(b.config))
    cfg["process"]["args"] = ["/bin/true"]
    cfg["annotations"]["org.moat.landlock"] = "maybe"
    b.write(cfg)
    cid = new_id()
    r = moat.run(b, cid)
    assert_error_line(r, "org.moat.landlock", "maybe")
    assert_nothing_left(moat, cid)


# ---- SELinux / AppArmor: fail closed ---------------------------------------

@pytest.mark.parametrize("field,value", [("apparmorProfile", "docker-default"),
                                         ("selinuxLabel", "system_u:system_r:container_t:s0")])
def test_lsm_request_refused_without_the_lsm(moat, spec_bundle, field, value):
    if field == "apparmorProfile" and os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("AppArmor is active here")
    if field == "selinuxLabel" and os.path.exists("/sys/fs/selinux/enforce"):
        pytest.skip("SELinux is active here")
    b = spec_bundle()
    cfg = json.loads(json.dumps(b.config))
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"][field] = value
    b.write(cfg)
    cid = new_id()
    r = moat.create(b, cid)
    assert_error_line(r, field)
    assert_nothing_left(moat, cid)


def test_landlock_stdio_file_reopenable(moat, spec_bundle, test_dir):
    """`cat /dev/stdin` reopens fd 0 through /proc/self/fd: the file the
    engine passed lies outside the container's mounts, and stays readable."""
    b = spec_bundle()
    cfg = json.loads(json.dumps(b.config))
    cfg["process"]["args"] = ["/bin/sh", "-c", "cat /dev/stdin; echo rc=$?"]
    b.write(cfg)
    src = os.path.join(test_dir, "stdin.txt")
    with open(src, "w") as f:
        f.write("from-the-host\n")
    with open(src) as f:
        r = moat.run(b, new_id(), stdin=f)
    assert r.rc == 0, r
    assert "from-the-host\nrc=0" in r.out, r


def test_oom_kill_reported_by_run(moat, spec_bundle):
    """The container's process dies for memory: `run` exits 137 and says why."""
    b = spec_bundle()
    cfg = json.loads(json.dumps(b.config))
    cfg["process"]["args"] = ["/bin/busybox", "awk", 'BEGIN { s = "x"; while (1) s = s s }']
    cfg["linux"]["resources"]["memory"] = {"limit": 32 * 1024 * 1024}
    b.write(cfg)
    r = moat.run(b, new_id(), timeout=60)
    assert r.rc == 137, r
    assert "OOM killer" in r.err and len(r.err_lines) == 1, r
