"""Crashes and races: a runtime killed half-way through must leave state that
`delete --force` removes completely; concurrent creates of one id have exactly
one winner."""

import os
import random
import signal
import threading
import time

import pytest

from moat_testlib import assert_nothing_left, new_id, wait_for


def _timed_create(moat, bundle):
    cid = new_id("probe")
    t0 = time.monotonic()
    moat.create(bundle, cid).ok()
    dt = time.monotonic() - t0
    moat("delete", "--force", cid).ok()
    return dt


@pytest.mark.parametrize("cmd", ["create", "run-detach"])
def test_sigkill_during_create(moat, make_bundle, cmd):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"], userns=True)
    # Spread the kill points over the whole duration of a normal create.
    span = max(_timed_create(moat, b), 0.02)
    rng = random.Random(0x6d6f6174)
    for i in range(10):
        cid = new_id(f"k{i}")
        args = ["create", "--bundle", b.path, cid] if cmd == "create" else \
            ["run", "--detach", "--bundle", b.path, cid]
        p, _, _ = moat.spawn(*args)
        time.sleep(rng.uniform(0, span * 1.2))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        r = moat("delete", "--force", cid)
        assert r.rc == 0, f"delete --force after a killed {cmd} (iteration {i}): {r}"
        assert_nothing_left(moat, cid)
        r = moat("state", cid)
        assert r.rc != 0, f"state still reports {cid} after delete --force: {r}"


def test_concurrent_create_same_id(moat, make_bundle):
    b1 = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    b2 = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    for _ in range(3):
        cid = new_id("race")
        barrier = threading.Barrier(2)
        results = {}

        def go(name, bundle):
            barrier.wait()
            results[name] = moat.create(bundle, cid)

        ts = [threading.Thread(target=go, args=(n, bb)) for n, bb in (("a", b1), ("b", b2))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        rcs = sorted(r.rc for r in results.values())
        assert rcs[0] == 0 and rcs[1] != 0, f"exactly one create must win: {results}"
        winner = b1 if results["a"].rc == 0 else b2
        loser = results["b"] if results["a"].rc == 0 else results["a"]
        assert len(loser.err_lines) == 1, loser
        st = moat.state(cid)
        assert st["status"] == "created"
        assert os.path.realpath(st["bundle"]) == os.path.realpath(winner.path)
        # Exactly one init exists for the id.
        r = moat("ps", "--format", "json", cid)
        assert r.rc == 0 and r.json == [st["pid"]], r
        moat("delete", "--force", cid).ok()
        assert_nothing_left(moat, cid)


def test_parallel_creates_distinct_ids(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    ids = [new_id("par") for _ in range(4)]
    results = {}

    def go(cid):
        results[cid] = moat.create(b, cid)

    ts = [threading.Thread(target=go, args=(c,)) for c in ids]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    for cid in ids:
        assert results[cid].rc == 0, results[cid]
    r = moat("list", "-q")
    assert sorted(r.out.split()) == sorted(ids), r
    pids = {moat.state(c)["pid"] for c in ids}
    assert len(pids) == 4


def test_delete_force_paused(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    pid = moat.start_probe(b, cid)
    moat("pause", cid).ok()
    moat("delete", "--force", cid).ok()
    assert_nothing_left(moat, cid)
    assert not os.path.exists(f"/proc/{pid}/exe") or \
        open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"


def test_delete_force_with_exec_processes(moat, make_bundle):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.start_probe(b, cid)
    for _ in range(2):
        moat("exec", "--detach", cid, "/bin/moat-probe", "sleep", "30").ok()
    r = moat("ps", "--format", "json", cid)
    assert len(r.json) == 3, r
    moat("delete", "--force", cid).ok()
    assert_nothing_left(moat, cid)


def test_init_exits_while_created_then_delete(moat, make_bundle):
    """The waiting init dies before start: start fails cleanly, delete works."""
    b = make_bundle(args=["/bin/moat-probe", "sleep", "30"])
    cid = new_id()
    moat.create(b, cid).ok()
    pid = moat.state(cid)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: moat.status(cid) == "stopped", timeout=10, what="stopped")
    r = moat("start", cid)
    assert r.rc != 0, r
    moat("delete", cid).ok()
    assert_nothing_left(moat, cid)
