"""SCMP_ACT_NOTIFY: the listener fd reaches the agent at linux.seccomp.
listenerPath with the runtime-spec container process state, sent from the
host (never from inside the container), for the init and for exec."""

import array
import json
import os
import socket
import threading

from moat_testlib import new_id


class Agent:
    """A seccomp agent that records what it receives and closes the fd, so a
    notified syscall then fails with ENOSYS."""

    def __init__(self, path):
        self.path = path
        self.got = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(20)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            while True:
                c, _ = self.sock.accept()
                fds = array.array("i")
                msg, anc, _, _ = c.recvmsg(1 << 16, socket.CMSG_LEN(4 * fds.itemsize))
                for level, typ, data in anc:
                    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                # The fd must be a real seccomp listener, not just any fd.
                kinds = [os.readlink(f"/proc/self/fd/{fd}") for fd in fds]
                self.got.append((json.loads(msg), kinds))
                for fd in fds:
                    os.close(fd)
                c.close()
        except OSError:
            pass


def notify_config(bundle, agent_path, args):
    c = bundle.config
    c["process"]["args"] = args
    c["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent_path,
        "listenerMetadata": "moat-test",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }
    bundle.write(c)


def test_notify_fd_reaches_agent_from_init(moat, make_bundle, test_dir):
    agent = Agent(os.path.join(test_dir, "agent.sock"))
    b = make_bundle(mounts=[{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                             "options": ["nosuid", "nodev"]}])
    notify_config(b, agent.path, ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /scratch/x 2>&1; echo rc=$?"])
    cid = new_id()
    r = moat.run(b, cid)
    assert r.rc == 0, r
    assert len(agent.got) == 1, agent.got
    state, kinds = agent.got[0]
    assert state["fds"] == ["seccompFd"]
    assert state["metadata"] == "moat-test"
    assert state["state"]["id"] == cid
    assert state["pid"] > 0
    assert kinds == ["anon_inode:seccomp notify"]
    # The agent closed the listener without answering: the kernel fails the
    # notified syscall with ENOSYS, from inside the container.
    assert "Function not implemented" in r.out and "rc=1" in r.out, r.out


def test_notify_fd_reaches_agent_from_exec(moat, make_bundle, test_dir):
    agent = Agent(os.path.join(test_dir, "agent.sock"))
    b = make_bundle(mounts=[{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                             "options": ["nosuid", "nodev"]}])
    notify_config(b, agent.path, ["/bin/busybox", "sleep", "30"])
    cid = new_id()
    moat.start_probe(b, cid)
    r = moat("exec", cid, "/bin/busybox", "sh", "-c", "/bin/busybox mkdir /scratch/y 2>&1; echo rc=$?")
    assert r.rc == 0, r
    assert "Function not implemented" in r.out and "rc=1" in r.out, r.out
    # One listener for the init, one for the exec'd process.
    assert len(agent.got) == 2, agent.got
    assert all(k == ["anon_inode:seccomp notify"] for _, k in agent.got)
