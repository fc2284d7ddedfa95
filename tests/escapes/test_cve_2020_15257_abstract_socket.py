"""CVE-2020-15257: the runtime creates no abstract unix socket (they are
reachable by anything sharing the network namespace), neither in the host
netns nor in the container's."""

import os
import time

from moat_testlib import MOAT_BIN, make_config, new_id, procs_in_cgroup_named


def _abstract(netns_pid="self"):
    out = {}
    with open(f"/proc/{netns_pid}/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7].startswith("@"):
                out[parts[6]] = parts[7]  # inode -> name
    return out


def _owners(inodes):
    owners = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                t = os.readlink(f"/proc/{p}/fd/{fd}")
                if t.startswith("socket:[") and t[8:-1] in inodes:
                    owners.setdefault(t[8:-1], []).append(int(p))
        except OSError:
            pass
    return owners


def _runtime_or_container(pid, cid):
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    return (exe == os.path.realpath(MOAT_BIN) or exe.startswith("/memfd:")
            or pid in procs_in_cgroup_named(cid))


def test_no_abstract_sockets(moat, bundle):
    before = _abstract()
    bundle.write(make_config(args=["/bin/moat-probe", "sleep", "30"]))
    cid = new_id()
    samples = []
    moat.create(bundle, cid).ok()
    pid = moat.state(cid)["pid"]
    samples.append(("created", _abstract(), _abstract(pid)))
    moat("start", cid).ok()
    samples.append(("running", _abstract(), _abstract(pid)))
    p, _, _ = moat.spawn("exec", cid, "/bin/moat-probe", "sleep", "0.5")
    time.sleep(0.2)
    samples.append(("exec", _abstract(), _abstract(pid)))
    p.wait(timeout=10)
    for when, host, inside in samples:
        assert inside == {}, f"abstract sockets in the container netns ({when}): {inside}"
        new = {i: n for i, n in host.items() if i not in before}
        owners = _owners(set(new))
        bad = {new[i]: ps for i, ps in owners.items()
               if any(_runtime_or_container(x, cid) for x in ps)}
        assert not bad, f"abstract sockets owned by the runtime ({when}): {bad}"
