"""podman 4.3 (through conmon) driving the runtime under test.

podman calls the runtime as `runc` (the wrapper's basename), so every
conmon-made call carries `--log-format=json --log <file>`; see
/work/shared/reference/real-clients.md section 1 for the argv table these
assertions follow.
"""

import os
import shlex
import subprocess

from clientlib import BB, CLIENT_TIMEOUT, IMAGE

# PID 1 of a pid namespace only receives signals it has a handler for (the
# kernel drops the rest, SIGKILL/SIGSTOP excepted), so a container that must
# react to SIGTERM/SIGUSR1 installs traps.
TRAPPING = [BB, "sh", "-c",
            "trap 'exit 42' USR1; trap 'exit 43' TERM; "
            "while :; do " + BB + " sleep 0.2; done"]


def on_tty(podman, *args):
  """Run a podman command on a pseudo-terminal (util-linux `script`)."""
  if podman.stuck:
    raise AssertionError("podman: not run, an earlier call hung:\n"
                         + podman.stuck)
  cmd = shlex.join(podman.base + list(args))
  try:
    return subprocess.run(["script", "-qec", cmd, "/dev/null"],
                          capture_output=True, text=True, env=podman.env,
                          timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
  except subprocess.TimeoutExpired:
    podman.stuck = f"timed out on a tty: {cmd}"
    raise AssertionError(podman.stuck + "\n" + podman.log.dump(0)) from None


def detached(podman, *cmd, name_args=()):
  cid = podman("run", "-d", "--network", "none", *name_args, IMAGE,
               *(cmd or (BB, "sleep", "1000"))).stdout.strip()
  assert len(cid) == 64, f"podman run -d printed {cid!r}"
  return cid


def state(podman, cid):
  return podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                cid).stdout.split()


def wait_exit(podman, cid, timeout=30):
  mark = podman.log.mark()
  p = podman("wait", cid, timeout=timeout, since=mark)
  return int(p.stdout.strip().splitlines()[-1])


def test_run_echo(podman, work):
  cidfile = os.path.join(work, "run-echo.cid")
  mark = podman.log.mark()
  podman.expect_output(["run", "--rm", "--network", "none", "--cidfile",
                        cidfile, IMAGE, BB, "echo", "hi"], "hi")
  cid = open(cidfile).read().strip()
  log = podman.log
  create = log.wait_for(mark, "create", cid, has=("--bundle", "--pid-file"))
  # The name `runc` makes podman ask for the JSON log format.
  assert ("--log-format=json" in create.argv
          or "--log-format" in create.argv), create
  assert "--log" in create.argv, create
  log.wait_for(mark, "start", cid)
  # Podman's exit command (`podman container cleanup`) deletes the container.
  log.wait_for(mark, "delete", cid, has=("--force",))


def test_run_exit_status(podman):
  mark = podman.log.mark()
  p = podman("run", "--rm", "--network", "none", IMAGE, BB, "sh", "-c",
             "echo out; echo err >&2; exit 7", check=False, since=mark)
  assert p.returncode == 7, (p, podman.log.dump(mark))
  assert p.stdout.strip() == "out"
  assert "err" in p.stderr


def test_run_detached_stop_rm(podman):
  mark = podman.log.mark()
  cid = detached(podman)
  podman.log.wait_for(mark, "create", cid)
  podman.log.wait_for(mark, "start", cid)
  assert state(podman, cid)[0] == "running"
  podman("stop", "-t", "1", cid)
  # busybox sleep as PID 1 ignores SIGTERM: podman escalates to SIGKILL.
  podman.log.wait_for(mark, "kill", cid, has=("15",))
  podman.log.wait_for(mark, "kill", cid, has=("9",))
  assert state(podman, cid) == ["exited", "137"]
  podman("rm", cid)
  podman.log.wait_for(mark, "delete", cid, has=("--force",))
  assert cid not in podman("ps", "-aq", "--no-trunc").stdout


def test_stop_graceful(podman):
  mark = podman.log.mark()
  cid = detached(podman, *TRAPPING)
  podman("stop", "-t", "20", cid)
  podman.log.wait_for(mark, "kill", cid, has=("15",))
  assert state(podman, cid) == ["exited", "43"], podman.log.dump(mark)
  podman("rm", cid)


def test_exec(podman):
  mark = podman.log.mark()
  cid = detached(podman)
  podman.expect_output(["exec", cid, BB, "echo", "from-exec"], "from-exec")
  call = podman.log.wait_for(mark, "exec", cid,
                             has=("--process", "--detach", "--pid-file"))
  assert "--tty" not in call.args, call
  # The exec'd process sees the container's root and pid namespace.
  out = podman("exec", cid, BB, "sh", "-c",
               "tr '\\0' ' ' < /proc/1/cmdline").stdout.strip()
  assert out == BB + " sleep 1000", out
  # The exec'd process's exit status reaches the client.
  p = podman("exec", cid, BB, "sh", "-c", "exit 3", check=False)
  assert p.returncode == 3, (p, podman.log.dump(mark))
  podman("rm", "-f", "-t", "0", cid)


def test_exec_tty(podman):
  mark = podman.log.mark()
  cid = detached(podman)
  p = on_tty(podman, "exec", "-t", cid, BB, "tty")
  assert p.returncode == 0, (p, podman.log.dump(mark))
  assert "/dev/pts/" in p.stdout, (p.stdout, podman.log.dump(mark))
  podman.log.wait_for(mark, "exec", cid, has=("--tty", "--console-socket"))
  podman("rm", "-f", "-t", "0", cid)


def test_run_tty(podman):
  mark = podman.log.mark()
  p = on_tty(podman, "run", "--rm", "-t", "--network", "none", IMAGE, BB,
             "tty")
  assert p.returncode == 0, (p, podman.log.dump(mark))
  assert "/dev/pts/0" in p.stdout, (p.stdout, podman.log.dump(mark))
  podman.log.wait_for(mark, "create", None, has=("--console-socket",))


def test_kill(podman):
  mark = podman.log.mark()
  cid = detached(podman, *TRAPPING)
  podman("kill", "-s", "USR1", cid)
  # podman passes the signal as a number after the id.
  podman.log.wait_for(mark, "kill", cid, has=("10",))
  assert wait_exit(podman, cid) == 42, podman.log.dump(mark)
  cid2 = detached(podman)
  podman("kill", cid2)
  podman.log.wait_for(mark, "kill", cid2, has=("9",))
  assert wait_exit(podman, cid2) == 137, podman.log.dump(mark)
  podman("rm", cid, cid2)


def test_pause_unpause(podman):
  mark = podman.log.mark()
  cid = detached(podman)
  podman("pause", cid)
  podman.log.wait_for(mark, "pause", cid)
  assert state(podman, cid)[0] == "paused"
  podman("unpause", cid)
  podman.log.wait_for(mark, "resume", cid)
  assert state(podman, cid)[0] == "running"
  podman.expect_output(["exec", cid, BB, "echo", "awake"], "awake")
  podman("rm", "-f", "-t", "0", cid)


def test_rm_force_paused(podman):
  mark = podman.log.mark()
  cid = detached(podman)
  podman("pause", cid)
  podman("rm", "-f", "-t", "0", cid)
  podman.log.wait_for(mark, "delete", cid, has=("--force",))
  assert cid not in podman("ps", "-aq", "--no-trunc").stdout
