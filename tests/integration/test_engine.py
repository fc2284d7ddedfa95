"""`moat run -d` and the engine commands around it (issue 6): the per-container
monitor, ps, logs, stop, rm, wait, inspect, top, stats, restart policies and
health checks, and the faults (a killed monitor, a full disk).  Everything is
checked against what the kernel and the files say, not against moat's word:
processes in /proc, the monitor's own /proc status, the log files."""

import json
import os
import signal
import subprocess
import time

import pytest

from moat_testlib import (IS_RUNC, assert_error_line, assert_nothing_left,
                          new_id, procs_in_cgroup_named, wait_for)

pytestmark = pytest.mark.skipif(IS_RUNC, reason="the engine is moat's")

LOOP = "trap 'echo got-term; exit 0' TERM; while :; do sleep 0.05; done"


def monitors_of(root):
    """Pids of moat-monitor processes (monitor and spawner) under ROOT."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"moat-monitor") and root.encode() in argv:
            found.append(int(p))
    return found


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


class Engine:
    def __init__(self, moat, rootfs):
        self.moat = moat
        self.rootfs = rootfs
        self.names = []

    def __call__(self, *args, **kw):
        return self.moat(*args, **kw)

    def run_d(self, *flags, cmd=("sh", "-c", LOOP), name=None, expect_rc=0, **kw):
        name = name or new_id("e")
        self.names.append(name)
        r = self.moat("run", "-d", "--name", name, *flags, self.rootfs, *cmd, **kw)
        # The Moat helper tracks the last argument of run as an OCI id.
        self.moat.ids[:] = [i for i in self.moat.ids if i != str(cmd[-1])]
        if expect_rc is not None:
            assert r.rc == expect_rc, r
        if r.rc == 0:
            assert r.out.strip() == name, r
        return name, r

    def inspect(self, name):
        r = self.moat("inspect", name)
        assert r.rc == 0, r
        return json.loads(r.out)[0]

    def status(self, name):
        return self.inspect(name)["State"]

    def wait_state(self, name, pred, timeout=15, what="state"):
        seen = []

        def check():
            seen[:] = [self.status(name)]
            return pred(seen[0])
        wait_for(check, timeout=timeout, what=f"{name}: {what}")
        return seen[0]

    def events(self):
        p = os.path.join(self.moat.root, ".events.jsonl")
        if not os.path.exists(p):
            return []
        with open(p) as f:
            return [json.loads(line) for line in f if line.strip()]

    def actions(self, name):
        return [e["Action"] for e in self.events() if e.get("Actor", {}).get("ID") == name]


@pytest.fixture
def eng(moat, rootfs_template):
    e = Engine(moat, rootfs_template)
    yield e
    problems = []
    for n in e.names:
        r = moat("rm", "-f", n, timeout=60)
        if r.rc != 0 and "no such container" not in r.err:
            problems.append(f"rm -f {n}: {r}")
    try:
        wait_for(lambda: not monitors_of(moat.root), timeout=10, what="monitors gone")
    except AssertionError:
        problems.append(f"monitor processes left: {monitors_of(moat.root)}")
        for pid in monitors_of(moat.root):
            os.kill(pid, signal.SIGKILL)
    engine_dir = os.path.join(moat.root, ".engine")
    if os.path.isdir(engine_dir) and os.listdir(engine_dir):
        problems.append(f"records left: {os.listdir(engine_dir)}")
    for n in e.names:
        try:
            assert_nothing_left(moat, n)
        except AssertionError as ex:
            problems.append(str(ex))
    if problems:
        pytest.fail("teardown: " + "; ".join(problems), pytrace=False)


def test_run_d_ps_logs_stop_rm(eng):
    name, r = eng.run_d(cmd=("sh", "-c", "echo to-out; echo to-err >&2; " + LOOP))
    ps = eng("ps", "--format", "json")
    rows = [json.loads(x) for x in ps.out.splitlines()]
    row = next(x for x in rows if x["Names"] == name)
    assert row["State"] == "running" and row["Status"].startswith("Up"), row
    assert row["Command"].startswith("sh -c echo to-out"), row
    init = row["Pid"]
    assert procs_in_cgroup_named(name), "no process in the container's cgroup"
    with open(f"/proc/{init}/status") as f:
        assert "\nNSpid:" in f.read()

    wait_for(lambda: "to-err" in eng("logs", name).err, what="stderr in the log")
    logs = eng("logs", name)
    assert logs.out == "to-out\n" and logs.err == "to-err\n", logs
    stamped = eng("logs", "-t", "--tail", "1", name)
    assert stamped.out == "" and stamped.err.endswith(" to-err\n"), stamped
    assert stamped.err[:4].isdigit() and stamped.err[29] == "Z", stamped

    table = eng("ps")
    assert name in table.out and "Up " in table.out, table
    st = eng("stop", "-t", "5", name)
    assert st.rc == 0 and st.out.strip() == name, st
    state = eng.status(name)
    assert state["Status"] == "exited" and state["ExitCode"] == 0, state
    assert not state["Monitor"]["Alive"]
    assert "got-term" in eng("logs", name).out
    assert name not in eng("ps").out
    assert "Exited (0)" in eng("ps", "-a").out
    acts = eng.actions(name)
    for a in ("create", "start", "die", "stop"):
        assert a in acts, acts
    rm = eng("rm", name)
    assert rm.rc == 0, rm
    assert name not in eng("ps", "-a").out
    assert not os.path.exists(os.path.join(eng.moat.root, ".engine", name))


def test_monitor_is_confined_and_outlives_the_command(eng, test_dir):
    leak = os.open(test_dir, os.O_RDONLY)
    try:
        name, r = eng.run_d(pass_fds=(leak,))
    finally:
        os.close(leak)
    mon = eng.status(name)["Monitor"]["Pid"]
    pids = monitors_of(eng.moat.root)
    assert mon in pids and len(pids) == 2, pids
    spawner = next(p for p in pids if p != mon)
    st = proc_status(mon)
    assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2", st
    # Not the child of the run command (gone), nor of this test.
    assert int(st["PPid"]) != os.getpid()
    assert int(proc_status(spawner)["PPid"]) == mon
    for pid in (mon, spawner):
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert os.path.realpath(test_dir) not in targets, (pid, targets)
        for t in targets:
            ok = (t == "/dev/null" or t.startswith(("pipe:", "anon_inode:"))
                  or t.startswith(os.path.join(eng.moat.root, ".engine", name)))
            assert ok, f"unexpected fd in {pid}: {t}"
    # The monitor reaps the container: it is the init's parent.
    init = eng.status(name)["Pid"]
    assert int(proc_status(init)["PPid"]) == mon


def test_restart_on_failure_counts_and_stops(eng):
    name, _ = eng.run_d("--restart", "on-failure:2", cmd=("sh", "-c", "echo run; exit 3"))
    state = eng.wait_state(name, lambda s: s["Status"] == "exited", what="exited after retries")
    insp = eng.inspect(name)
    assert insp["RestartCount"] == 2 and state["ExitCode"] == 3, insp
    assert insp["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert eng("logs", name).out == "run\nrun\nrun\n"
    acts = eng.actions(name)
    assert acts.count("die") == 3 and acts.count("restart") == 2, acts


def test_restart_always_and_stop_is_not_a_failure(eng):
    name, _ = eng.run_d("--restart", "always")
    first = eng.status(name)["Pid"]
    os.kill(first, signal.SIGKILL)
    eng.wait_state(name, lambda s: s["Status"] == "running" and s["Pid"] not in (0, first), what="restarted")
    assert eng.inspect(name)["RestartCount"] == 1
    assert eng("stop", "-t", "5", name).rc == 0
    time.sleep(0.5)
    state = eng.status(name)
    assert state["Status"] == "exited" and not state["Monitor"]["Alive"], state
    assert eng.inspect(name)["RestartCount"] == 1


def test_stop_during_restart_backoff(eng):
    # Exits at once: the monitor waits out a growing backoff between runs.
    name, _ = eng.run_d("--restart", "always", cmd=("false",))
    wait_for(lambda: eng.inspect(name)["RestartCount"] >= 3, timeout=20, what="three restarts")
    t0 = time.monotonic()
    assert eng("stop", name).rc == 0
    assert time.monotonic() - t0 < 10
    assert eng.status(name)["Status"] == "exited"


def test_health_check(eng):
    name, _ = eng.run_d("--health-cmd", "test -e /tmp/ok && echo fine", "--health-interval", "200ms",
                        "--health-retries", "2", cmd=("sleep", "60"))
    eng.wait_state(name, lambda s: s["Health"]["Status"] == "unhealthy", what="unhealthy")
    assert "(unhealthy)" in eng("ps").out
    assert eng("exec", name, "touch", "/tmp/ok").rc == 0
    state = eng.wait_state(name, lambda s: s["Health"]["Status"] == "healthy", what="healthy")
    log = state["Health"]["Log"]
    assert 1 <= len(log) <= 5 and log[-1]["ExitCode"] == 0 and log[-1]["Output"] == "fine\n", log
    assert any(x["ExitCode"] != 0 for x in log) or state["Health"]["FailingStreak"] == 0
    hs = [e["Actor"]["Attributes"].get("healthStatus") for e in eng.events()
          if e["Action"] == "health_status" and e["Actor"]["ID"] == name]
    assert hs[:1] == ["unhealthy"] and hs[-1] == "healthy", hs


def test_health_timeout(eng):
    name, _ = eng.run_d("--health-cmd", "sleep 5", "--health-interval", "300ms", "--health-timeout", "200ms",
                        "--health-retries", "1", cmd=("sleep", "60"))
    state = eng.wait_state(name, lambda s: s["Health"]["Status"] == "unhealthy", what="unhealthy by timeout")
    assert "exceeded timeout" in state["Health"]["Log"][0]["Output"]


def test_wait_prints_exit_code(eng):
    name, _ = eng.run_d(cmd=("sh", "-c", "sleep 0.3; exit 7"))
    r = eng("wait", name, timeout=20)
    assert r.rc == 0 and r.out == "7\n", r


def test_inspect_redacts_secret_env(eng, test_dir):
    src = os.path.join(test_dir, "token")
    with open(src, "w") as f:
        f.write("s3cr3t-file-content")
    name, _ = eng.run_d("-e", "DB_PASSWORD=hunter2", "-e", "PLAIN=visible", "--secret", f"{src},target=tok",
                        cmd=("sh", "-c", "cat /run/secrets/tok; echo; " + LOOP))
    out = eng("inspect", name).out
    assert "hunter2" not in out and "s3cr3t" not in out, out
    assert "DB_PASSWORD=<redacted>" in out and "PLAIN=visible" in out
    wait_for(lambda: "s3cr3t-file-content" in eng("logs", name).out, what="secret readable inside")


def test_secrets_kept_for_restarts_only(eng, test_dir):
    """Without a restart policy the secrets tmpfs leaves the host once the
    container started (as in the foreground); with one, the monitor needs it
    for the next create, so it stays (root's, 0700) until rm."""
    src = os.path.join(test_dir, "tok")
    with open(src, "w") as f:
        f.write("value")

    def host_secret_mounts():
        with open("/proc/self/mountinfo") as f:
            return [line.split()[4] for line in f if "moat-secrets" in line.split()[4]]
    name, _ = eng.run_d("--restart", "always", "--secret", src, cmd=("sh", "-c", "cat /run/secrets/tok; " + LOOP))
    mounts = host_secret_mounts()
    assert len(mounts) == 1 and os.stat(mounts[0]).st_mode & 0o777 == 0o700, mounts
    first = eng.status(name)["Pid"]
    os.kill(first, signal.SIGKILL)
    eng.wait_state(name, lambda s: s["Status"] == "running" and s["Pid"] not in (0, first), what="restarted")
    wait_for(lambda: eng("logs", name).out.count("value") == 2, what="the secret read again after the restart")
    assert eng("rm", "-f", name).rc == 0
    assert host_secret_mounts() == [] and not os.path.exists(mounts[0])


def test_top_and_stats(eng):
    name, _ = eng.run_d(cmd=("sleep", "60"))
    top = eng("top", name)
    assert top.rc == 0 and "sleep 60" in top.out and top.out.startswith("UID"), top
    st = eng("stats", "--no-stream", "--format", "json", name)
    row = json.loads(st.out.splitlines()[0])
    assert row["Name"] == name and row["Running"] and row["PIDs"] >= 1 and row["MemUsage"] > 0, row
    assert row["MemLimit"] > 0 and row["PIDsLimit"] > 0, row  # the hardened default limits
    assert eng("stats", "--no-stream", name).out.startswith("NAME")


def test_oom_kill_recorded(eng):
    name, _ = eng.run_d("-m", "32m", cmd=("awk", 'BEGIN { s = "x"; while (1) s = s s }'))
    state = eng.wait_state(name, lambda s: s["Status"] == "exited", timeout=60, what="OOM death")
    assert state["OOMKilled"] and state["ExitCode"] == 137, state
    acts = eng.actions(name)
    assert "oom" in acts and "die" in acts, acts
    die = [e for e in eng.events() if e["Action"] == "die" and e["Actor"]["ID"] == name][-1]
    assert die["Actor"]["Attributes"]["exitCode"] == "137" and die["Actor"]["Attributes"]["oomKilled"] == "true"


def test_killed_monitor_shows_unknown_and_rm_f_cleans(eng):
    name, _ = eng.run_d(cmd=("sleep", "60"))
    for pid in monitors_of(eng.moat.root):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not monitors_of(eng.moat.root), what="monitor gone")
    ps = eng("ps")
    assert name in ps.out and "Unknown (monitor died" in ps.out, ps
    assert eng.status(name)["Status"] == "unknown"
    assert procs_in_cgroup_named(name), "the container was killed with its monitor"
    assert eng("rm", name).rc != 0
    assert eng("rm", "-f", name).rc == 0
    assert_nothing_left(eng.moat, name)


def test_log_rotation_caps_size(eng):
    name, _ = eng.run_d("--log-opt", "max-size=64k", "--log-opt", "max-file=2",
                        cmd=("sh", "-c", "i=0; while [ $i -lt 4000 ]; do echo line-$i; i=$((i+1)); done"))
    eng.wait_state(name, lambda s: s["Status"] == "exited", what="exited")
    d = os.path.join(eng.moat.root, ".engine", name)
    files = sorted(f for f in os.listdir(d) if f.startswith("ctr.log"))
    assert files == ["ctr.log", "ctr.log.1"], files
    total = sum(os.path.getsize(os.path.join(d, f)) for f in files)
    assert total <= 2 * 64 * 1024 + 70 * 1024, total
    out = eng("logs", name).out.splitlines()
    assert out[-1] == "line-3999" and len(out) < 4000, out[-3:]
    # What is kept is contiguous: no line lost inside the window.
    first = int(out[0].split("-")[1])
    assert out == [f"line-{i}" for i in range(first, 4000)]
    assert eng("logs", "--tail", "2", name).out == "line-3998\nline-3999\n"


def test_logs_follow_ends_with_the_container(eng):
    name, _ = eng.run_d(cmd=("sh", "-c", "for i in 1 2 3 4 5; do echo tick-$i; sleep 0.2; done"))
    p, out_p, _ = eng.moat.spawn("logs", "-f", name)
    p.wait(timeout=20)
    with open(out_p) as f:
        assert f.read() == "".join(f"tick-{i}\n" for i in range(1, 6))


def test_full_disk_drops_lines_but_not_the_container(eng, test_dir):
    """The state root on a 2 MiB tmpfs: the log fills it; the container
    still runs to its own exit status and the drops are counted."""
    small = os.path.join(test_dir, "small-root")
    os.makedirs(small)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", small], check=True)
    try:
        m = eng.moat
        old_root = m.root
        m.root = small
        try:
            name, _ = eng.run_d(cmd=("sh", "-c", "yes 0123456789abcdef | head -c 8000000; exit 5"))
            state = eng.wait_state(name, lambda s: s["Status"] == "exited", timeout=60, what="exited")
            assert state["ExitCode"] == 5, state
            insp = eng.inspect(name)
            assert insp["LogDropped"] > 0, insp
            assert eng("rm", name).rc == 0
            eng.names.remove(name)
        finally:
            m.root = old_root
    finally:
        subprocess.run(["umount", "-l", small], check=True)


def test_rm_refuses_running_and_unknown_names(eng):
    name, _ = eng.run_d(cmd=("sleep", "60"))
    r = eng("rm", name)
    assert_error_line(r, "is running", "rm -f")
    for cmd in (("logs", "nope-x"), ("stop", "nope-x"), ("rm", "nope-x"), ("inspect", "nope-x"),
                ("wait", "nope-x")):
        r = eng(*cmd)
        assert r.rc == 1 and "no such container `nope-x`" in r.err and len(r.err_lines) == 1, r


@pytest.mark.parametrize("flags,needle", [
    (("--restart", "sometimes"), "--restart"),
    (("--health-interval", "soon", "--health-cmd", "true"), "--health-interval"),
    (("--log-opt", "max-size=tiny"), "max-size"),
    (("--log-opt", "compress=true"), "--log-opt"),
    (("-t",), "-t with -d"),
])
def test_bad_engine_flags(eng, flags, needle):
    name = new_id("bad")
    r = eng("run", "-d", "--name", name, *flags, eng.rootfs, "true")
    assert r.rc == 2, r
    assert_error_line(r, needle)
    assert not monitors_of(eng.moat.root)
    assert not os.path.isdir(os.path.join(eng.moat.root, ".engine", name))


def test_engine_flags_need_detach(eng):
    r = eng("run", "--restart", "always", eng.rootfs, "true")
    assert r.rc == 2
    assert_error_line(r, "--restart needs -d")


def test_name_in_use(eng):
    name, _ = eng.run_d(cmd=("sleep", "60"))
    r = eng("run", "-d", "--name", name, eng.rootfs, "true")
    assert r.rc == 1
    assert_error_line(r, f"`{name}` is already in use")
    assert eng.status(name)["Status"] == "running"


def test_policy_denial_detached_leaves_nothing(eng, test_dir):
    pol = os.path.join(test_dir, "policy.yaml")
    with open(pol, "w") as f:
        f.write("version: 1\n")
    name = new_id("deny")
    r = eng("run", "-d", "--name", name, "--cap-add", "SYS_ADMIN", eng.rootfs, "true",
            global_opts=("--policy", pol))
    assert r.rc == 3, r
    assert "policy denied" in r.err and "sys_admin" in r.err.lower(), r
    assert not monitors_of(eng.moat.root)
    assert not os.path.isdir(os.path.join(eng.moat.root, ".engine", name))
    assert_nothing_left(eng.moat, name)


def test_rm_flag_removes_record_when_done(eng):
    name, _ = eng.run_d("--rm", cmd=("true",))
    wait_for(lambda: not os.path.exists(os.path.join(eng.moat.root, ".engine", name)), what="record removed")
    wait_for(lambda: not monitors_of(eng.moat.root), what="monitor gone")
    eng.names.remove(name)


def test_several_names_one_failure(eng):
    """docker's way: each name is tried; done ones are printed, a failed one
    is reported and makes the exit status 1."""
    a, _ = eng.run_d(cmd=("true",))
    eng.wait_state(a, lambda s: s["Status"] == "exited", what="exited")
    r = eng("rm", "nope-y", a)
    assert r.rc == 1 and r.out == f"{a}\n", r
    assert len(r.err_lines) == 1 and "no such container `nope-y`" in r.err, r
    assert a not in eng("ps", "-a", "-q").out


def test_ps_forms(eng):
    """`ps` without an id is Docker's listing; `ps [--format F] ID` is runc's
    process list of one container."""
    name, _ = eng.run_d(cmd=("sleep", "60"))
    init = eng.status(name)["Pid"]
    for args in (("ps", "--format=json"), ("ps", "--format", "json"), ("ps", "-a", "--format", "json")):
        rows = [json.loads(x) for x in eng(*args).out.splitlines()]
        assert [r["Names"] for r in rows] == [name], (args, rows)
    for args in (("ps", "--format", "json", name), ("ps", "--format=json", name), ("ps", "-f", "json", name)):
        r = eng(*args)
        assert r.rc == 0 and json.loads(r.out) == [init], (args, r)
    assert eng("ps", "-q").out == f"{name}\n"
