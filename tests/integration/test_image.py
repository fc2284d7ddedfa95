"""moat image: verified load, limits, whiteouts, store behaviour, interop.

Layers and layouts are generated with tarfile (no committed binaries) by
tests/moat_imagelib.py; every test's `env` store has a host canary tree
(beside the store, plus /etc) that must be byte-identical afterwards.  The
hostile-layer corpus (tar breakout) lives in
tests/escapes/test_cve_2014_6407_layer_breakout.py and the image-config
privilege checks in tests/escapes/test_cve_2014_6408_image_config.py."""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import threading

import pytest

from moat_imagelib import (OCI_INDEX, Img, busybox_layer, docker_archive, load_layers,
                           oci_layout, rootfs_dirs, run_in_image, sha, tar_layer, write_blob)
from moat_testlib import MOAT_BIN, wait_for


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


# ---- interop: busybox images built here and saved by podman ----------------

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
