"""`moat watch` and `moat audit --docker-host` against a fake Engine API
(tests/fake_engine.py) on a unix socket: event spellings, chunk boundaries
anywhere, a stream that ends, malformed answers, reconnect with replay,
enforcement, fail-closed start, clean exit on SIGTERM.  The same commands
against a real dockerd and podman are in tests/clients/test_watch.py.
"""

import json
import os
import signal
import subprocess
import tempfile

import pytest

from fake_engine import FakeEngine, WatchProc, event, inspect_doc
from moat_testlib import IS_RUNC, MOAT_BIN

pytestmark = pytest.mark.skipif(IS_RUNC, reason="moat's watch command")

PRIV = "a1" * 32
CAPS = "b2" * 32
ROOTMOUNT = "c3" * 32
GOOD = "d4" * 32


@pytest.fixture
def engine(monkeypatch):
  monkeypatch.delenv("MOAT_POLICY", raising=False)
  d = tempfile.mkdtemp(prefix="moat-fake-", dir="/tmp")
  e = FakeEngine(os.path.join(d, "docker.sock"))
  e.url = "unix://" + e.sock
  # Created, not running: a test starts what it needs (start() below), so
  # that the check of running containers on connect sees only those.
  e.add(inspect_doc(PRIV, "priv", privileged=True, running=False))
  e.add(inspect_doc(CAPS, "caps", cap_add=["SYS_ADMIN"], running=False))
  e.add(inspect_doc(ROOTMOUNT, "rootmount", binds=["/:/host"], running=False))
  e.add(inspect_doc(GOOD, "good", memory=64 << 20, pids=100, running=False))
  yield e
  e.close()
  os.rmdir(d)


@pytest.fixture
def watch(engine):
  procs = []

  def start(*args):
    w = WatchProc(MOAT_BIN, "--docker-host", engine.url, "--output", "json",
                  *args)
    procs.append(w)
    engine.wait_streams(1)
    w.wait_record(lambda r: r["event"] == "connected", "connected")
    return w
  yield start
  for w in procs:
    w.stop()


def start(engine, cid, name, **kw):
  engine.containers[cid]["State"]["Running"] = True
  engine.push(event(cid, "start", name, **kw))


def verdict_of(w, cid, action="start"):
  return w.wait_record(lambda r: r.get("id") == cid and r["event"] == action,
                       f"{action} verdict for {cid[:12]}")


def rules(rec):
  return sorted(v["rule"] for v in rec["violations"])


def test_reports_exactly_the_violators(engine, watch):
  w = watch()
  for cid, name in ((PRIV, "priv"), (CAPS, "caps"), (ROOTMOUNT, "rootmount"),
                    (GOOD, "good")):
    engine.push(event(cid, "create", name))
    start(engine, cid, name)
  priv, caps, root, good = (verdict_of(w, c) for c in (PRIV, CAPS, ROOTMOUNT, GOOD))
  assert priv["verdict"] == "deny" and "moat.privileged" in rules(priv), priv
  assert caps["verdict"] == "deny" and rules(caps) == ["moat.caps.sys_admin"], caps
  assert root["verdict"] == "deny" and "moat.mounts.sensitive_rw" in rules(root), root
  assert good["verdict"] == "allow" and good["violations"] == [], good
  assert good["name"] == "good" and priv["name"] == "priv"
  for v in caps["violations"]:
    assert v["cis"] == "5.4" and v["remediation"], v
  # Without --enforce nothing is stopped.
  assert engine.stops == []
  assert verdict_of(w, CAPS, "create")["verdict"] == "deny"


def test_text_output_one_line_per_container(engine):
  w = WatchProc(MOAT_BIN, "--docker-host", engine.url)
  try:
    engine.wait_streams(1)
    start(engine, CAPS, "caps")
    start(engine, GOOD, "good")
    _, deny = w.wait_for(lambda l: "start caps" in l, "caps verdict")
    _, allow = w.wait_for(lambda l: "start good" in l, "good verdict")
    assert deny.startswith(f"moat: watch: deny start caps ({CAPS[:12]}) image "
                           "localhost/bb:latest: 1 rule(s) violated: "
                           "moat.caps.sys_admin ["), deny
    assert allow.startswith(f"moat: watch: allow start good ({GOOD[:12]})"), allow
  finally:
    assert w.stop() == 0


def test_enforce_stops_violators_only(engine, watch):
  w = watch("--enforce")
  for cid, name in ((PRIV, "priv"), (GOOD, "good"), (CAPS, "caps")):
    start(engine, cid, name)
  for cid in (PRIV, CAPS):
    rec = w.wait_record(lambda r, c=cid: r["event"] == "enforce" and r["id"] == c,
                        "enforce record")
    assert rec["result"] == "stopped" and rec["action"] == "stop", rec
  verdict_of(w, GOOD)
  assert sorted(engine.stops) == sorted([PRIV, CAPS])
  assert engine.containers[GOOD]["State"]["Running"]


def test_enforce_skips_containers_not_running(engine, watch):
  w = watch("--enforce")
  engine.push(event(CAPS, "create", "caps"))
  rec = verdict_of(w, CAPS, "create")
  assert rec["verdict"] == "deny"
  start(engine, GOOD, "good")
  verdict_of(w, GOOD)
  assert engine.stops == []


def test_running_containers_checked_on_connect(engine, watch):
  for d in engine.containers.values():
    d["State"]["Running"] = True
  w = watch("--enforce")
  # Running before watch started: checked (and stopped) without an event.
  for cid in (PRIV, CAPS, ROOTMOUNT):
    assert verdict_of(w, cid, "running")["verdict"] == "deny"
  assert verdict_of(w, GOOD, "running")["verdict"] == "allow"
  assert sorted(engine.stops) == sorted([PRIV, CAPS, ROOTMOUNT])


@pytest.mark.parametrize("split", [1, 3, 7, 50])
def test_events_split_across_chunks(engine, watch, split):
  engine.split = split
  w = watch()
  start(engine, CAPS, "caps")
  start(engine, GOOD, "good")
  assert verdict_of(w, CAPS)["verdict"] == "deny"
  assert verdict_of(w, GOOD)["verdict"] == "allow"


def test_legacy_event_spelling_and_other_events_ignored(engine, watch):
  w = watch()
  engine.push({"Type": "container", "Action": "exec_start: sh", "Actor": {"ID": PRIV}})
  engine.push({"Type": "image", "Action": "pull", "Actor": {"ID": "x"}})
  engine.push({"Type": "container", "Action": "die", "Actor": {"ID": PRIV}})
  engine.push(b"not json at all\n")
  start(engine, CAPS, "caps", docker_spelling=False)
  rec = verdict_of(w, CAPS)
  assert rec["verdict"] == "deny", rec
  ids = [r.get("id") for r in w.records() if r["event"] not in ("connected", "error")]
  assert ids == [CAPS], w.lines
  errors = [r for r in w.records() if r["event"] == "error"]
  assert len(errors) == 1 and "ignoring an event" in errors[0]["message"], errors


def test_reconnects_and_replays_from_last_event(engine, watch):
  w = watch()
  ev = event(CAPS, "start", "caps")
  engine.push(ev)
  verdict_of(w, CAPS)
  for i, clean in enumerate((True, False)):
    engine.end_streams(clean=clean)
    w.wait_for(lambda l: sum('"disconnected"' in x for x in w.lines) == i + 1,
               f"disconnect {i + 1}")
    w.wait_for(lambda l: sum('"connected"' in x for x in w.lines) == i + 2,
               f"reconnect {i + 1}")
    assert len(engine.event_requests) == i + 2, engine.event_requests
  rec = [r for r in w.records() if r["event"] == "disconnected"]
  assert "the event stream ended; reconnecting in" in rec[0]["message"], rec
  assert "reconnecting in" in rec[1]["message"], rec
  since = engine.event_requests[-1]["since"]
  assert since == "%d.%09d" % divmod(ev["timeNano"], 10**9), engine.event_requests
  # An event stamped in the future does not move the replay point.
  engine.push(event(ROOTMOUNT, "start", "rootmount", t_nano=ev["timeNano"] + 10**9 * 86400))
  verdict_of(w, ROOTMOUNT)
  engine.end_streams()
  w.wait_for(lambda l: sum('"connected"' in x for x in w.lines) == 4, "reconnect 3")
  assert engine.event_requests[-1]["since"] == since, engine.event_requests
  # The replayed event (same id, action, time) is not reported twice.
  engine.push(ev)
  start(engine, PRIV, "priv")
  verdict_of(w, PRIV)
  starts = [r for r in w.records() if r.get("id") == CAPS and r["event"] == "start"]
  assert len(starts) == 1, w.lines


def test_malformed_events_response_then_recovers(engine, watch):
  engine.events_reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
  w = WatchProc(MOAT_BIN, "--docker-host", engine.url, "--output", "json")
  try:
    rec = w.wait_record(lambda r: r["event"] == "disconnected", "disconnected")
    assert "unsupported Transfer-Encoding" in rec["message"], rec
    engine.events_reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    rec = w.wait_record(lambda r: r["event"] == "disconnected"
                        and "chunk size" in r["message"], "bad chunk")
    engine.events_reply = None
    engine.wait_streams(1)
    start(engine, CAPS, "caps")
    assert verdict_of(w, CAPS)["verdict"] == "deny"
  finally:
    assert w.stop() == 0


def test_vanished_container_is_skipped_quietly(engine, watch):
  """`run --rm` of a short command: gone before watch inspects it (404)."""
  w = watch()
  engine.push(event("e5" * 32, "start", "gone"))
  start(engine, CAPS, "caps")
  verdict_of(w, CAPS)
  assert [r["event"] for r in w.records()] == ["connected", "start"], w.lines


def test_daemon_text_is_cleaned(engine, watch):
  """Names and paths from the daemon: no control characters in a line, and
  no invalid UTF-8 that would make jansson drop the record."""
  cid = "f6" * 32
  doc = inspect_doc(cid, "bad\nname\u00e9", binds=["/etc/caf\u00e9\x1b:/x"])
  engine.add(doc)
  w = watch()
  start(engine, cid, "x")
  rec = verdict_of(w, cid)
  assert rec["name"] == "bad?name??", rec
  reasons = " ".join(v["reason"] for v in rec["violations"])
  assert "moat.mounts.sensitive_rw" in rules(rec) and "/etc/caf???" in reasons, rec


def test_broken_inspect_answer_is_logged_and_skipped(engine, watch):
  engine.inspect_reply[PRIV] = b'{"Id": "x", "HostConfig": '
  w = watch()
  start(engine, PRIV, "priv")
  start(engine, CAPS, "caps")
  assert verdict_of(w, CAPS)["verdict"] == "deny"
  errs = [r["message"] for r in w.records() if r["event"] == "error"]
  assert any("inspect " + PRIV[:12] in m for m in errs), w.lines


def test_oversized_event_line_is_refused(engine, watch):
  w = watch()
  engine.push(b'{"x":"' + b"a" * (300 << 10) + b'"}\n')
  rec = w.wait_record(lambda r: r["event"] == "disconnected", "disconnected")
  assert "event longer than" in rec["message"], rec


@pytest.mark.parametrize("output", ["text", "json"])
def test_syslog(engine, tmp_path, output):
  """--syslog: violations and enforcement reach /dev/log.  This host runs no
  syslog daemon, so watch runs in a private mount namespace whose /dev/log
  is a socket this test reads."""
  import socket
  log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
  log.bind(str(tmp_path / "log.sock"))
  log.settimeout(30)
  script = ('set -e; mkdir "$1/olddev"; mount --bind /dev "$1/olddev"; '
            'mount -t tmpfs tmpfs /dev; touch /dev/null /dev/log; '
            'mount --bind "$1/olddev/null" /dev/null; '
            'mount --bind "$1/log.sock" /dev/log; shift; exec "$@"')
  w = WatchProc(MOAT_BIN, "--docker-host", engine.url, "--syslog", "--enforce",
                "--output", output, prefix=["unshare", "-m", "--propagation", "private", "sh",
                        "-c", script, "sh", str(tmp_path)])
  try:
    w.wait_for(lambda l: "watching" in l, "connected")
    start(engine, CAPS, "caps")
    w.wait_for(lambda l: "enforce" in l and "caps" in l, "enforcement")
    msgs = []
    while not any("enforce: stopped caps" in m for m in msgs):
      msgs.append(log.recv(8192).decode(errors="replace"))
  finally:
    assert w.stop() == 0
    log.close()
  # <facility daemon (3) * 8 + severity>: warning (4) for the violation,
  # notice (5) for the enforcement; ident moat-watch with its pid.
  deny = next(m for m in msgs if "deny start caps" in m)
  assert deny.startswith("<28>") and "moat-watch[" in deny, deny
  assert "moat.caps.sys_admin" in deny, deny
  stop = next(m for m in msgs if "enforce: stopped caps" in m)
  assert stop.startswith("<29>"), stop


def test_enforce_unreachable_socket_fails_closed(tmp_path):
  sock = tmp_path / "none.sock"
  r = subprocess.run([MOAT_BIN, "watch", "--enforce", "--docker-host",
                      f"unix://{sock}"], capture_output=True, text=True,
                     timeout=30)
  assert r.returncode == 1, r
  assert r.stderr.count("\n") == 1, r.stderr
  assert r.stderr.startswith("moat: watch: cannot enforce: ") and str(sock) in r.stderr, r.stderr


def test_bad_url_and_usage(tmp_path):
  for args, needle in ((["--docker-host", "tcp://127.0.0.1:2375"], "only unix:///"),
                       (["--docker-host", "unix://rel.sock"], "absolute"),
                       ([], "--docker-host"),
                       (["--docker-host", "unix:///x", "--output", "xml"], "--output")):
    r = subprocess.run([MOAT_BIN, "watch", *args], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr, (args, r)


def test_without_enforce_waits_for_the_daemon(tmp_path):
  sock = str(tmp_path / "later.sock")
  w = WatchProc(MOAT_BIN, "--docker-host", "unix://" + sock, "--output", "json")
  e = None
  try:
    w.wait_record(lambda r: r["event"] == "disconnected", "disconnected")
    e = FakeEngine(sock)
    e.add(inspect_doc(CAPS, "caps", cap_add=["SYS_ADMIN"]))
    w.wait_record(lambda r: r["event"] == "connected", "connected")
  finally:
    assert w.stop(signal.SIGINT) == 0
    if e:
      e.close()
  last = w.records()[-1]
  assert last["event"] == "exit" and last["message"].startswith("SIGINT"), last


def test_sigterm_exits_cleanly(engine, watch):
  w = watch()
  start(engine, CAPS, "caps")
  verdict_of(w, CAPS)
  assert w.stop(signal.SIGTERM) == 0
  last = w.records()[-1]
  assert last["event"] == "exit", last
  assert "1 container(s) checked, 1 denied, 0 stopped" in last["message"], last


def audit_json(*args):
  r = subprocess.run([MOAT_BIN, "audit", "--format", "json", *args],
                     capture_output=True, text=True, timeout=60)
  assert r.returncode == 0, r
  return json.loads(r.stdout)


def results(report):
  """Check id -> (result, items) of a docker-bench-security style report."""
  return {res["id"]: (res["result"], sorted(res.get("items", [])))
          for t in report["tests"] for res in t["results"]}


def test_audit_docker_host_matches_saved_inspect(engine, tmp_path):
  for cid in (PRIV, CAPS, ROOTMOUNT):
    engine.containers[cid]["State"]["Running"] = True
  live = audit_json("--docker-host", engine.url)
  saved = tmp_path / "inspect.json"
  running = [d for d in engine.containers.values() if d["State"]["Running"]]
  saved.write_text(json.dumps(running))
  assert results(live) == results(audit_json(str(saved)))
  assert results(live)["5.5"] == ("WARN", ["priv"]), results(live)["5.5"]
  everything = audit_json("--docker-host", engine.url, "--all")
  saved.write_text(json.dumps(list(engine.containers.values())))
  assert results(everything) == results(audit_json(str(saved)))
  assert "good" in json.dumps(everything) and "good" not in json.dumps(live)


def test_audit_docker_host_unreachable_one_line(tmp_path):
  r = subprocess.run([MOAT_BIN, "audit", "--docker-host",
                      f"unix://{tmp_path}/none.sock"], capture_output=True,
                     text=True, timeout=30)
  assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1, r
  assert "connect to" in r.stderr, r
