"""Admission policy and audit, black-box (docs/policy.md).

A denied `create` exits 3, names every violated rule on its own line and
leaves nothing behind (the `moat` fixture's teardown checks the state dir,
cgroups, mounts and processes); the configs real engines generate and the
default bundle are admitted; `policy check` and `audit` print parseable
reports with the expected ids.
"""

import json
import os
import subprocess
import sys

import pytest

from moat_testlib import MOAT_BIN, REPO, IS_RUNC, DEFAULT_CAPS, make_config, new_id

FIXTURES = os.path.join(REPO, "tests", "fixtures", "policy")
DEFAULT_POLICY = "/etc/moat/policy.yaml"

pytestmark = pytest.mark.skipif(IS_RUNC, reason="moat's policy engine")


@pytest.fixture(autouse=True)
def baseline_env(monkeypatch):
    """Every test starts from the built-in baseline unless it sets a policy."""
    monkeypatch.delenv("MOAT_POLICY", raising=False)
    if os.path.exists(DEFAULT_POLICY):
        pytest.skip(f"{DEFAULT_POLICY} exists on this host: the baseline is not in effect")


def fx(name):
    return os.path.join(FIXTURES, name)


def moat_plain(*args, env=None, timeout=30):
    return subprocess.run([MOAT_BIN, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_denied_create_exits_3_and_leaves_nothing(moat, make_bundle):
    b = make_bundle(caps=DEFAULT_CAPS + ["CAP_SYS_ADMIN", "CAP_SYS_MODULE"])
    cid = new_id("deny")
    r = moat.create(b, cid)
    assert r.rc == 3, r
    lines = r.err_lines
    assert lines[0] == f"moat: create: policy denied container `{cid}`: 2 rule(s) violated", r
    assert len(lines) == 3, r
    assert lines[1].startswith("  moat.caps.sys_admin: CAP_SYS_ADMIN granted"), r
    assert "(fix: drop CAP_SYS_ADMIN" in lines[1], r
    assert lines[2].startswith("  moat.caps.sys_module: "), r
    assert not os.path.exists(os.path.join(moat.root, cid)), "state dir made before admission"
    # run goes through the same admission
    r = moat.run(b, new_id("deny"))
    assert r.rc == 3 and "moat.caps.sys_admin" in r.err, r


def test_engine_socket_and_host_etc_denied(moat, make_bundle):
    mounts = [{"destination": "/run/docker.sock", "type": "bind",
               "source": "/run/docker.sock", "options": ["rbind", "ro"]},
              {"destination": "/host-etc", "type": "bind", "source": "/etc",
               "options": ["rbind", "rw"]}]
    b = make_bundle(mounts=mounts)
    # the bind sources must exist for the spec to be plausible; admission runs before any mount
    r = moat.create(b, new_id("sock"))
    assert r.rc == 3, r
    assert "moat.mounts.engine_socket" in r.err and "moat.mounts.sensitive_rw" in r.err, r


def test_default_configs_admitted(moat, bundle):
    """The hardened test bundle and the engines' own defaults pass."""
    cid = new_id("ok")
    moat.create(bundle, cid).ok()
    moat("delete", "--force", cid).ok()
    for f in ("runc-spec.config.json", "podman-def.config.json", "docker-def.config.json",
              "containerd-def.config.json"):
        r = moat_plain("policy", "check", fx(f))
        assert r.returncode == 0, (f, r.stdout, r.stderr)
        assert "verdict: allowed" in r.stdout


@pytest.mark.parametrize("compat", [False, True])
def test_mkbundle_default_admitted(test_dir, compat):
    d = os.path.join(test_dir, "mk")
    env = dict(os.environ, MOAT_BIN=MOAT_BIN)
    argv = [sys.executable, os.path.join(REPO, "scripts", "mkbundle.py"), d]
    if compat:
        argv.append("--compat")
    r = subprocess.run(argv + ["--", "/bin/true"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    r = moat_plain("policy", "check", os.path.join(d, "config.json"))
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_policy_file_and_fail_closed(moat, make_bundle, test_dir, monkeypatch):
    pol = os.path.join(test_dir, "policy.yaml")
    with open(pol, "w") as f:
        f.write("version: 1\nrules:\n  moat.rootfs.readonly: deny\n")
    b = make_bundle(readonly=False)
    # --policy (global option) turns a warning into a denial
    r = moat.create(b, new_id("pol"), global_opts=("--policy", pol))
    assert r.rc == 3 and "moat.rootfs.readonly: root.readonly is false" in r.err, r
    # an invalid policy refuses everything, naming line and column
    with open(pol, "w") as f:
        f.write("version: 1\nrules:\n  moat.rootfs.readonly: sometimes\n")
    monkeypatch.setenv("MOAT_POLICY", pol)
    r = moat.create(make_bundle(), new_id("bad"))
    assert r.rc == 3, r
    assert "policy.yaml:3:25: moat.rootfs.readonly: `sometimes` is not deny, warn or off" in r.err, r
    # so does a missing one named explicitly
    monkeypatch.setenv("MOAT_POLICY", os.path.join(test_dir, "absent.yaml"))
    r = moat.create(make_bundle(), new_id("gone"))
    assert r.rc == 3 and "absent.yaml" in r.err, r


def test_policy_check_prints_every_rule(test_dir):
    cfg = make_config(caps=DEFAULT_CAPS + ["CAP_NET_ADMIN"], readonly=False)
    p = os.path.join(test_dir, "config.json")
    with open(p, "w") as f:
        json.dump(cfg, f)
    r = moat_plain("policy", "check", p)
    assert r.returncode == 3, r.stdout
    assert "verdict: denied (1 rule(s) violated" in r.stdout
    assert "deny FAIL moat.caps.net_admin" in " ".join(r.stdout.split())
    assert "warn FAIL moat.rootfs.readonly" in " ".join(r.stdout.split())
    for rid in ("moat.privileged", "moat.seccomp", "moat.mounts.engine_socket", "moat.lsm"):
        assert rid in r.stdout
    r = moat_plain("policy", "check", fx("docker-priv.inspect.json"))
    assert r.returncode == 3 and "moat.privileged" in r.stdout


def test_audit_json_layout():
    files = [fx(f) for f in ("docker-array.inspect.json", "podman-hostns.inspect.json",
                             "runc-spec.config.json")]
    r = moat_plain("audit", "--format", "json", *files)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["dockerbenchsecurity"] == "1.6.0"
    assert isinstance(d["start"], int) and isinstance(d["end"], int)
    assert isinstance(d["checks"], int) and isinstance(d["score"], int)
    res = {x["id"]: x for t in d["tests"] for x in t["results"]}
    for n in range(1, 33):
        assert f"5.{n}" in res, n
    assert "4.1" in res and "4.6" in res
    assert res["5.5"]["result"] == "WARN" and res["5.5"]["items"] == ["priv"]
    assert res["5.5"]["desc"] == "Ensure that privileged containers are not used (Automated)"
    assert "remediation" in res["5.5"]
    assert res["5.10"]["result"] == "WARN" and res["5.10"]["items"] == ["hostns"]
    assert res["5.1"]["result"] == "NOTE"
    assert res["5.7"]["result"] == "NOTE"
    assert res["5.32"]["result"] == "WARN" and "hostns" in res["5.32"]["items"]
    for x in res.values():
        assert x["result"] in ("PASS", "WARN", "INFO", "NOTE")


def test_audit_large_array_and_stdin_agree(tmp_path):
    """An inspect array over 1 MiB is mapped rather than read, and parsed one
    container at a time: the report matches the same text read from stdin,
    and every container of the array is in it."""
    docs = []
    for f in ("docker-array.inspect.json", "docker-hostns.inspect.json", "podman-priv.inspect.json"):
        d = json.load(open(fx(f)))
        docs += d if isinstance(d, list) else [d]
    arr = []
    for i in range(400):
        d = json.loads(json.dumps(docs[i % len(docs)]))
        d["Name"] = f"/c{i}"
        arr.append(d)
    big = tmp_path / "big.inspect.json"
    big.write_text(json.dumps(arr, indent=1))
    assert big.stat().st_size > (1 << 20)

    def report(r):
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        del d["start"], d["end"]
        return d

    mapped = report(moat_plain("audit", "--format", "json", str(big)))
    with open(big) as f:
        piped = report(subprocess.run([MOAT_BIN, "audit", "--format", "json", "-"], stdin=f,
                                      capture_output=True, text=True, timeout=60))
    assert mapped == piped
    res = {x["id"]: x for t in mapped["tests"] for x in t["results"]}
    # the containers named in the results are those of the array
    named = set()
    for x in res.values():
        named |= set(x.get("items", []))
    assert named <= {f"c{i}" for i in range(400)}
    assert len(named) > 300
    # a broken element after 399 good ones: an error, and no report at all
    big.write_text(json.dumps(arr)[:-1] + ", {]")
    r = moat_plain("audit", "--format", "json", str(big))
    assert r.returncode == 1 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r


def test_audit_sarif():
    f = fx("docker-hostns.inspect.json")
    r = moat_plain("audit", "--format", "sarif", f)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["version"] == "2.1.0"
    run = d["runs"][0]
    ids = [x["id"] for x in run["tool"]["driver"]["rules"]]
    assert "moat.privileged" in ids and "moat.mounts.engine_socket" in ids
    got = {x["ruleId"] for x in run["results"]}
    assert {"moat.ns.host_pid", "moat.mounts.engine_socket", "moat.seccomp", "moat.caps.sys_admin"} <= got
    for x in run["results"]:
        assert x["level"] in ("error", "warning", "note")
        assert x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f
        assert ids[x["ruleIndex"]] == x["ruleId"]


def test_audit_table_and_fail_on():
    f = fx("docker-priv.inspect.json")
    r = moat_plain("audit", f)
    assert r.returncode == 0
    assert "[WARN] 5.5 - Ensure that privileged containers are not used (Automated)" in r.stdout
    assert "\033[" not in r.stdout  # not a terminal: no colour
    assert moat_plain("audit", "--fail-on", "warn", f).returncode == 3
    assert moat_plain("audit", "--fail-on", "none", f).returncode == 0
    r = moat_plain("audit", "--format", "xml", f)
    assert r.returncode == 2 and "--format" in r.stderr
    r = moat_plain("audit", fx("..") + "/nope.json")
    assert r.returncode == 1 and "nope.json" in r.stderr


def test_audit_container(moat, bundle):
    cid = new_id("aud")
    moat.create(bundle, cid).ok()
    r = moat("audit", "--format", "json", "--container", cid)
    assert r.rc == 0, r
    res = {x["id"]: x for t in r.json["tests"] for x in t["results"]}
    assert res["5.13"]["result"] == "PASS"  # the test bundle's root is read-only
    moat("delete", "--force", cid).ok()
