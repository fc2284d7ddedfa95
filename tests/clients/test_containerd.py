"""containerd 1.6 (ctr, io.containerd.runc.v2 shim) driving the runtime under test.

Every shim call carries `--root <runc-root>/<ns> --log <state>/log.json
--log-format json` (real-clients.md section 3).
"""

import time

from clientlib import BB, IMAGE



def ctr_run(ctr, *args, **kw):
  return ctr("run", "--runc-binary", ctr.wrapper, "--runc-root", ctr.runc_root,
             *args, **kw)


def task_status(ctr, cid):
  for line in ctr("task", "ls").stdout.splitlines()[1:]:
    f = line.split()
    if f and f[0] == cid:
      return f[-1]
  return None


def test_run_rm(ctr):
  mark = ctr.log.mark()
  p = ctr_run(ctr, "--rm", IMAGE, "t-echo", BB, "echo", "hi", since=mark)
  assert p.stdout.strip() == "hi", (p, ctr.log.dump(mark))
  create = ctr.log.wait_for(mark, "create", "t-echo",
                            has=("--bundle", "--pid-file"))
  for flag in ("--root", "--log", "--log-format"):
    assert flag in create.argv, create
  assert create.argv[create.argv.index("--log-format") + 1] == "json", create
  assert create.argv[create.argv.index("--root") + 1].startswith(ctr.runc_root)
  ctr.log.wait_for(mark, "start", "t-echo")
  ctr.log.wait_for(mark, "delete", "t-echo")
  assert "t-echo" not in ctr("container", "ls", "-q").stdout.split()


def test_run_exit_status(ctr):
  mark = ctr.log.mark()
  p = ctr_run(ctr, "--rm", IMAGE, "t-exit", BB, "sh", "-c", "exit 5",
              check=False, since=mark)
  assert p.returncode == 5, (p, ctr.log.dump(mark))


def test_run_detached_kill_delete(ctr):
  mark = ctr.log.mark()
  # PID 1 needs a handler for SIGTERM to be delivered from outside its
  # pid namespace.
  ctr_run(ctr, "-d", IMAGE, "t-det", BB, "sh", "-c",
          "trap 'exit 43' TERM; while :; do " + BB + " sleep 0.2; done")
  ctr.log.wait_for(mark, "start", "t-det")
  assert task_status(ctr, "t-det") == "RUNNING"
  ctr("task", "kill", "t-det")
  ctr.log.wait_for(mark, "kill", "t-det", has=("15",))
  deadline = time.monotonic() + 20
  while task_status(ctr, "t-det") != "STOPPED":
    assert time.monotonic() < deadline, (
        "task did not stop after SIGTERM\n" + ctr.log.dump(mark))
    time.sleep(0.1)
  ctr("task", "delete", "t-det")
  ctr.log.wait_for(mark, "delete", "t-det")
  ctr("container", "delete", "t-det")
  assert task_status(ctr, "t-det") is None


def test_exec(ctr):
  mark = ctr.log.mark()
  ctr_run(ctr, "-d", IMAGE, "t-exec", BB, "sleep", "1000")
  p = ctr("task", "exec", "--exec-id", "e1", "t-exec", BB, "echo", "from-exec",
          since=mark)
  assert p.stdout.strip() == "from-exec", (p, ctr.log.dump(mark))
  ctr.log.wait_for(mark, "exec", "t-exec",
                   has=("--process", "--detach", "--pid-file"))
  ctr("task", "kill", "-s", "SIGKILL", "t-exec")
  ctr.log.wait_for(mark, "kill", "t-exec", has=("9",))
  deadline = time.monotonic() + 20
  while task_status(ctr, "t-exec") != "STOPPED":
    assert time.monotonic() < deadline, ctr.log.dump(mark)
    time.sleep(0.1)
  ctr("task", "delete", "t-exec")
  ctr("container", "delete", "t-exec")
