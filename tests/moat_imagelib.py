"""Image-store helpers shared by tests/integration/test_image.py and the
image escape classes in tests/escapes/ (CVE-2014-6407 layer breakout,
CVE-2014-6408 image config widening privileges, CVE-2019-14271 helpers run
from the rootfs): OCI layouts and hostile layers built with tarfile (no
committed binaries), a `moat image` driver, a content digest of a tree, and
the `env` fixture: a store plus a host canary tree that must be byte-identical
(names, modes, sizes, sha256 of contents) after the test.  The test modules
import `env` to use it as a fixture."""

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from moat_testlib import BUSYBOX, MOAT_BIN, Bundle, _ensure_busybox, make_config

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar_layer(entries):
    """entries: (name, kind, payload, mode) with kind in f d l h c p; payload
    is bytes for f, the target for l/h."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            name, kind = e[0], e[1]
            payload = e[2] if len(e) > 2 else b""
            ti = tarfile.TarInfo(name)
            ti.mode = e[3] if len(e) > 3 else (0o755 if kind == "d" else 0o644)
            ti.mtime = 1700000000
            if kind == "f":
                ti.size = len(payload)
                t.addfile(ti, io.BytesIO(payload))
                continue
            ti.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
                       "c": tarfile.CHRTYPE, "p": tarfile.FIFOTYPE}[kind]
            if kind in "lh":
                ti.linkname = payload
            if kind == "c":
                ti.devmajor, ti.devminor = 1, 3
            t.addfile(ti)
    return buf.getvalue()


def write_blob(layout, data):
    d = sha(data)
    p = os.path.join(layout, "blobs", "sha256", d[7:])
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return d


def oci_layout(path, layers, name="test/img:1", compress=True, config_extra=None,
               diff_ids=None, manifest_doc_extra=None, manifest_media=OCI_MANIFEST):
    """An OCI image layout dir; returns (manifest digest, layer digests).
    COMPRESS: True (gzip), False (plain tar), or one of "gzip", "zstd",
    None per layer."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, ids = [], []
    kinds = compress if isinstance(compress, (list, tuple)) else [
        "gzip" if compress else None] * len(layers)
    for raw, kind in zip(layers, kinds):
        if kind == "zstd":
            blob = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True,
                                  check=True).stdout
        else:
            blob = gzip.compress(raw, compresslevel=1, mtime=0) if kind else raw
        descs.append({"mediaType": {"gzip": LAYER_GZ, "zstd": LAYER_ZSTD, None: LAYER_TAR}[kind],
                      "digest": write_blob(path, blob), "size": len(blob)})
        ids.append(sha(raw))
    cfg = {"architecture": "amd64", "os": "linux",
           "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids if diff_ids is not None else ids}}
    cfg.update(config_extra or {})
    cb = json.dumps(cfg).encode()
    man = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": write_blob(path, cb), "size": len(cb)},
           "layers": descs}
    man.update(manifest_doc_extra or {})
    mb = json.dumps(man).encode()
    md = write_blob(path, mb)
    desc = {"mediaType": manifest_media, "digest": md, "size": len(mb)}
    if name:
        desc["annotations"] = {"org.opencontainers.image.ref.name": name}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}, f)
    return md, [d["digest"] for d in descs]


class Img:
    """moat image ... against a store in the test dir."""

    def __init__(self, root):
        self.root = root

    def __call__(self, *args, timeout=120):
        argv = [MOAT_BIN, "image", "--root-images", self.root, *[str(a) for a in args]]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return p

    def ok(self, *args, **kw):
        p = self(*args, **kw)
        assert p.returncode == 0, f"{args}: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
        return p.stdout

    def fail(self, *args, needle, rc=1):
        p = self(*args)
        assert p.returncode == rc, f"{args}: expected rc {rc}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("moat: image"), p.stderr
        assert needle.lower() in lines[0].lower(), f"{needle!r} not in {lines[0]!r}"
        return lines[0]


def tree_digest(path):
    """Names, types, modes and contents below PATH."""
    out = {}
    if not os.path.lexists(path):
        return out
    for dp, dns, fns in os.walk(path):
        for n in sorted(dns + fns):
            p = os.path.join(dp, n)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    body = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(p)
            else:
                body = ""
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_size, body)
    return out


HOST_FILES = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hostname"]


@pytest.fixture
def env(tmp_path):
    """A store, plus a canary tree beside it and snapshots of host files."""
    if not os.access(MOAT_BIN, os.X_OK):
        pytest.fail(f"{MOAT_BIN} missing")
    canary = tmp_path / "canary"
    (canary / "etc").mkdir(parents=True)
    (canary / "etc" / "passwd").write_text("canary\n")
    (canary / "y").write_text("keep me\n")
    store = tmp_path / "store"
    before = (tree_digest(str(canary)), {p: tree_digest(p) if os.path.isdir(p) else open(p, "rb").read()
                                         for p in HOST_FILES if os.path.exists(p)})
    assert not os.path.exists("/etc/evil") and not os.path.exists("/evil")
    yield tmp_path, Img(str(store)), canary
    after = (tree_digest(str(canary)), {p: open(p, "rb").read() for p in HOST_FILES if os.path.exists(p)})
    assert after == before, "host canary changed"
    for p in ("/etc/evil", "/evil", str(tmp_path / "evil"), str(tmp_path / "store" / "evil"),
              str(tmp_path / "store" / "rootfs" / "evil"), str(tmp_path / "x")):
        assert not os.path.lexists(p), f"{p} was created outside the rootfs"
    tmpd = tmp_path / "store" / "tmp"
    if tmpd.exists():
        assert [n for n in os.listdir(tmpd) if not n.startswith("index-")] == [], "store tmp/ not clean"


def load_layers(env, layers, **kw):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    shutil.rmtree(lay, ignore_errors=True)
    md, _ = oci_layout(lay, layers, **kw)
    img.ok("load", lay)
    return md


def rootfs_dirs(tmp):
    d = tmp / "store" / "rootfs"
    return sorted(n for n in os.listdir(d) if not n.endswith(".json")) if d.exists() else []


# ---- busybox images built here ---------------------------------------------

def busybox_layer():
    _ensure_busybox()
    entries = [(d + "/", "d") for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root")]
    entries.append(("bin/busybox", "f", open(BUSYBOX, "rb").read(), 0o755))
    for a in ("sh", "echo", "cat", "ls"):
        entries.append((f"bin/{a}", "l", "busybox"))
    entries.append(("etc/passwd", "f", b"root:x:0:0:root:/root:/bin/sh\n"))
    return tar_layer(entries)


def docker_archive(path, layer, tag):
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
                      "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    cname = sha(cfg)[7:] + ".json"
    man = json.dumps([{"Config": cname, "RepoTags": [tag], "Layers": ["abc/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as t:
        for name, data in ((sha(layer)[7:] + ".tar", layer), (cname, cfg), ("manifest.json", man)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("abc/layer.tar")
        ti.type = tarfile.SYMTYPE
        ti.linkname = "../" + sha(layer)[7:] + ".tar"
        t.addfile(ti)


def run_in_image(tmp, rootfs, tag):
    """Run busybox echo in the resolved rootfs with the OCI runtime."""
    bdir = tmp / f"bundle-{tag}"
    bdir.mkdir()
    cfg = make_config(args=["/bin/busybox", "echo", f"hello-{tag}"])
    cfg["root"] = {"path": rootfs, "readonly": True}
    Bundle(str(bdir), cfg).write()
    state = tmp / "state"
    state.mkdir(exist_ok=True)
    p = subprocess.run([MOAT_BIN, "--root", str(state), "run", "--bundle", str(bdir), f"img-{tag}"],
                       capture_output=True, text=True, timeout=60)
    subprocess.run([MOAT_BIN, "--root", str(state), "delete", "--force", f"img-{tag}"], capture_output=True)
    assert p.returncode == 0 and f"hello-{tag}" in p.stdout, p


def probe_image_layer(rootfs_template, extra=()):
    """A layer holding the test rootfs (busybox, its applet links, the probe,
    passwd and group) plus EXTRA entries (tar_layer's tuples)."""
    entries = []
    for dp, dns, fns in os.walk(rootfs_template):
        for n in sorted(dns + fns):
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, rootfs_template)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                entries.append((rel, "l", os.readlink(p)))
            elif stat.S_ISDIR(st.st_mode):
                entries.append((rel + "/", "d", b"", stat.S_IMODE(st.st_mode)))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    entries.append((rel, "f", f.read(), stat.S_IMODE(st.st_mode)))
    return tar_layer(entries + list(extra))


def front_end(moat, *args, timeout=60):
    """`moat run ARGS` through the front end (IMAGE [CMD]): the Moat helper
    takes run's last argument for a container id, which is wrong here, so
    its tracking is undone (a --name is tracked instead)."""
    before = list(moat.ids)
    r = moat("run", *args, timeout=timeout)
    moat.ids[:] = before
    if "--name" in args:
        moat.ids.append(args[list(args).index("--name") + 1])
    return r
