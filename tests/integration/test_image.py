"""moat image: verified load, safe unpack, whiteouts, limits, interop.

Every hostile layer is generated here with tarfile (no committed binaries);
each test asserts that a host canary tree (beside the store, plus /etc) is
byte-identical afterwards and that the import fails or stays confined with a
clear one-line error."""

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import threading

import pytest

from moat_testlib import BUSYBOX, MOAT_BIN, Bundle, _ensure_busybox, make_config, wait_for

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


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
    """An OCI image layout dir; returns (manifest digest, layer digests)."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, ids = [], []
    for raw in layers:
        blob = gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw
        descs.append({"mediaType": LAYER_GZ if compress else LAYER_TAR,
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


# ---- hostile layers --------------------------------------------------------

def test_dotdot_refused(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("ok", "f", b"x"), ("../evil", "f", b"pwn")])])
    img.fail("resolve", "test/img:1", needle="`..` would leave the root")
    assert rootfs_dirs(tmp) == [], "partial rootfs left behind"


def test_nested_dotdot_refused(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("a/", "d"), ("a/../../evil", "f", b"pwn")])])
    img.fail("resolve", "test/img:1", needle="`..`")


def test_absolute_name_confined(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("/etc/evil", "f", b"pwn")])])
    out = json.loads(img.ok("resolve", "test/img:1"))
    assert open(os.path.join(out["rootfs"], "etc", "evil"), "rb").read() == b"pwn"


def test_symlink_parent_to_etc_confined(env):
    tmp, img, canary = env
    load_layers(env, [tar_layer([("etc/", "d"), ("a", "l", "/etc"), ("a/passwd", "f", b"root::0:0::/:/bin/sh\n"),
                                 ("c", "l", str(canary / "etc")), ("c/passwd", "f", b"pwn")])])
    p = img("resolve", "test/img:1")
    # Either refused (c resolves to a path that does not exist in the root)
    # or confined; never written through to the host.
    if p.returncode == 0:
        root = json.loads(p.stdout)["rootfs"]
        assert open(os.path.join(root, "etc", "passwd"), "rb").read().startswith(b"root::")
    else:
        assert "no such file" in p.stderr.lower(), p.stderr
        assert rootfs_dirs(tmp) == []


def test_symlink_parent_dotdot_confined(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("a", "l", "../.."), ("a/x", "f", b"pwn")])])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    assert open(os.path.join(root, "x"), "rb").read() == b"pwn"
    assert os.readlink(os.path.join(root, "a")) == "../.."


def test_hardlink_outside_refused(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("b", "h", "../../etc/shadow")])])
    img.fail("resolve", "test/img:1", needle="`..`")


def test_hardlink_absolute_stays_in_root(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("b", "h", "/etc/shadow")])])
    img.fail("resolve", "test/img:1", needle="hardlink target")


def test_hardlink_through_symlink_stays_in_root(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("etc/", "d"), ("etc/shadow", "f", b"inner"), ("s", "l", "/etc"),
                                 ("b", "h", "s/shadow")])])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    assert os.stat(os.path.join(root, "b")).st_ino == os.stat(os.path.join(root, "etc", "shadow")).st_ino


@pytest.mark.parametrize("name", [".", "./", ""])
def test_root_replaced_by_symlink_refused(env, name):
    tmp, img, _ = env
    entries = [("x", "f", b"1"), (name or "/", "l", "/etc"), ("passwd", "f", b"pwn")]
    load_layers(env, [tar_layer(entries)])
    img.fail("resolve", "test/img:1", needle="the root must stay a directory")
    assert rootfs_dirs(tmp) == []


@pytest.mark.parametrize("wh", [".wh...", "d/.wh...", "d/.wh..", ".wh."])
def test_escaping_whiteout_refused(env, wh):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("d/", "d"), ("d/f", "f", b"1")]), tar_layer([(wh, "f", b"")])])
    img.fail("resolve", "test/img:1", needle="invalid whiteout name")


def test_whiteout_through_symlink_stays_in_root(env):
    tmp, img, canary = env
    load_layers(env, [tar_layer([("x", "l", str(canary)), ("z", "l", "/"), ("y", "f", b"inner")]),
                      tar_layer([("z/.wh.y", "f", b""), ("x/.wh.y", "f", b"")])])
    p = img("resolve", "test/img:1")
    # x points at a host path that does not exist inside the root: refused;
    # the host's canary/y survives either way (checked by the fixture).
    assert p.returncode == 1 and "no such file" in p.stderr.lower(), p.stderr


def test_ratio_bomb_stopped_at_load(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    oci_layout(lay, [tar_layer([("zeros", "f", bytes(128 << 20))])])
    img.fail("load", lay, needle="compression ratio")
    assert img.ok("ls", "--format", "json").strip() == "[]"
    assert os.listdir(tmp / "store" / "blobs" / "sha256") == [], "failed load left blobs"


def test_ratio_bomb_stopped_at_unpack_without_filling_disk(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    oci_layout(lay, [tar_layer([("zeros", "f", bytes(128 << 20))])])
    img.ok("load", "--max-ratio", "100000", lay)
    img.fail("resolve", "test/img:1", needle="--max-ratio")
    assert rootfs_dirs(tmp) == []
    img.ok("resolve", "--max-ratio", "100000", "test/img:1")


def test_wrong_digest_refused(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    _, layers = oci_layout(lay, [tar_layer([("f", "f", b"hello")])])
    p = os.path.join(lay, "blobs", "sha256", layers[0][7:])
    data = bytearray(open(p, "rb").read())
    data[-5] ^= 0xff
    open(p, "wb").write(bytes(data))
    img.fail("load", lay, needle="content digest")
    assert img.ok("ls", "--format", "json").strip() == "[]"
    assert os.listdir(tmp / "store" / "blobs" / "sha256") == []


def test_truncated_blob_refused(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    _, layers = oci_layout(lay, [tar_layer([("f", "f", os.urandom(5000))])])
    p = os.path.join(lay, "blobs", "sha256", layers[0][7:])
    data = open(p, "rb").read()
    open(p, "wb").write(data[:len(data) // 2])
    img.fail("load", lay, needle="truncated")


def test_oversized_blob_stops_reading(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    _, layers = oci_layout(lay, [tar_layer([("f", "f", b"abc")])])
    p = os.path.join(lay, "blobs", "sha256", layers[0][7:])
    with open(p, "ab") as f:
        f.write(b"\0" * (4 << 20))
    img.fail("load", lay, needle="larger than its descriptor size")


def test_manifest_media_type_lies(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    oci_layout(lay, [tar_layer([("f", "f", b"1")])], manifest_doc_extra={"mediaType": OCI_INDEX})
    img.fail("load", lay, needle="descriptor says")
    shutil.rmtree(lay)
    oci_layout(lay, [tar_layer([("f", "f", b"1")])], manifest_doc_extra={"manifests": []})
    img.fail("load", lay, needle="manifest/index confusion")
    shutil.rmtree(lay)
    # Descriptor says index, document is a manifest.
    oci_layout(lay, [tar_layer([("f", "f", b"1")])], manifest_doc_extra={"mediaType": OCI_INDEX},
               manifest_media=OCI_INDEX)
    img.fail("load", lay, needle="manifest/index confusion")


def test_diff_id_mismatch_refused(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    oci_layout(lay, [tar_layer([("f", "f", b"1")])], diff_ids=[sha(b"other")])
    img.fail("load", lay, needle="diff_id")


def test_foreign_platform_refused(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    oci_layout(lay, [tar_layer([("f", "f", b"1")])], config_extra={"architecture": "arm64"})
    img.fail("load", lay, needle="arm64")


def test_oversized_index_json_refused(env):
    tmp, img, _ = env
    lay = tmp / "layout"
    oci_layout(str(lay), [tar_layer([("f", "f", b"1")])])
    (lay / "index.json").write_bytes(b" " * (21 << 20) + b"{}")
    img.fail("load", str(lay), needle="larger than")


@pytest.mark.parametrize("flag,val,entries,needle", [
    ("--max-entries", "10", [(f"f{i}", "f", b"x") for i in range(20)], "--max-entries"),
    ("--max-path", "64", [("d" * 100, "f", b"x")], "--max-path"),
    ("--max-layer-size", "1M", [("big", "f", os.urandom(2 << 20))], "--max-layer-size"),
    ("--max-image-size", "1M", [("big", "f", os.urandom(2 << 20))], "--max-image-size"),
])
def test_limits(env, flag, val, entries, needle):
    tmp, img, _ = env
    load_layers(env, [tar_layer(entries)])
    img.fail("resolve", flag, val, "test/img:1", needle=needle)
    assert rootfs_dirs(tmp) == []
    img.ok("resolve", "test/img:1")


def test_devices_setuid_and_defang(env):
    tmp, img, _ = env
    load_layers(env, [tar_layer([("null", "c"), ("fifo", "p"), ("su", "f", b"x", 0o4755),
                                 ("sg", "f", b"x", 0o2755)])])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    assert not os.path.lexists(os.path.join(root, "null")) and not os.path.lexists(os.path.join(root, "fifo"))
    assert os.stat(os.path.join(root, "su")).st_mode & 0o7777 == 0o4755
    rep = json.loads(img.ok("inspect", "test/img:1"))["unpacked"]["default"]
    assert (rep["setuid"], rep["setgid"], rep["devicesSkipped"]) == (1, 1, 2)
    root2 = json.loads(img.ok("resolve", "--defang", "--allow-devices", "test/img:1"))["rootfs"]
    assert root2 != root
    assert os.stat(os.path.join(root2, "su")).st_mode & 0o7777 == 0o755
    assert stat.S_ISCHR(os.lstat(os.path.join(root2, "null")).st_mode)
    assert stat.S_ISFIFO(os.lstat(os.path.join(root2, "fifo")).st_mode)


# ---- whiteouts (image-spec layer.md) -----------------------------------------

def files_in(root):
    return sorted(os.path.relpath(os.path.join(dp, n), root)
                  for dp, dns, fns in os.walk(root) for n in fns + [d for d in dns if not os.listdir(os.path.join(dp, d))])


def test_opaque_whiteout_after_entries(env):
    tmp, img, _ = env
    a = tar_layer([("a/b/c/bar", "f", b"bar")])
    b = tar_layer([("a/", "d"), ("a/b/", "d"), ("a/b/c/", "d"), ("a/b/c/foo", "f", b"foo"),
                   ("a/.wh..wh..opq", "f", b"")])
    load_layers(env, [a, b])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    assert files_in(root) == ["a/b/c/foo"]


def test_opaque_whiteout_first_and_implicit_parents(env):
    tmp, img, _ = env
    a = tar_layer([("a/b/c/bar", "f", b"bar"), ("a/keep/no", "f", b"x")])
    b = tar_layer([("a/.wh..wh..opq", "f", b""), ("a/b/c/foo", "f", b"foo")])
    c = tar_layer([("a/b/c/foo2", "f", b"foo")])
    load_layers(env, [a, b, c])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    assert files_in(root) == ["a/b/c/foo", "a/b/c/foo2"]


def test_whiteout_hides_lower_only(env):
    tmp, img, _ = env
    a = tar_layer([("d/f", "f", b"1"), ("d/g", "f", b"2"), ("e/x", "f", b"3")])
    b = tar_layer([("d/.wh.f", "f", b""), ("n", "f", b"new"), (".wh.n", "f", b""), (".wh.e", "f", b"")])
    load_layers(env, [a, b])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    # d/f hidden, e hidden, but n (same layer) is not; no .wh. name remains.
    assert files_in(root) == ["d/g", "n"]


def test_replace_dir_with_file_and_back(env):
    tmp, img, _ = env
    a = tar_layer([("p/q", "f", b"1"), ("r", "f", b"2")])
    b = tar_layer([("p", "f", b"file now"), ("r/", "d"), ("r/s", "f", b"3")])
    load_layers(env, [a, b])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    assert files_in(root) == ["p", "r/s"]


def test_file_replaces_symlink_to_host_file(env):
    """A later layer's regular file where an earlier layer put a symlink to a
    host file: the symlink is replaced, never written through."""
    tmp, img, canary = env
    target = str(canary / "y")
    a = tar_layer([("x", "l", target), ("d/", "d"), ("d/z", "l", "/etc/passwd")])
    b = tar_layer([("x", "f", b"layer two"), ("d/z", "f", b"also two")])
    load_layers(env, [a, b])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    for rel, want in (("x", b"layer two"), ("d/z", b"also two")):
        p = os.path.join(root, rel)
        assert not os.path.islink(p) and open(p, "rb").read() == want
    # The env fixture asserts the canary (incl. y) and /etc are unchanged.


# ---- store behaviour -----------------------------------------------------

def test_load_twice_no_work_and_fsck(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    md, layers = oci_layout(lay, [tar_layer([("f", "f", os.urandom(1000))])])
    assert "unchanged" not in img.ok("load", lay)
    blob = tmp / "store" / "blobs" / "sha256" / layers[0][7:]
    mtime = blob.stat().st_mtime_ns
    assert "unchanged" in img.ok("load", lay)
    assert blob.stat().st_mtime_ns == mtime
    assert "0 problems" in img.ok("fsck")
    data = bytearray(blob.read_bytes())
    data[10] ^= 1
    blob.write_bytes(bytes(data))
    p = img("fsck")
    assert p.returncode == 1 and layers[0] in p.stdout, p.stdout
    # unpack re-verifies the blob it reads
    img.fail("resolve", "test/img:1", needle="fsck")


def test_ls_rm_prune(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    md, _ = oci_layout(lay, [tar_layer([("f", "f", b"1")])], name="example.com/a/b")
    img.ok("load", lay)
    img.ok("load", "--name", "other:2", lay)
    ls = json.loads(img.ok("ls", "--format", "json"))
    assert {(e["name"], e["digest"]) for e in ls} == {("example.com/a/b:latest", md), ("other:2", md)}
    assert "example.com/a/b:latest" in img.ok("ls")
    img.ok("resolve", "other:2")
    p = subprocess.run([MOAT_BIN, "rmi", "--root-images", img.root, "example.com/a/b"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    img.ok("prune")
    assert len(os.listdir(tmp / "store" / "blobs" / "sha256")) == 3
    img.ok("rm", "other:2")
    img.ok("prune")
    assert os.listdir(tmp / "store" / "blobs" / "sha256") == []
    assert os.listdir(tmp / "store" / "rootfs") == []
    img.fail("inspect", "other:2", needle="not in the store")
    p = subprocess.run([MOAT_BIN, "images", "--root-images", img.root, "--format", "json"], capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout) == []


def test_concurrent_loads(env):
    tmp, img, _ = env
    lays = []
    for i in range(4):
        lay = str(tmp / f"layout{i}")
        oci_layout(lay, [tar_layer([("f", "f", os.urandom(200000))]), tar_layer([("shared", "f", b"s")])],
                   name=f"c/img{i}:1")
        lays.append(lay)
    res = [None] * 8

    def go(i):
        res[i] = img("load", lays[i % 4])
    th = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    assert all(r.returncode == 0 for r in res), [r.stderr for r in res]
    assert len(json.loads(img.ok("ls", "--format", "json"))) == 4
    assert "0 problems" in img.ok("fsck")


def test_usage_errors(env):
    tmp, img, _ = env
    img.fail("load", needle="expects 1 argument", rc=2)
    img.fail("ls", "--defang", needle="does not apply", rc=2)
    img.fail("resolve", "--max-ratio", "x", "a", needle="not a number", rc=2)
    img.fail("frob", needle="unknown command", rc=2)
    img.fail("load", str(tmp / "nope"), needle="no such file")
    (tmp / "junk.tar").write_bytes(tar_layer([("hello", "f", b"x")]))
    img.fail("load", str(tmp / "junk.tar"), needle="not an OCI layout")


def test_config_never_widens_privileges(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    oci_layout(lay, [tar_layer([("f", "f", b"1")])], config_extra={"config": {
        "Cmd": ["/x"], "User": "1000", "Privileged": True, "CapAdd": ["ALL"],
        "SecurityOpt": ["seccomp=unconfined"], "Devices": ["/dev/sda"], "Mounts": ["/:/host"],
        "Labels": {"a": "b"}}})
    img.ok("load", lay)
    out = json.loads(img.ok("resolve", "test/img:1"))
    assert out["config"] == {"Cmd": ["/x"], "User": "1000", "Labels": {"a": "b"}}


# ---- interop: busybox images built here and saved by podman ----------------

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


def test_interop_oci_layout_and_docker_archive_run(env):
    tmp, img, _ = env
    layer = busybox_layer()
    oci_layout(str(tmp / "layout"), [layer], name="local/busybox:oci")
    img.ok("load", str(tmp / "layout"))
    docker_archive(str(tmp / "d.tar"), layer, "local/busybox:docker")
    img.ok("load", str(tmp / "d.tar"))
    for tag in ("oci", "docker"):
        out = json.loads(img.ok("resolve", f"local/busybox:{tag}"))
        assert out["config"]["Cmd"] == ["/bin/sh"]
        run_in_image(tmp, out["rootfs"], tag)


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman not installed (tests/clients/setup-deps.sh)")
def test_interop_podman_save(env):
    tmp, img, _ = env
    # podman refuses a runroot longer than 50 characters.
    run = tempfile.mkdtemp(prefix="moat-pm.", dir="/tmp")
    pm = ["podman", "--root", str(tmp / "pm-root"), "--runroot", run, "--storage-driver", "vfs"]
    (tmp / "bb.tar").write_bytes(busybox_layer())
    r = subprocess.run(pm + ["import", "--change", "CMD=/bin/sh", str(tmp / "bb.tar"), "localhost/pmbb:1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    try:
        for fmt in ("oci-archive", "docker-archive"):
            out = str(tmp / f"{fmt}.tar")
            r = subprocess.run(pm + ["save", "--format", fmt, "-o", out, "localhost/pmbb:1"],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            img.ok("load", "--name", f"pm/{fmt}:1", out)
            res = json.loads(img.ok("resolve", f"pm/{fmt}:1"))
            run_in_image(tmp, res["rootfs"], fmt)
        assert "0 problems" in img.ok("fsck")
    finally:
        subprocess.run(pm + ["system", "reset", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(run, ignore_errors=True)


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd not installed")
def test_zstd_layer(env):
    tmp, img, _ = env
    lay = str(tmp / "layout")
    raw = tar_layer([("z/file", "f", b"zstd!" * 1000)])
    md, layers = oci_layout(lay, [raw])
    # Swap the gzip layer for a zstd one, rewriting the manifest.
    zb = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    man = json.loads(open(os.path.join(lay, "blobs", "sha256", md[7:]), "rb").read())
    man["layers"] = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                      "digest": write_blob(lay, zb), "size": len(zb)}]
    mb = json.dumps(man).encode()
    idx = json.load(open(os.path.join(lay, "index.json")))
    idx["manifests"][0].update(digest=write_blob(lay, mb), size=len(mb))
    json.dump(idx, open(os.path.join(lay, "index.json"), "w"))
    img.ok("load", lay)
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    assert open(os.path.join(root, "z", "file"), "rb").read() == b"zstd!" * 1000


def test_missing_image_tool_is_named(tmp_path):
    lone = tmp_path / "moat"
    shutil.copy2(MOAT_BIN, lone)
    p = subprocess.run([str(lone), "image", "ls"], capture_output=True, text=True)
    assert p.returncode == 1
    assert f"`{tmp_path}/moat-image`" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_image_healthcheck_runs_in_a_detached_container(env):
    """The image's HEALTHCHECK (Docker's config.Healthcheck) is what a
    detached container's monitor runs when no --health-cmd is given."""
    tmp, _, _ = env
    # The container (host uid 100000) must reach the store's rootfs:
    # pytest's tmp_path sits below 0700 dirs.
    base = tempfile.mkdtemp(prefix="moat-hc.", dir="/tmp")
    os.chmod(base, 0o755)
    img = Img(os.path.join(base, "store"))
    hc = {"Test": ["CMD-SHELL", "echo checked; exit 1"], "Interval": 200_000_000, "Timeout": 5_000_000_000,
          "Retries": 1}
    oci_layout(str(tmp / "layout"), [busybox_layer()], name="local/hc:1",
               config_extra={"config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "Healthcheck": hc}})
    img.ok("load", str(tmp / "layout"))
    state = str(tmp / "state")
    moat = [MOAT_BIN, "--root", state]
    r = subprocess.run([*moat, "run", "-d", "--name", "hc1", "--root-images", img.root, "local/hc:1",
                        "sh", "-c", "while :; do sleep 1; done"], capture_output=True, text=True, timeout=60)
    try:
        assert r.returncode == 0, r
        deadline = time.monotonic() + 20
        while True:
            out = subprocess.run([*moat, "inspect", "hc1"], capture_output=True, text=True).stdout
            state_ = json.loads(out)[0]["State"]
            if state_["Health"]["Status"] == "unhealthy" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert state_["Health"]["Status"] == "unhealthy", state_
        assert state_["Health"]["Log"][0]["Output"] == "checked\n"
        assert json.loads(out)[0]["Healthcheck"]["test"] == ["/bin/sh", "-c", "echo checked; exit 1"]
    finally:
        subprocess.run([*moat, "rm", "-f", "hc1"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def test_unpack_durability_by_boot_id(env):
    """The unpack does not wait for the disk: the tree is published with the
    boot id in its report and a detached child marks it .synced after a
    syncfs.  A tree neither synced nor from this boot (a crash came before
    the sync reached the disk) is unpacked again; one from this boot is
    trusted as it is."""
    tmp, img, _ = env
    load_layers(env, [busybox_layer()])
    root = json.loads(img.ok("resolve", "test/img:1"))["rootfs"]
    report, synced = root + ".json", root + ".synced"
    wait_for(lambda: os.path.exists(synced), what="the background sync's marker")
    with open(report) as f:
        assert json.load(f)["bootId"] == _boot_id()

    def forge(boot):
        os.unlink(synced) if os.path.exists(synced) else None
        with open(report) as f:
            doc = json.load(f)
        doc["bootId"] = boot
        with open(report, "w") as f:
            json.dump(doc, f)
        with open(os.path.join(root, "torn"), "w") as f:
            f.write("x")
    # Same boot, not yet synced: trusted, nothing redone.
    forge(_boot_id())
    assert json.loads(img.ok("resolve", "test/img:1"))["rootfs"] == root
    assert os.path.exists(os.path.join(root, "torn"))
    # Another boot, never synced: unpacked again from the verified blobs.
    forge("00000000-0000-0000-0000-000000000000")
    assert json.loads(img.ok("resolve", "test/img:1"))["rootfs"] == root
    assert not os.path.exists(os.path.join(root, "torn"))
    assert os.path.exists(os.path.join(root, "bin", "busybox"))
    wait_for(lambda: os.path.exists(synced), what="the marker after the second unpack")
