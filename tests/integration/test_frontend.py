"""`moat run [flags] ROOTFS_DIR [CMD...]`: the Docker-style front end, checked
from inside the container with the probe.  The OCI form `run --bundle B ID`
is covered by test_lifecycle.py (and checked once here for the dispatch)."""

import json
import os
import shlex

import pytest

from moat_testlib import (IS_RUNC, USERNS_HOST_ID, assert_error_line, cap_mask,
                          state_root_left)

pytestmark = pytest.mark.skipif(IS_RUNC, reason="the front end is moat's")

PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
               "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
               "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]


def fe(moat, rootfs, *flags, cmd=("/bin/moat-probe", "status"), timeout=30):
    """Run the front end.  The Moat helper tracks the last argument of `run`
    as a container id; the front end's last argument is the command, so the
    tracking is corrected here (a --name is tracked instead)."""
    before = list(moat.ids)
    r = moat("run", *flags, rootfs, *cmd, timeout=timeout)
    moat.ids[:] = before
    if "--name" in flags:
        moat.ids.append(flags[flags.index("--name") + 1])
    return r


def script(moat, rootfs, *flags, lines, expect_rc=0):
    """Shell LINES in one container; the probe JSON results in order."""
    r = fe(moat, rootfs, "--rm", *flags, cmd=("/bin/sh", "-c", "; ".join(lines)))
    assert r.rc == expect_rc, f"front end run failed: {r}"
    return [json.loads(x) for x in r.out.splitlines() if x.startswith("{")], r


def probe(*args):
    return "/bin/moat-probe " + " ".join(shlex.quote(str(a)) for a in args)


def state_root_empty(moat):
    """Nothing of any container is left; the events log stays, by design."""
    return state_root_left(moat.root) == []


def test_defaults_are_hardened(moat, rootfs_template):
    (st, wr), r = script(moat, rootfs_template, lines=[probe("status"), probe("write", "/x", "y")])
    assert st["uid_map"].split() == ["0", str(USERNS_HOST_ID), "65536"]
    assert int(st["CapEff"], 16) == cap_mask(PODMAN_CAPS)
    assert int(st["CapBnd"], 16) == cap_mask(PODMAN_CAPS)
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
    assert wr["result"] == "EROFS"
    assert state_root_empty(moat), os.listdir(moat.root)


def test_env_envfile_workdir_user(moat, rootfs_template, test_dir):
    envf = os.path.join(test_dir, "env")
    with open(envf, "w") as f:
        f.write("# a comment\n\nB=two\nA=overridden-by-e\n")
    (st,), r = script(moat, rootfs_template, "-e", "A=one", "--env-file", envf,
                      "-e", "MY_API_TOKEN=x", "-w", "/tmp", "-u", "1000:1000",
                      lines=["env", probe("status")])
    env = r.out.splitlines()
    assert "A=one" in env and "B=two" in env and "MY_API_TOKEN=x" in env
    assert st["uid"] == 1000 and st["gid"] == 1000 and st["cwd"] == "/tmp"
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    warn = [x for x in r.err_lines if "MY_API_TOKEN" in x]
    assert warn and "--secret" in warn[0] and "/proc/PID/environ" in warn[0]


def test_user_name_from_rootfs_passwd(moat, rootfs_template):
    # busybox rootfs: nobody is 65534 in its /etc/passwd (build_rootfs).
    with open(os.path.join(rootfs_template, "etc/passwd")) as f:
        entry = [x.split(":") for x in f.read().splitlines() if x.startswith("nobody:")]
    if not entry:
        pytest.skip("rootfs has no nobody user")
    (st,), _ = script(moat, rootfs_template, "-u", "nobody", lines=[probe("status")])
    assert st["uid"] == int(entry[0][2]) and st["gid"] == int(entry[0][3])
    r = fe(moat, rootfs_template, "--rm", "-u", "no-such-user")
    assert_error_line(r, "no-such-user", "/etc/passwd")


def test_cap_drop_all_and_add(moat, rootfs_template):
    (st,), _ = script(moat, rootfs_template, "--cap-drop", "ALL", lines=[probe("status")])
    assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0
    (st,), _ = script(moat, rootfs_template, "--cap-drop", "ALL", "--cap-add", "NET_RAW",
                      lines=[probe("status")])
    assert int(st["CapEff"], 16) == cap_mask(["CAP_NET_RAW"])
    assert int(st["CapBnd"], 16) == cap_mask(["CAP_NET_RAW"])
    (st,), _ = script(moat, rootfs_template, "--cap-drop", "chown", lines=[probe("status")])
    assert int(st["CapEff"], 16) == cap_mask(set(PODMAN_CAPS) - {"CAP_CHOWN"})
    r = fe(moat, rootfs_template, "--rm", "--cap-add", "ALL")
    assert_error_line(r, "--cap-add ALL")


def _mount(mi, dest):
    return [m for m in mi["mounts"] if m["dest"] == dest][-1]


def test_read_only_false(moat, rootfs_template):
    (mi,), _ = script(moat, rootfs_template, "--read-only=false", lines=[probe("mountinfo")])
    assert _mount(mi, "/")["options"].split(",")[0] == "rw"
    (mi,), _ = script(moat, rootfs_template, "--read-only", lines=[probe("mountinfo")])
    assert _mount(mi, "/")["options"].split(",")[0] == "ro"


def test_volumes_rw_ro(moat, rootfs_template, test_dir):
    rw = os.path.join(test_dir, "rw")
    ro = os.path.join(test_dir, "ro")
    for d in (rw, ro):
        os.makedirs(d)
        os.chmod(d, 0o777)
    # Mount points must exist in the (read-only, shared) rootfs: the
    # template has /home and /root.
    (w1, w2, mi), _ = script(moat, rootfs_template, "-v", f"{rw}:/home", "-v", f"{ro}:/root:ro",
                             lines=[probe("write", "/home/f", "hello"), probe("write", "/root/f", "x"),
                                    probe("mountinfo")])
    assert w1["result"] == "ok" and w2["result"] == "EROFS"
    with open(os.path.join(rw, "f")) as f:
        assert f.read() == "hello"
    assert not os.path.exists(os.path.join(ro, "f"))
    for dest in ("/home", "/root"):
        opts = _mount(mi, dest)["options"].split(",")
        assert "nosuid" in opts and "nodev" in opts


@pytest.mark.parametrize("host", ["/etc", "/", "/proc/sys", "/dev", "/sys/kernel", "/boot"])
def test_sensitive_volume_refused(moat, rootfs_template, host):
    if not os.path.exists(host):
        pytest.skip(f"{host} does not exist here")
    r = fe(moat, rootfs_template, "--rm", "-v", f"{host}:/x")
    assert_error_line(r, "--allow-sensitive-mount")
    assert state_root_empty(moat)


def test_engine_socket_refused_and_allow(moat, rootfs_template, test_dir):
    sock = os.path.join(test_dir, "docker.sock")
    open(sock, "w").close()
    r = fe(moat, rootfs_template, "--rm", "-v", f"{sock}:/var/run/docker.sock")
    assert_error_line(r, "docker.sock")
    (rd,), _ = script(moat, rootfs_template, "--allow-sensitive-mount", "-v", "/etc:/home:ro",
                      lines=[probe("read", "/home/hostname")])
    assert rd["error"] is None


def test_tmpfs_noexec_by_default(moat, rootfs_template):
    (mi,), _ = script(moat, rootfs_template, "--tmpfs", "/home", "--tmpfs", "/root:exec,size=1m",
                      lines=[probe("mountinfo")])
    opts = _mount(mi, "/home")["options"].split(",")
    assert {"noexec", "nosuid", "nodev"} <= set(opts)
    opts = _mount(mi, "/root")["options"].split(",")
    assert "noexec" not in opts and {"nosuid", "nodev"} <= set(opts)
    _, r = script(moat, rootfs_template, "--tmpfs", "/home",
                  lines=["cp /bin/moat-probe /home/p", "/home/p status", "echo rc=$?"])
    assert "rc=126" in r.out and '"pid"' not in r.out


def test_limits(moat, rootfs_template):
    cg = "/sys/fs/cgroup"
    if not os.path.isfile(f"{cg}/memory/memory.limit_in_bytes"):
        pytest.skip("cgroup v1 memory controller expected at /sys/fs/cgroup/memory")
    _, r = script(moat, rootfs_template, "-m", "64m", "--pids-limit", "50", "--cpus", "0.5",
                  "--cpu-shares", "512", "--ulimit", "nofile=256:512",
                  lines=[f"cat {cg}/memory/memory.limit_in_bytes {cg}/pids/pids.max "
                         f"{cg}/cpu/cpu.cfs_quota_us {cg}/cpu/cpu.shares",
                         "grep 'open files' /proc/self/limits"])
    words = r.out.split()
    assert words[:4] == ["67108864", "50", "50000", "512"], r.out
    assert words[-3:] == ["256", "512", "files"], r.out


def test_hostname_network_userns(moat, rootfs_template):
    (st,), r = script(moat, rootfs_template, "--hostname", "web1",
                      lines=[probe("status"), "cat /proc/net/dev"])
    assert st["hostname"] == "web1"
    ifaces = [x.split(":")[0].strip() for x in r.out.splitlines() if ":" in x and "|" not in x
              and not x.startswith("{")]
    assert ifaces == ["lo"], r.out
    _, r = script(moat, rootfs_template, "--network", "host", lines=["cat /proc/net/dev"])
    with open("/proc/net/dev") as f:
        host_ifaces = sorted(x.split(":")[0].strip() for x in f.read().splitlines()[2:])
    got = sorted(x.split(":")[0].strip() for x in r.out.splitlines()[2:])
    assert got == host_ifaces
    (st,), _ = script(moat, rootfs_template, "--userns", "host", "-u", "1000:1000",
                      lines=[probe("status")])
    assert st["uid_map"].split() == ["0", "0", "4294967295"]
    r = fe(moat, rootfs_template, "--rm", "--network", "bridge")
    assert_error_line(r, "--network", "bridge")


def test_security_opts(moat, rootfs_template, test_dir):
    (st,), _ = script(moat, rootfs_template, "--security-opt", "seccomp=unconfined",
                      lines=[probe("status")])
    assert st["Seccomp"] == "0"
    # Landlock needs no_new_privs (landlock_restrict_self(2)): refused alone.
    r = fe(moat, rootfs_template, "--rm", "--security-opt", "no-new-privileges=false")
    assert_error_line(r, "landlock=off")
    (st,), _ = script(moat, rootfs_template, "--security-opt", "no-new-privileges=false",
                      "--security-opt", "landlock=off", lines=[probe("status")])
    assert st["NoNewPrivs"] == "0" and st["Seccomp"] == "2"
    # Docker's profile format: archMap, includes/excludes by capability.
    prof = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": [
            {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "includes": {"caps": ["CAP_CHOWN"]}, "comment": "held: applies"},
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "includes": {"caps": ["CAP_SYS_ADMIN"]}, "comment": "not held: skipped"},
        ],
    }
    pf = os.path.join(test_dir, "docker-seccomp.json")
    with open(pf, "w") as f:
        json.dump(prof, f)
    (sc,), _ = script(moat, rootfs_template, "--security-opt", f"seccomp={pf}",
                      lines=[probe("syscall", "unshare", "personality", "keyctl")])
    assert sc["unshare"] == "EPERM" and sc["personality"] == "EPERM"
    assert sc["keyctl"] != "EPERM"
    for opt, needle in (("apparmor=x", "AppArmor"), ("label=type:spc_t", "SELinux")):
        r = fe(moat, rootfs_template, "--rm", "--security-opt", opt)
        assert_error_line(r, needle)
        assert state_root_empty(moat)


def test_secret(moat, rootfs_template, test_dir):
    value = "s3cr3t-" + os.urandom(8).hex()
    src = os.path.join(test_dir, "db-password")
    with open(src, "w") as f:
        f.write(value)
    os.chmod(src, 0o600)
    res, r = script(moat, rootfs_template, "-u", "1000:1000",
                    "--secret", f"{src},target=db,mode=0440",
                    lines=[probe("stat", "/run/secrets/db"), probe("read", "/run/secrets/db"),
                           probe("write", "/run/secrets/db", "x"),
                           probe("stat", "/run/secrets"),
                           "echo environ-hits=$(grep -c " + shlex.quote(value) + " /proc/1/environ)"])
    st, rd, wr, d = res
    assert "environ-hits=0" in r.out
    assert st["mode"] == "0440" and st["uid"] == 1000 and st["gid"] == 1000
    assert rd["data"] == value
    assert wr["result"] in ("EROFS", "EACCES")
    assert d["mode"] == "0700" and d["uid"] == 1000
    assert value not in r.out.replace(rd["data"], "", 1)
    # Nothing on the host: no mount, no directory, not in the state root.
    with open("/proc/self/mountinfo") as f:
        assert "moat-secrets" not in f.read()
    assert not [e for e in os.listdir("/run") if e.startswith("moat-secrets.")]
    assert state_root_empty(moat)


def test_secret_not_in_state_while_running(moat, rootfs_template, test_dir):
    value = "tok-" + os.urandom(8).hex()
    src = os.path.join(test_dir, "tok")
    with open(src, "w") as f:
        f.write(value)
    r = fe(moat, rootfs_template, "-d", "--name", "sec1", "--secret", f"{src}",
           cmd=("/bin/moat-probe", "sleep", "30"))
    assert r.rc == 0 and r.out.strip() == "sec1", r
    for dirpath, _, files in os.walk(moat.root):
        for n in files:
            with open(os.path.join(dirpath, n), "rb") as f:
                assert value.encode() not in f.read(), os.path.join(dirpath, n)
    with open("/proc/self/mountinfo") as f:
        assert "moat-secrets" not in f.read()
    assert moat("rm", "-f", "sec1").rc == 0


def test_print_spec(moat, rootfs_template, test_dir):
    r = fe(moat, rootfs_template, "--print-spec", "-e", "X=1", "--memory", "32m",
           cmd=("/bin/echo", "hi"))
    assert r.rc == 0, r
    cfg = json.loads(r.out)
    assert cfg["root"]["path"] == os.path.realpath(rootfs_template)
    assert cfg["root"]["readonly"] is True
    assert cfg["process"]["args"] == ["/bin/echo", "hi"]
    assert "X=1" in cfg["process"]["env"]
    assert cfg["linux"]["resources"]["memory"]["limit"] == 32 << 20
    assert cfg["process"]["noNewPrivileges"] is True
    assert "seccomp" in cfg["linux"]
    assert state_root_empty(moat)


def test_exit_status_and_keep_without_rm(moat, rootfs_template):
    r = fe(moat, rootfs_template, "--rm", cmd=("/bin/moat-probe", "exit", "7"))
    assert r.rc == 7, r
    assert state_root_empty(moat)
    r = fe(moat, rootfs_template, "--name", "kept", cmd=("/bin/true",))
    assert r.rc == 0, r
    assert moat.status("kept") == "stopped"
    assert moat("delete", "kept").rc == 0
    assert state_root_empty(moat)


def test_bad_flags_leave_nothing(moat, rootfs_template, test_dir):
    for flags, needle in ((("--cap-add", "NOPE"), "NOPE"), (("--ulimit", "nofile"), "--ulimit"),
                          (("--tmpfs", "/x:suid"), "suid"), (("--userns", "keep-id"), "--userns"),
                          (("--name", "bad/name"), "--name"),
                          (("--secret", os.path.join(test_dir, "missing")), "missing")):
        r = fe(moat, rootfs_template, *flags)
        assert_error_line(r, needle)
        assert state_root_empty(moat)


def test_tty(moat, rootfs_template):
    """-t: the container's stdio is a pty of its own devpts, relayed by run."""
    r = fe(moat, rootfs_template, "-t", "--rm", cmd=("/bin/moat-probe", "status"))
    assert r.rc == 0, r
    st = json.loads(r.out.strip().splitlines()[-1])
    assert [f["target"] for f in st["fds"][:3]] == ["/dev/pts/0"] * 3, st["fds"]
    assert state_root_empty(moat)


def test_oci_form_still_dispatched(moat, bundle):
    r = moat.run(bundle, "oci1")
    assert r.rc == 0, r
    assert '"pid"' in r.out


def test_image_by_name(moat, rootfs_template, test_dir, probe_bin):
    """An image loaded into a store runs by name with its Cmd, Env, User and
    WorkingDir; its other config keys (here a privilege request) do nothing."""
    import io
    import tarfile
    from moat_imagelib import sha, tar_layer
    entries = [(d + "/", "d") for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "srv")]
    for n in ("busybox", "moat-probe"):
        with open(os.path.join(rootfs_template, "bin", n), "rb") as f:
            entries.append((f"bin/{n}", "f", f.read(), 0o755))
    entries.append(("bin/sh", "l", "busybox"))
    entries.append(("etc/passwd", "f", b"root:x:0:0:root:/root:/bin/sh\napp:x:1234:1235::/srv:/bin/sh\n"))
    layer = tar_layer(entries)
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Entrypoint": ["/bin/moat-probe"], "Cmd": ["status"],
                                 "Env": ["PATH=/bin", "FROM_IMAGE=yes"], "User": "app",
                                 "WorkingDir": "/srv", "Privileged": True, "CapAdd": ["ALL"]},
                      "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    archive = os.path.join(test_dir, "img.tar")
    cname = sha(cfg)[7:] + ".json"
    man = json.dumps([{"Config": cname, "RepoTags": ["local/probe:1"],
                       "Layers": [sha(layer)[7:] + ".tar"]}]).encode()
    with tarfile.open(archive, "w") as t:
        for name, data in ((sha(layer)[7:] + ".tar", layer), (cname, cfg), ("manifest.json", man)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    store = os.path.join(test_dir, "store")
    assert moat("image", "--root-images", store, "load", archive).rc == 0
    r = fe(moat, "local/probe:1", "--rm", "--root-images", store, cmd=())
    assert r.rc == 0, r
    st = json.loads(r.out.splitlines()[-1])
    assert st["uid"] == 1234 and st["gid"] == 1235 and st["cwd"] == "/srv"
    assert int(st["CapEff"], 16) == 0 and st["Seccomp"] == "2"
    # CMD operands replace Cmd, after the Entrypoint.
    r = fe(moat, "local/probe:1", "--rm", "--root-images", store, "-u", "0", cmd=("read", "/proc/self/environ"))
    assert r.rc == 0, r
    assert "PATH=/bin" in json.loads(r.out.splitlines()[-1])["data"]
    r = fe(moat, "local/probe:1", "--rm", "--root-images", store, "--print-spec", cmd=())
    cfg = json.loads(r.out)
    assert "FROM_IMAGE=yes" in cfg["process"]["env"]
    assert "CAP_SYS_ADMIN" not in cfg["process"]["capabilities"]["bounding"]
    assert cfg["root"]["readonly"] is True
    r = fe(moat, "local/probe:1", "--rm", "--root-images", store, "--read-only=false", cmd=())
    assert_error_line(r, "--read-only=false")
    assert state_root_empty(moat)


def test_mount_flag_bind_and_tmpfs(moat, rootfs_template, test_dir):
    """--mount goes through the same checks as -v and --tmpfs."""
    rw = os.path.join(test_dir, "mnt-rw")
    os.makedirs(rw)
    os.chmod(rw, 0o777)
    (w1, w2, mi), _ = script(moat, rootfs_template,
                             "--mount", f"type=bind,source={rw},target=/home",
                             "--mount", "type=tmpfs,target=/root,tmpfs-size=1048576,readonly",
                             lines=[probe("write", "/home/f", "via-mount"), probe("write", "/root/f", "x"),
                                    probe("mountinfo")])
    assert w1["result"] == "ok" and w2["result"] == "EROFS", (w1, w2)
    with open(os.path.join(rw, "f")) as f:
        assert f.read() == "via-mount"
    home = _mount(mi, "/home")["options"].split(",")
    root = _mount(mi, "/root")["options"].split(",")
    assert {"nosuid", "nodev"} <= set(home)
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(root)
    for bad, needle in (("type=bind,source=/etc,target=/x", "--allow-sensitive-mount"),
                        ("type=volume,source=v,target=/x", "named volumes"),
                        ("type=bind,target=/x", "source="),
                        ("type=tmpfs,target=/x,bogus=1", "bogus")):
        r = fe(moat, rootfs_template, "--rm", "--mount", bad)
        assert_error_line(r, needle)
        assert state_root_empty(moat)
