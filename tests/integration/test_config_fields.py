"""config.json fields honoured as the kernel reports them from inside the
container: namespaces joined by path, the time namespace and its offsets,
sysctls, rlimits, oomScoreAdj, personality; and signals forwarded by a
foreground `run`."""

import os
import signal

from moat_testlib import new_id, wait_for


def sh(*script):
    return ["/bin/busybox", "sh", "-c", " ".join(script)]


def test_join_network_namespace_by_path(moat, make_bundle):
    a = make_bundle(args=["/bin/busybox", "sleep", "30"])
    pid = moat.start_probe(a, new_id())
    target = f"/proc/{pid}/ns/net"
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup", "user")]
    namespaces.append({"type": "network", "path": target})
    b = make_bundle(args=["/bin/busybox", "readlink", "/proc/self/ns/net"], userns=True)
    b.config["linux"]["namespaces"] = namespaces
    b.write()
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    # The same network namespace as container A (joined before the new user
    # namespace was made, so the join was allowed).
    assert r.out.strip() == os.readlink(target)


def test_join_by_path_of_wrong_type_refused(moat, make_bundle):
    a = make_bundle(args=["/bin/busybox", "sleep", "30"])
    pid = moat.start_probe(a, new_id())
    b = make_bundle(args=["/bin/busybox", "true"])
    nss = b.config["linux"]["namespaces"]
    for n in nss:
        if n["type"] == "network":
            n["path"] = f"/proc/{pid}/ns/ipc"
    b.write()
    cid = new_id()
    r = moat.run(b, cid)
    assert r.rc == 1, r
    assert len(r.err_lines) == 1 and "is not a network namespace" in r.err, r


def test_time_namespace_offsets(moat, make_bundle):
    b = make_bundle(args=sh("cat /proc/uptime"))
    b.config["linux"]["namespaces"].append({"type": "time"})
    b.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 10, "nanosecs": 0}}
    b.write()
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    with open("/proc/uptime") as f:
        host = float(f.read().split()[0])
    inside = float(r.out.split()[0])
    assert inside - host > 86400 * 10 - 60, (inside, host)


def test_sysctl_rlimit_oom_score(moat, make_bundle):
    b = make_bundle(args=sh("cat /proc/sys/kernel/shmmni; ulimit -n; ulimit -Hn;",
                            "cat /proc/self/oom_score_adj"),
                    sysctl={"kernel.shmmni": "1234"},
                    rlimits=[{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768}])
    b.config["process"]["oomScoreAdj"] = 345
    b.write()
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    assert r.out.split() == ["1234", "512", "768", "345"], r.out
    # The host's value is untouched: the sysctl went to the container's ipc ns.
    with open("/proc/sys/kernel/shmmni") as f:
        assert f.read().strip() != "1234"


def test_personality_linux32(moat, make_bundle):
    b = make_bundle(args=["/bin/busybox", "uname", "-m"])
    b.config["linux"]["personality"] = {"domain": "LINUX32"}
    b.write()
    r = moat.run(b, new_id())
    assert r.rc == 0, r
    assert r.out.strip() in ("i686", "i386"), r.out


def test_foreground_run_forwards_signals(moat, make_bundle):
    b = make_bundle(args=sh("trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done"))
    p, out, _ = moat.spawn("run", "--bundle", b.path, new_id())
    wait_for(lambda: "ready" in open(out).read(), what="the container to start")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 42


def test_foreground_run_with_terminal(moat, make_bundle):
    """process.terminal without --console-socket: a foreground `run` relays the
    container's pty (from the container's own devpts) to its own terminal."""
    import shutil
    import subprocess
    script = shutil.which("script")
    assert script, "util-linux `script` is needed to give moat a terminal"
    b = make_bundle(args=sh("tty; stat -c %t /dev/console; exit 5"), terminal=True)
    args = ("run", "--bundle", b.path, new_id())
    moat._track(args)    # the teardown checks this id leaves nothing behind
    cmd = " ".join(moat.argv(args))
    # script's stdin stays open and empty: at EOF script types an end-of-file
    # character into the terminal, which could reach the container's pty
    # while it runs and be echoed into the output (as "^@").
    rfd, wfd = os.pipe()
    try:
        p = subprocess.run([script, "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                           timeout=20, stdin=rfd)
    finally:
        os.close(rfd)
        os.close(wfd)
    out = p.stdout.replace("\r", "")
    assert p.returncode == 5, (p.returncode, out, p.stderr)
    assert "/dev/pts/0" in out, out
    assert "88" in out.split(), out   # /dev/console is a pts: major 136 = 0x88
