"""CVE-2014-6407 (Docker <= 1.3.1, with its follow-ups CVE-2014-9356 and
umoci's CVE-2021-29136): layer extraction followed symlinks and hard links in
the tar stream and wrote to host paths during `docker load`/`pull`.

Property (security-anchors.md section 4): for every hostile layer of the
corpus -- `../evil`, `/etc/evil`, a symlink `a -> /etc` (or to the host
canary) then `a/passwd`, `a -> ../..` then `a/x`, a hard link to
`../../etc/shadow` or `/etc/shadow`, the root entry `.` turned into a
symlink, escaping whiteouts `.wh...`, whiteouts and regular files through
symlinks -- `moat image load` + `resolve` either refuses with one
`moat: image ...` line or produces files only under the rootfs.  The `env`
fixture (tests/moat_imagelib.py) holds a host canary tree beside the store
and the host's /etc/passwd, shadow, group and hostname: their names, modes,
sizes and sha256 must be identical afterwards, and no `evil` may appear
outside the rootfs.

These tests moved here from tests/integration/test_image.py (the rest of
the image store's tests stay there); the decompressor half of the class
(CVE-2014-9357: never run a decompressor from the image) is in
test_cve_2019_14271_rootfs_code.py."""

import json
import os

import pytest

from moat_imagelib import load_layers, rootfs_dirs, tar_layer


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
