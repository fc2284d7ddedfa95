#!/usr/bin/env python3
"""Make an OCI bundle from Debian's busybox-static: rootfs/ plus a hardened
config.json (user namespace, every other namespace, a minimal capability set,
no_new_privs, moat's default seccomp profile, read-only root, nosuid/nodev/
noexec tmpfs, Docker's masked and read-only paths, cgroup limits, rlimits).

usage: scripts/mkbundle.py DIR [--compat] [-- CMD ARGS...]
  --compat   no user namespace and runc's caps (a runc-like config)
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
APPLETS = ["sh", "ash", "cat", "echo", "id", "ls", "mkdir", "touch", "sleep", "true",
           "false", "hostname", "grep", "head", "tail", "ps", "mount", "env", "wc",
           "readlink", "stat", "tr", "sed", "awk", "ip", "ifconfig", "dd", "rm", "kill",
           "uname", "test", "["]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
          "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
          "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
        "CAP_SYS_CHROOT"]


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
    with open(os.path.join(HERE, "..", "data", "seccomp-default.json")) as f:
        seccomp = json.load(f)
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"] if compat else CAPS
    namespaces = [{"type": t} for t in ["pid", "network", "ipc", "uts", "mount", "cgroup"]]
    ro_tmpfs = ["nosuid", "nodev", "noexec"]
    c = {
        "ociVersion": "1.2.0",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {k: caps for k in ["bounding", "effective", "permitted"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
                        {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 4096}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "moat",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ro_tmpfs},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ro_tmpfs + ["mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ro_tmpfs},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ro_tmpfs + ["ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ro_tmpfs + ["relatime", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ro_tmpfs + ["mode=1777", "size=65536k"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
             "options": ro_tmpfs + ["mode=755", "size=65536k"]},
        ],
        "linux": {
            "namespaces": namespaces,
            "resources": {
                "devices": [{"allow": False, "access": "rwm"}],
                "memory": {"limit": 268435456},
                "pids": {"limit": 512},
                "cpu": {"shares": 512},
            },
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
            "seccomp": seccomp,
        },
    }
    if not compat:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
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
