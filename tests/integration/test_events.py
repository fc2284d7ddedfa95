"""The events log and `moat events` (README "Events").

Every lifecycle command appends a Docker-shaped JSON line to
<root>/.events.jsonl; `moat events` reads it with Docker's filters and times,
follows it across rotations, and `moat events ID` is runc's stats form.
"""

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from moat_testlib import DEFAULT_CAPS, IS_RUNC, new_id, read_text, wait_for

pytestmark = pytest.mark.skipif(IS_RUNC, reason="moat's events log")

EVENTS = ".events.jsonl"


def events(moat, *args, env=None):
    """`moat events --format json ARGS` as a list of dicts."""
    r = moat("events", "--format", "json", *args)
    assert r.rc == 0, r
    return [json.loads(line) for line in r.out.splitlines()]


def log_lines(moat, name=EVENTS):
    p = os.path.join(moat.root, name)
    if not os.path.exists(p):
        return []
    with open(p, "rb") as f:
        return f.read().decode("utf-8").splitlines()


def attrs(ev):
    return ev["Actor"]["Attributes"]


@pytest.fixture
def running(moat, make_bundle):
    def start(**knobs):
        # long enough for the slowest test under ASan; the teardown kills it
        b = make_bundle(args=["/bin/moat-probe", "sleep", "600"], **knobs)
        cid = new_id("ev")
        moat.start_probe(b, cid)
        return cid
    return start


def test_lifecycle_actions_with_attributes(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "60"],
                    annotations={"org.moat.name": "web", "org.moat.image": "busybox:1.36"})
    cid = new_id("ev")
    t0 = time.time_ns()
    moat.create(b, cid).ok()
    moat("start", cid).ok()
    moat("exec", cid, "/bin/true").ok()
    moat("pause", cid).ok()
    moat("resume", cid).ok()
    moat("kill", cid, "KILL").ok()
    moat.wait_status(cid, "stopped")
    moat("delete", cid).ok()
    evs = events(moat, "--filter", f"container={cid}")
    assert [e["Action"] for e in evs] == ["create", "start", "exec_start: /bin/true", "pause",
                                          "unpause", "kill", "destroy"], evs
    for e in evs:
        assert e["Type"] == "container" and e["scope"] == "local", e
        assert e["id"] == cid and e["Actor"]["ID"] == cid and e["status"] == e["Action"], e
        assert attrs(e)["name"] == "web" and attrs(e)["image"] == "busybox:1.36", e
        assert e["from"] == "busybox:1.36", e
        assert e["time"] == e["timeNano"] // 10**9 and e["timeNano"] >= t0, e
    assert attrs(evs[5])["signal"] == "9", evs[5]
    times = [e["timeNano"] for e in evs]
    assert times == sorted(times), times


def test_name_defaults_to_id_and_failed_commands_log_nothing(moat, running):
    cid = running()
    before = len(log_lines(moat))
    assert moat("start", cid).rc != 0          # already running
    assert moat("exec", "no-such-" + cid, "/bin/true").rc != 0
    assert moat("kill", "no-such-" + cid).rc != 0
    assert len(log_lines(moat)) == before
    evs = events(moat, "--filter", f"id={cid}")
    assert [e["Action"] for e in evs] == ["create", "start"], evs
    assert attrs(evs[0]) == {"name": cid}, evs[0]


def test_policy_deny_event_and_nothing_else(moat, make_bundle, monkeypatch):
    monkeypatch.delenv("MOAT_POLICY", raising=False)
    if os.path.exists("/etc/moat/policy.yaml"):
        pytest.skip("/etc/moat/policy.yaml exists: the baseline is not in effect")
    b = make_bundle(caps=DEFAULT_CAPS + ["CAP_SYS_ADMIN", "CAP_SYS_MODULE"],
                    annotations={"org.moat.image": "evil:latest"})
    cid = new_id("deny")
    r = moat.create(b, cid)
    assert r.rc == 3, r
    assert os.listdir(moat.root) == [EVENTS], os.listdir(moat.root)
    evs = events(moat)
    assert len(evs) == 1, evs
    e = evs[0]
    assert e["Action"] == "policy_deny" and e["Actor"]["ID"] == cid, e
    assert attrs(e)["rules"] == "moat.caps.sys_admin,moat.caps.sys_module", e
    assert attrs(e)["image"] == "evil:latest" and attrs(e)["name"] == cid, e
    assert events(moat, "--filter", "event=policy_deny", "--filter", "image=evil") == evs


def write_log(moat, entries):
    """A log with events at the given (time_s, action, id, attrs)."""
    with open(os.path.join(moat.root, EVENTS), "w") as f:
        for t, action, cid, a in entries:
            f.write(json.dumps({"status": action, "id": cid, "Type": "container", "Action": action,
                                "Actor": {"ID": cid, "Attributes": a}, "scope": "local",
                                "time": t, "timeNano": t * 10**9 + 123}) + "\n")


def test_filters_since_until_and_text(moat):
    write_log(moat, [
        (1700000000, "create", "aaa111", {"name": "web", "image": "nginx:1"}),
        (1700000100, "start", "aaa111", {"name": "web", "image": "nginx:1"}),
        (1700000200, "create", "bbb222", {"name": "db", "image": "postgres:16"}),
        (1700000300, "die", "aaa111", {"name": "web", "image": "nginx:1", "exitCode": "0"}),
    ])
    # a line cut short (a write on a full disk) is skipped, not fatal
    with open(os.path.join(moat.root, EVENTS), "a") as f:
        f.write('{"status":"die","id":"x"\n')

    def ids(*args):
        return [(e["Action"], e["id"]) for e in events(moat, *args)]

    assert len(ids()) == 4
    assert ids("--filter", "event=create") == [("create", "aaa111"), ("create", "bbb222")]
    assert ids("--filter", "event=create", "--filter", "event=die") == [
        ("create", "aaa111"), ("create", "bbb222"), ("die", "aaa111")]
    assert ids("--filter", "event=create", "--filter", "name=db") == [("create", "bbb222")]
    assert ids("--filter", "type=container,name=web,event=die") == [("die", "aaa111")]
    assert ids("--filter", "container=bbb") == [("create", "bbb222")]
    assert ids("--filter", "image=nginx") == [("create", "aaa111"), ("start", "aaa111"), ("die", "aaa111")]
    assert ids("--filter", "type=image") == []
    assert ids("--since", "1700000100", "--until", "1700000200.000000123") == [
        ("start", "aaa111"), ("create", "bbb222")]
    assert ids("--since", "2023-11-14T22:18:20Z") == [("die", "aaa111")]
    assert ids("--since", "2023-11-15T00:16:40+02:00", "--until", "2023-11-14T22:16:40.000000123Z") == [
        ("create", "bbb222")]
    assert ids("--since", "1h") == []           # all of them are from 2023
    assert len(ids("--until", "0s")) == 4
    r = moat("events", "--filter", "event=die")
    assert r.rc == 0, r
    assert r.out == "2023-11-14T22:18:20.000000123Z container die aaa111 (exitCode=0, image=nginx:1, name=web)\n"


@pytest.mark.parametrize("args", [
    ["--since", "yesterday"], ["--until", "2023-13-01"], ["--since", "-5m"],
    ["--filter", "colour=red"], ["--filter", "type=bogus"], ["--filter", "noequals"],
    ["--filter", "name="], ["--format", "{{.ID}}"], ["--bogus"], ["--stats"],
    ["--interval", "0s", "x"], ["--interval", "fast", "x"], ["--since", "1h", "someid"],
    ["a", "b"], ["--since", "1700000200", "--until", "1700000100"],
])
def test_bad_usage_exits_2_with_one_line(moat, args):
    r = moat("events", *args)
    assert r.rc == 2, r
    assert len(r.err_lines) == 1 and r.err.startswith("moat: events: "), r


def test_follow_sees_new_events(moat, running):
    cid = running()
    p, out, _ = moat.spawn("events", "--follow", "--format", "json", "--filter", f"container={cid}")
    # the old events come first: once they are out, the follower is running
    wait_for(lambda: '"Action":"start"' in read_text(out), what="old events")
    moat("kill", cid, "KILL").ok()
    wait_for(lambda: '"Action":"kill"' in read_text(out), what="the kill event")
    p.terminate()
    p.wait(timeout=10)
    lines = read_text(out).splitlines()
    assert [json.loads(line)["Action"] for line in lines] == ["create", "start", "kill"], lines


def test_follow_until_stops(moat):
    t = time.time()
    write_log(moat, [(int(t) - 10, "create", "aaa111", {})])
    r = moat("events", "--follow", "--until", f"{t + 1:.3f}", timeout=30)
    assert r.rc == 0, r
    assert "container create aaa111" in r.out, r


def test_rotation_at_a_small_cap(moat, running, monkeypatch):
    monkeypatch.setenv("MOAT_EVENTS_MAX_BYTES", "2000")
    cid = running()
    for i in range(30):
        moat("update", "--pids-limit", str(100 + i), cid).ok()
    cur, old = log_lines(moat), log_lines(moat, EVENTS + ".1")
    assert old, "no rotation happened"
    for name in (EVENTS, EVENTS + ".1"):
        assert os.path.getsize(os.path.join(moat.root, name)) <= 2000
    for line in cur + old:
        json.loads(line)
    # the reader joins both files, oldest first, ending with the newest
    evs = events(moat, "--filter", "event=update")
    assert evs and evs[-1]["timeNano"] == json.loads(cur[-1])["timeNano"]
    times = [e["timeNano"] for e in evs]
    assert times == sorted(times)


def test_follow_survives_rotation(moat, running, monkeypatch):
    monkeypatch.setenv("MOAT_EVENTS_MAX_BYTES", "1500")
    cid = running()
    p, out, _ = moat.spawn("events", "--follow", "--format", "json", "--filter", "event=update")
    moat("update", "--pids-limit", "99", cid).ok()
    wait_for(lambda: read_text(out).count("\n") == 1, what="the first update")
    rotated = 0
    for i in range(1, 40):
        ino = os.stat(os.path.join(moat.root, EVENTS)).st_ino
        moat("update", "--pids-limit", str(100 + i), cid).ok()
        rotated += os.stat(os.path.join(moat.root, EVENTS)).st_ino != ino
        wait_for(lambda: read_text(out).count("\n") == i + 1, what=f"update {i} in the follower")
    p.terminate()
    p.wait(timeout=10)
    assert rotated >= 3, rotated
    assert len(read_text(out).splitlines()) == 40


def test_concurrent_emitters_whole_lines(moat, running):
    cid = running()
    errors = []

    def worker(k):
        for i in range(200):
            r = moat("update", "--pids-limit", str(1000 + k * 200 + i), cid, timeout=60)
            if r.rc != 0:
                errors.append(r)
                return

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    updates = 0
    for line in log_lines(moat) + log_lines(moat, EVENTS + ".1"):
        e = json.loads(line)            # every line is one whole event
        updates += e["Action"] == "update"
    assert updates == 1600


def test_syslog_mirror(moat, make_bundle, monkeypatch, test_dir):
    path = os.path.join(test_dir, "log.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    monkeypatch.setenv("MOAT_EVENTS_SYSLOG", path)
    b = make_bundle()
    cid = new_id("ev")
    moat.create(b, cid).ok()
    msg = s.recv(65536).decode()
    s.close()
    assert msg.startswith("<30>") and " moat[" in msg, msg
    e = json.loads(msg.split("]: ", 1)[1])
    assert e["Action"] == "create" and e["id"] == cid, e
    # the global option is accepted (it points the mirror at /dev/log)
    r = moat("events", global_opts=("--events-syslog",))
    assert r.rc == 0, r


def test_runc_stats_form(moat, running):
    cid = running()
    r = moat("events", "--stats", cid)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert len(lines) == 1, r
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == cid, ev
    d = ev["data"]
    assert {"cpu", "memory", "pids", "blkio"} <= set(d), d
    assert d["cpu"]["usage"]["total"] > 0, d["cpu"]
    assert {"kernel", "user"} <= set(d["cpu"]["usage"]) and "throttling" in d["cpu"], d["cpu"]
    assert d["memory"]["usage"]["usage"] > 0 and d["memory"]["usage"]["limit"] > 0, d["memory"]
    assert isinstance(d["memory"]["raw"], dict) and d["memory"]["raw"], d["memory"]
    assert d["pids"]["current"] >= 1, d["pids"]
    # continuous form: every interval, until the container is gone
    p, out, err = moat.spawn("events", "--interval", "100ms", cid)
    wait_for(lambda: read_text(out).count("\n") >= 2, what="two stats events")
    moat("delete", "--force", cid).ok()
    assert p.wait(timeout=20) == 0, read_text(err)
    for line in read_text(out).splitlines():
        assert json.loads(line)["type"] in ("stats", "oom"), line
    # a container that does not exist: an error, not usage
    r = moat("events", "--stats", "no-such-" + cid)
    assert r.rc == 1 and len(r.err_lines) == 1, r


def test_events_without_root_or_log(moat, tmp_path):
    r = subprocess.run([moat.bin, "--root", str(tmp_path / "none"), "events"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", r
    assert not (tmp_path / "none").exists()
