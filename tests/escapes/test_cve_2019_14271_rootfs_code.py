"""CVE-2019-14271 (docker cp: `docker-tar` chrooted into the container and
its getpwnam loaded the container's libnss_*.so) and CVE-2026-41567 (moby:
the daemon ran `xz`/`unpigz` found on the container's PATH), with
CVE-2014-9357 (xz of an image ran as root).

Property (security-anchors.md section 4): the runtime never execs or
dlopens anything from a container rootfs in host context.  The rootfs here
plants bait: /etc/nsswitch.conf naming a `bait` module for every database,
libnss_bait.so.2 / libnss_files.so.2 / libnss_compat.so.2 built with gcc
in every directory glibc searches, /etc/ld.so.preload naming one, and
`xz unpigz pigz gzip zstd tar bzip2 lz4` scripts in every PATH directory.
Every bait leaves a marker in a host directory given by absolute path (that
directory is also bind-mounted at the same path into the container, so a
load after pivot_root is seen too) and, failing that, in the rootfs.

Exercised: `moat run ROOTFS --user NAME[:GROUP] --read-only=false` (the
passwd/group lookup, and the idmap chown fallback of a writable root),
`moat image load` + `moat run IMAGE` with a gzip and a zstd layer and a
User given by name, an OCI bundle with `org.moat.rootfs.idmap: chown`, and
`moat exec --user` (numeric; a name is refused, OCI configs carry numbers).
No marker may appear.  A positive control shows that each kind of bait does
fire when a host process does what the CVEs did.  With strace, a second
check: no moat process execve()s anything but moat's own binaries and the
container's entrypoint, and none opens a shared object or nsswitch.conf
after its dynamic loader finished."""

import os
import re
import shutil
import subprocess

import pytest

from moat_imagelib import Img, front_end, oci_layout, probe_image_layer, tar_layer
from moat_testlib import new_id, probe_json

LIB_DIRS = ["lib", "lib64", "usr/lib", "usr/lib64", "lib/x86_64-linux-gnu",
            "usr/lib/x86_64-linux-gnu", "usr/local/lib"]
PATH_DIRS = ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"]
TOOLS = ["xz", "unxz", "unpigz", "pigz", "gzip", "gunzip", "zstd", "unzstd", "tar",
         "bzip2", "lz4", "getent", "id"]
NSS_MODULES = ["libnss_bait.so.2", "libnss_files.so.2", "libnss_compat.so.2",
               "libnss_dns.so.2", "libnss_systemd.so.2"]
NSSWITCH = "".join(f"{db}: bait files\n" for db in (
    "passwd", "group", "shadow", "gshadow", "hosts", "initgroups", "services", "networks"))

BAIT_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
__attribute__((constructor)) static void bait(void)
{
  char line[512], exe[256] = "";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = 0;
  snprintf(line, sizeof line, "dlopen %s pid %d exe %s\n", NAME, (int) getpid(), exe);
  int fd = open(MARKER "/so-" NAME, O_WRONLY | O_CREAT | O_APPEND, 0666);
  if (fd < 0) fd = open("/.bait-so-" NAME, O_WRONLY | O_CREAT | O_APPEND, 0666);
  if (fd >= 0) { write(fd, line, strlen(line)); close(fd); }
  write(2, "MOAT-BAIT ", 10); write(2, line, strlen(line));
}
"""


def build_bait_so(out_dir, marker_dir, name):
    src = os.path.join(out_dir, "bait.c")
    with open(src, "w") as f:
        f.write(BAIT_C)
    so = os.path.join(out_dir, name)
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler for the bait shared objects (apt-get install gcc)")
    r = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", so, src, f'-DNAME="{name}"',
                        f'-DMARKER="{marker_dir}"'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return so


def bait_script(marker_dir, tool):
    return (f"#!/bin/sh\necho \"exec {tool} $0 $* pid $$\" >> {marker_dir}/exec-{tool} "
            f"|| echo \"exec {tool}\" >> /.bait-exec-{tool}\necho MOAT-BAIT {tool} >&2\n"
            "exit 1\n").encode()


def bait_entries(test_dir, marker_dir):
    """tar_layer entries planting every bait, plus the marker dir's path
    (a mount point for it)."""
    build = os.path.join(test_dir, "bait-build")
    os.makedirs(build, exist_ok=True)
    sos = {n: open(build_bait_so(build, marker_dir, n), "rb").read() for n in NSS_MODULES}
    ents = [("etc/nsswitch.conf", "f", NSSWITCH.encode()),
            ("etc/ld.so.preload", "f", b"/lib/libnss_bait.so.2\n"),
            ("etc/host.conf", "f", b"multi on\n")]
    for d in sorted(set(LIB_DIRS + PATH_DIRS)):
        ents.append((d + "/", "d", b"", 0o755))
    for d in LIB_DIRS:
        ents += [(f"{d}/{n}", "f", data, 0o755) for n, data in sos.items()]
    for d in PATH_DIRS:
        ents += [(f"{d}/{t}", "f", bait_script(marker_dir, t), 0o755) for t in TOOLS
                 if not (d == "bin" and t == "id")]  # /bin/id is busybox's
    parts = marker_dir.strip("/").split("/")
    ents += [("/".join(parts[:i]) + "/", "d", b"", 0o755) for i in range(1, len(parts) + 1)]
    return ents


def plant(rootfs, entries):
    """Write tar_layer-style entries into an existing rootfs dir."""
    for e in entries:
        p = os.path.join(rootfs, e[0].rstrip("/"))
        if e[1] == "d":
            os.makedirs(p, exist_ok=True)
            continue
        if os.path.lexists(p):
            os.unlink(p)
        with open(p, "wb") as f:
            f.write(e[2])
        os.chmod(p, e[3] if len(e) > 3 else 0o644)


@pytest.fixture
def bait(test_dir):
    markers = os.path.join(test_dir, "markers")
    os.makedirs(markers)
    os.chmod(markers, 0o777)
    return markers, bait_entries(test_dir, markers)


def fired(markers, *roots):
    """Markers in the host dir, and in each rootfs: at its top (a bait that
    could not reach the host dir) or in its copy of the host dir's path (a
    chrooted host process)."""
    found = {n: open(os.path.join(markers, n)).read() for n in os.listdir(markers)}
    for r in roots:
        inner = os.path.join(r, markers.lstrip("/"))
        for d, pick in ((r, lambda n: n.startswith(".bait-")), (inner, lambda n: True)):
            if os.path.isdir(d) and not os.path.islink(d):
                for n in filter(pick, os.listdir(d)):
                    found[os.path.join(d, n)] = open(os.path.join(d, n)).read()
    return found


def assert_quiet(markers, *results_and_roots):
    roots = [x for x in results_and_roots if isinstance(x, str)]
    found = fired(markers, *roots)
    assert not found, f"code from the container rootfs ran in host context: {found}"
    for r in results_and_roots:
        if not isinstance(r, str):
            assert "MOAT-BAIT" not in r.out + r.err, r


def test_bait_fires_when_host_code_does_what_the_cves_did(test_dir, rootfs_template, bait):
    """Positive control: a fresh host process that chroots into the rootfs and
    calls getpwnam (docker-tar's CVE-2019-14271) loads the bait module, and
    running a tool from the rootfs's PATH (CVE-2026-41567) leaves a marker."""
    markers, ents = bait
    root = os.path.join(test_dir, "control-rootfs")
    shutil.copytree(rootfs_template, root, symlinks=True)
    plant(root, ents)
    code = f"import os, pwd; os.chroot({root!r}); os.chdir('/'); pwd.getpwnam('user')"
    subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", code], capture_output=True, timeout=30)
    path = os.pathsep.join(os.path.join(root, d) for d in PATH_DIRS)
    subprocess.run(["xz", "-d"], env={"PATH": path}, capture_output=True, timeout=30)
    found = fired(markers, root)
    assert any("so-libnss_bait" in k for k in found), found
    assert "exec-xz" in found, found


def test_run_rootfs_user_by_name_and_chown(moat, test_dir, rootfs_template, bait):
    """`moat run ROOTFS --user NAME:GROUP --read-only=false`: the name lookup
    and the chown of a writable root into the user namespace."""
    markers, ents = bait
    root = os.path.join(test_dir, "rootfs")
    shutil.copytree(rootfs_template, root, symlinks=True)
    plant(root, ents)
    results = []
    for user in ("user", "user:user", "root:nogroup"):
        r = front_end(moat, "--rm", "--read-only=false", "-u", user, "-v", f"{markers}:{markers}",
                      root, "/bin/moat-probe", "status")
        assert r.rc == 0, r
        st = probe_json(r.out)
        assert st["uid"] == (1000 if user.startswith("user") else 0), st
        results.append(r)
    # The chown fallback did run (the rootfs is now owned by the mapped range).
    assert os.lstat(os.path.join(root, "etc", "nsswitch.conf")).st_uid >= 100000
    assert_quiet(markers, root, *results)


def test_image_gzip_zstd_layers_user_by_name(moat, test_dir, rootfs_template, bait):
    """`moat image load` and `moat run IMAGE`: a gzip layer planting the bait,
    then a zstd layer unpacked on top of it; the image's User is a name."""
    if shutil.which("zstd") is None:
        pytest.fail("zstd not installed, needed to build the zstd layer (apt-get install zstd)")
    markers, ents = bait
    store = os.path.join(test_dir, "store")
    img = Img(store)
    lay = os.path.join(test_dir, "layout")
    layers = [probe_image_layer(rootfs_template, ents),
              tar_layer([("usr/bin/zstd-was-here", "f", b"2"), ("srv/", "d")])]
    oci_layout(lay, layers, name="bait/img:1", compress=["gzip", "zstd"],
               config_extra={"config": {"Entrypoint": ["/bin/moat-probe"], "Cmd": ["status"],
                                        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
                                        "User": "user"}})
    img.ok("load", lay)
    results = []
    for extra in ((), ("-u", "user:user")):
        r = front_end(moat, "--rm", "--root-images", store, "-v", f"{markers}:{markers}", *extra,
                      "bait/img:1")
        assert r.rc == 0, r
        assert probe_json(r.out)["uid"] == 1000
        results.append(r)
    rootfs = os.path.join(store, "rootfs")
    roots = [os.path.join(rootfs, n) for n in os.listdir(rootfs) if os.path.isdir(os.path.join(rootfs, n))]
    assert any(os.path.exists(os.path.join(r, "usr/bin/zstd-was-here")) for r in roots)
    assert_quiet(markers, *roots, *results)


def oci_bait_bundle(make_bundle, markers, ents, **knobs):
    b = make_bundle(args=["/bin/moat-probe", "sleep", "60"], userns=True, readonly=False,
                    annotations={"org.moat.rootfs.idmap": "chown"},
                    mounts=[{"destination": markers, "type": "bind", "source": markers,
                             "options": ["rbind", "rw"]}], **knobs)
    plant(b.rootfs, ents)
    return b


def test_oci_chown_fallback_and_exec_user(moat, make_bundle, bait):
    """An OCI bundle chowned into the user namespace at create, then `moat
    exec --user` (numbers; a name is refused without a lookup)."""
    markers, ents = bait
    b = oci_bait_bundle(make_bundle, markers, ents)
    cid = new_id()
    moat.start_probe(b, cid)
    assert os.lstat(b.rpath("/etc/nsswitch.conf")).st_uid == 100000
    results = []
    for opts, want in ((("--user", "1000"), 1000), (("--user", "1000:1000"), 1000),
                       (("--user", "0:0"), 0)):
        r = moat("exec", *opts, cid, "/bin/moat-probe", "status")
        assert r.rc == 0, r
        assert probe_json(r.out)["uid"] == want
        results.append(r)
    r = moat("exec", "--user", "user", cid, "/bin/moat-probe", "status")
    assert r.rc != 0, f"exec --user NAME: expected a refusal (OCI users are numeric): {r}"
    results.append(r)
    assert_quiet(markers, b.rootfs, *results)


# ---- strace: what moat's own processes exec and load ------------------------

EXECVE = re.compile(r'^(\d+)\s+execve\("([^"]*)"')
OPENAT = re.compile(r'^(\d+)\s+openat\([^,]*, "([^"]*)"')
SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$|nsswitch\.conf$|ld\.so\.preload$")


def strace_findings(lines, moat_bins, entrypoint):
    """Violations in an `strace -f -e trace=execve,openat` log: an execve by a
    moat process of anything but MOAT_BINS (or /proc/self/exe, a memfd or
    an fd path: the sealed re-exec and the exec stub) and the container's
    ENTRYPOINT; and a shared-object, nsswitch.conf or ld.so.preload open by
    a moat process after its first open of anything else (the dynamic
    loader's own opens come first).  A pid that exec'd the entrypoint is
    the container's from then on."""
    container, loader_done, bad = set(), set(), []
    for line in lines:
        m = EXECVE.match(line)
        if m:
            pid, path = m.groups()
            if pid in container or "= -1 " in line:
                continue
            loader_done.discard(pid)
            if path == entrypoint:
                container.add(pid)
            elif not (path in moat_bins or path == "/proc/self/exe"
                      or path.startswith(("/proc/self/fd/", "/dev/fd/", "/memfd:"))):
                bad.append(line)
            continue
        m = OPENAT.match(line)
        if not m or m.group(1) in container:
            continue
        pid, path = m.groups()
        if "O_PATH" in line or "O_DIRECTORY" in line:
            continue  # no code can be mapped through these (the chown walk's opens)
        if SHARED_OBJECT.search(path) or path == "/etc/ld.so.cache":
            if pid in loader_done:
                bad.append(line)
        elif not path.startswith(("/lib", "/usr/lib", "/etc/ld.so", "/proc/self/")):
            loader_done.add(pid)
    return bad


def strace_moat(moat, test_dir, args, name):
    log = os.path.join(test_dir, f"strace-{name}.log")
    argv = [shutil.which("strace"), "-f", "-qq", "-s", "256", "-o", log, "-e",
            "trace=execve,openat", *moat.argv(args)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    with open(log) as f:
        return f.read().splitlines()


def test_strace_no_exec_or_dlopen_from_rootfs(moat, make_bundle, test_dir, rootfs_template, bait):
    """An OCI `run` with the chown fallback, and a front-end `run -u NAME
    --read-only=false`, under strace."""
    if shutil.which("strace") is None:
        pytest.fail("strace not installed (apt-get install strace)")
    markers, ents = bait
    b = oci_bait_bundle(make_bundle, markers, ents)
    b.config["process"]["args"] = ["/bin/moat-probe", "status"]
    b.write()
    cid = new_id()
    moat.ids.append(cid)
    root = os.path.join(test_dir, "fe-rootfs")
    shutil.copytree(rootfs_template, root, symlinks=True)
    plant(root, ents)
    moat_dir = os.path.dirname(os.path.realpath(moat.bin))
    moat_bins = {moat.bin, os.path.realpath(moat.bin)} | {
        os.path.join(dp, n) for dp, _, fns in os.walk(moat_dir) for n in fns if n.startswith("moat")}
    for name, args in (("oci", ["run", "--bundle", b.path, cid]),
                       ("fe", ["run", "--rm", "-u", "user", "--read-only=false", "-v",
                               f"{markers}:{markers}", root, "/bin/moat-probe", "status"])):
        lines = strace_moat(moat, test_dir, args, name)
        assert any(EXECVE.match(x) and '"/bin/moat-probe"' in x for x in lines), \
            f"{name}: strace saw no execve of the entrypoint: the check would be vacuous"
        bad = strace_findings(lines, moat_bins, "/bin/moat-probe")
        assert not bad, f"{name}: a moat process exec'd or loaded code it should not:\n" + "\n".join(bad[:20])
    assert_quiet(markers, b.rootfs, root)
