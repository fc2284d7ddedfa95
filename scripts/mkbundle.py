#!/usr/bin/env python3
"""Make an OCI bundle from Debian's busybox-static: rootfs/ plus the config.json
`moat spec` writes (the hardened default: user namespace, every other
namespace, podman's capability set, no_new_privs, moat's default seccomp
profile, Landlock, read-only root, nosuid/nodev/noexec tmpfs, Docker's masked
and read-only paths, cgroup limits, rlimits), with process.args set to CMD and
no terminal.  The config is defined once, in data/default-spec.json.

usage: scripts/mkbundle.py DIR [--compat] [-- CMD ARGS...]
  --compat   `moat spec --compat`: a runc-like config (no user namespace,
             runc's caps, no seccomp, no limits)
The moat binary is $MOAT_BIN, else build/moat of this checkout.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
APPLETS = ["sh", "ash", "cat", "echo", "id", "ls", "mkdir", "touch", "sleep", "true",
           "false", "hostname", "grep", "head", "tail", "ps", "mount", "env", "wc",
           "readlink", "stat", "tr", "sed", "awk", "ip", "ifconfig", "dd", "rm", "kill",
           "uname", "test", "["]


def make_rootfs(root):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        sys.exit("mkbundle: /bin/busybox missing: apt-get install busybox-static")
    for d in ["bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "home/user"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(root, "bin/busybox"))
    for a in APPLETS:
        p = os.path.join(root, "bin", a)
        if not os.path.lexists(p):
            os.symlink("busybox", p)
    with open(os.path.join(root, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
                "nobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(root, "etc/group"), "w") as f:
        f.write("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")
    with open(os.path.join(root, "etc/hostname"), "w") as f:
        f.write("moat\n")


def config(args, compat):
    moat = os.environ.get("MOAT_BIN") or os.path.join(HERE, "..", "build", "moat")
    if not os.access(moat, os.X_OK):
        sys.exit(f"mkbundle: moat binary {moat} missing: build it or set MOAT_BIN")
    with tempfile.TemporaryDirectory(prefix="mkbundle-") as tmp:
        r = subprocess.run([moat, "spec", "--bundle", tmp] + (["--compat"] if compat else []),
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"mkbundle: moat spec failed: {r.stderr.strip()}")
        with open(os.path.join(tmp, "config.json")) as f:
            c = json.load(f)
    c["process"]["args"] = args
    c["process"]["terminal"] = False
    return c


def main():
    argv = sys.argv[1:]
    args = ["/bin/sh"]
    if "--" in argv:
        i = argv.index("--")
        args = argv[i + 1:]
        argv = argv[:i]
    compat = "--compat" in argv
    argv = [a for a in argv if a != "--compat"]
    if len(argv) != 1:
        sys.exit(__doc__)
    bundle = argv[0]
    make_rootfs(os.path.join(bundle, "rootfs"))
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config(args, compat), f, indent=2)


if __name__ == "__main__":
    main()
