"""dockerd 20.10 (through the private containerd) driving the runtime under
test, registered as runtime `moat` in daemon.json (real-clients.md section 5).
"""


from clientlib import BB, IMAGE

RUN = ["run", "--runtime", "moat", "--network", "none"]


def test_run_rm(docker):
  mark = docker.log.mark()
  p = docker(*RUN, "--rm", IMAGE, BB, "echo", "hi", since=mark)
  assert p.stdout.strip() == "hi", (p, docker.log.dump(mark))
  create = docker.log.wait_for(mark, "create", None,
                               has=("--bundle", "--pid-file"))
  cid = create.args[-1]
  assert create.argv[create.argv.index("--log-format") + 1] == "json", create
  docker.log.wait_for(mark, "start", cid)
  docker.log.wait_for(mark, "delete", cid)


def test_run_exit_status(docker):
  mark = docker.log.mark()
  p = docker(*RUN, "--rm", IMAGE, BB, "sh", "-c", "exit 6", check=False,
             since=mark)
  assert p.returncode == 6, (p, docker.log.dump(mark))


def test_detached_exec_stop_rm(docker):
  mark = docker.log.mark()
  cid = docker(*RUN, "-d", IMAGE, BB, "sh", "-c",
               "trap 'exit 43' TERM; while :; do " + BB + " sleep 0.2; done"
               ).stdout.strip()
  assert len(cid) == 64, cid
  docker.log.wait_for(mark, "start", cid)
  p = docker("exec", cid, BB, "echo", "from-exec", since=mark)
  assert p.stdout.strip() == "from-exec", (p, docker.log.dump(mark))
  docker.log.wait_for(mark, "exec", cid,
                      has=("--process", "--detach", "--pid-file"))
  p = docker("exec", cid, BB, "sh", "-c", "exit 4", check=False)
  assert p.returncode == 4, (p, docker.log.dump(mark))
  docker("stop", "-t", "20", cid)
  docker.log.wait_for(mark, "kill", cid, has=("15",))
  st = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
              cid).stdout.split()
  assert st == ["exited", "43"], (st, docker.log.dump(mark))
  docker("rm", cid)
  docker.log.wait_for(mark, "delete", cid)
  assert cid not in docker("ps", "-aq", "--no-trunc").stdout
