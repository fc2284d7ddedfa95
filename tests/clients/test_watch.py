"""`moat watch` and `moat audit --docker-host` against the real engines:
dockerd 20.10 (Debian docker.io) and podman 4.3's Docker-compatible service,
both on private sockets (conftest.py).  Their containers run under runc: the
point is to catch what an engine that does not use moat lets through.

Each test starts containers with and without violations and waits for
watch's JSON record of each one (no sleeps: a record, or a deadline that
fails the test).
"""

import json
import os
import subprocess
import sys

import pytest

from clientlib import BB, IMAGE
from conftest import runtime_bin

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fake_engine import WatchProc  # noqa: E402

# No limits is a violation here, not just a warning as in the baseline.
POLICY = "version: 1\nrules:\n  moat.limits.memory: deny\n  moat.limits.pids: deny\n"
COMPLIANT = ["--memory", "64m", "--pids-limit", "64", "--cpu-shares", "512",
             "--read-only", "--cap-drop", "ALL", "--security-opt",
             "no-new-privileges"]
LIMITS = COMPLIANT[:6]
# name suffix -> (flags, rules that must be among its violations)
VIOLATORS = {
    "priv": (["--privileged"] + LIMITS, {"moat.privileged", "moat.caps.all"}),
    "sysadmin": (["--cap-add", "SYS_ADMIN"] + LIMITS, {"moat.caps.sys_admin"}),
    "hostroot": (["-v", "/:/host"] + LIMITS, {"moat.mounts.sensitive_rw"}),
    "nolimits": ([], {"moat.limits.memory", "moat.limits.pids"}),
}


@pytest.fixture(params=["docker", "podman_service"])
def engine(request):
  return request.getfixturevalue(request.param)


@pytest.fixture
def policy(tmp_path, monkeypatch):
  monkeypatch.delenv("MOAT_POLICY", raising=False)
  p = tmp_path / "policy.yaml"
  p.write_text(POLICY)
  return str(p)


class Containers:
  def __init__(self, engine, prefix):
    self.engine, self.prefix, self.ids = engine, prefix, {}
    # dockerd's privileged containers need a runc that leaves out what the
    # host's bounding set lacks (conftest.py, BOUNDED_RUNC).
    self.flags = ["--runtime", "runc-bounded"] if engine.name == "docker" else []

  def run(self, suffix, flags):
    name = f"{self.prefix}-{suffix}"
    cid = self.engine("run", "-d", "--network", "none", "--name", name,
                      *self.flags, *flags, IMAGE, BB, "sleep", "300").stdout.strip()
    self.ids[suffix] = cid
    return cid

  def running(self, suffix):
    return self.engine("inspect", "-f", "{{.State.Running}}",
                       self.ids[suffix]).stdout.strip() == "true"

  def remove(self):
    if self.ids:
      self.engine("rm", "-f", *self.ids.values(), check=False, timeout=60)


@pytest.fixture
def containers(engine, request):
  c = Containers(engine, "w" + request.node.name.split("[")[0][-8:].replace("_", ""))
  yield c
  c.remove()


@pytest.fixture
def watch():
  procs = []

  def start(engine, *args):
    w = WatchProc(runtime_bin(), "--docker-host", "unix://" + engine.sock,
                  "--output", "json", *args)
    procs.append(w)
    w.wait_record(lambda r: r["event"] == "connected", "connected", timeout=60)
    return w
  yield start
  for w in procs:
    assert w.stop() == 0, w.lines


def verdict(w, cid, action="start"):
  return w.wait_record(lambda r: r.get("id") == cid and r["event"] == action,
                       f"{action} record for {cid[:12]}", timeout=60)


def violated(rec):
  return {v["rule"] for v in rec["violations"]}


def run_all(containers):
  for suffix, (flags, _) in VIOLATORS.items():
    containers.run(suffix, flags)
  containers.run("good", COMPLIANT)


def test_watch_reports_exactly_the_violators(engine, policy, watch, containers):
  w = watch(engine, "--policy", policy)
  run_all(containers)
  for suffix, (_, must) in VIOLATORS.items():
    for action in ("create", "start"):
      rec = verdict(w, containers.ids[suffix], action)
      assert rec["verdict"] == "deny", rec
      assert must <= violated(rec), (suffix, violated(rec))
  good = verdict(w, containers.ids["good"])
  assert good["verdict"] == "allow" and good["violations"] == [], good
  assert violated(verdict(w, containers.ids["nolimits"])) == {
      "moat.limits.memory", "moat.limits.pids"}
  ours = set(containers.ids.values())
  denied = {r["id"] for r in w.records() if r.get("verdict") == "deny"} & ours
  assert denied == {containers.ids[s] for s in VIOLATORS}, w.lines
  # Without --enforce, everything is still running.
  assert all(containers.running(s) for s in containers.ids)


def test_watch_enforce_stops_violators(engine, policy, watch, containers):
  w = watch(engine, "--policy", policy, "--enforce")
  run_all(containers)
  for suffix in VIOLATORS:
    cid = containers.ids[suffix]
    rec = w.wait_record(lambda r: r["event"] == "enforce" and r["id"] == cid
                        and r["result"] == "stopped", f"{suffix} stopped",
                        timeout=60)
    assert rec["action"] == "stop", rec
    assert not containers.running(suffix), suffix
  assert verdict(w, containers.ids["good"])["verdict"] == "allow"
  assert containers.running("good")
  enforced = {r["id"] for r in w.records() if r["event"] == "enforce"}
  assert containers.ids["good"] not in enforced


def test_watch_reconnects_after_dockerd_restart(docker, policy, watch, request):
  c = Containers(docker, "wrestart")
  request.addfinalizer(c.remove)
  w = watch(docker, "--policy", policy)
  docker.restart()
  rec = w.wait_record(lambda r: r["event"] == "disconnected", "disconnected",
                      timeout=60)
  assert "reconnecting in" in rec["message"], rec
  w.wait_record(lambda r: r["event"] == "connected"
                and r["message"].startswith("reconnected"), "reconnected",
                timeout=60)
  cid = c.run("sysadmin", VIOLATORS["sysadmin"][0])
  rec = verdict(w, cid)
  assert "moat.caps.sys_admin" in violated(rec), rec


def audit_results(*args):
  r = subprocess.run([runtime_bin(), "audit", "--format", "json", *args],
                     capture_output=True, text=True, timeout=120)
  assert r.returncode == 0, r
  report = json.loads(r.stdout)
  return {res["id"]: (res["result"], sorted(res.get("items", [])))
          for t in report["tests"] for res in t["results"]}


def test_audit_docker_host_matches_saved_inspect(engine, containers, tmp_path):
  run_all(containers)
  running = engine("ps", "-q", "--no-trunc").stdout.split()
  assert set(containers.ids.values()) <= set(running)
  saved = tmp_path / "inspect.json"
  saved.write_text(engine("inspect", *running).stdout)
  live = audit_results("--docker-host", "unix://" + engine.sock)
  assert live == audit_results(str(saved))
  names = {containers.prefix + "-" + s for s in containers.ids}
  assert set(live["5.5"][1]) & names == {containers.prefix + "-priv"}, live["5.5"]
  assert set(live["5.6"][1]) & names == {containers.prefix + "-hostroot"}, live["5.6"]
  assert containers.prefix + "-good" not in live["5.11"][1], live["5.11"]
