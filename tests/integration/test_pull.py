"""moat pull: from Debian's docker-registry on 127.0.0.1, images pushed into
it with skopeo.  By tag and by digest, pinned-digest and Docker-Content-Digest
mismatches, a tampered blob (nothing referenced afterwards), bearer-token
auth through a small proxy, and the plain-HTTP refusal for a non-loopback
registry (refused before any network I/O)."""

import base64
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from moat_testlib import MOAT_BIN
from moat_imagelib import OCI_INDEX, OCI_MANIFEST, Img, busybox_layer, oci_layout, run_in_image, tar_layer, write_blob

pytestmark = pytest.mark.skipif(
    not (os.access("/usr/bin/docker-registry", os.X_OK) and shutil.which("skopeo")),
    reason="docker-registry and skopeo not installed (scripts/install-deps.sh --test)")

# libcurl honours proxy variables; a loopback registry must be reached directly.
ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15):
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"registry exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("registry did not start listening")


class Registry:
    def __init__(self, base):
        self.base = base
        self.storage = os.path.join(base, "storage")
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        cfg = os.path.join(base, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {self.storage}\nhttp:\n  addr: {self.addr}\n")
        self.log = open(os.path.join(base, "registry.log"), "w")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)

    def stop(self):
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def push(self, layers, repo, name):
        """Build an oci-archive of LAYERS and push it as REPO:latest;
        returns (manifest digest, layer digests)."""
        lay = os.path.join(self.base, f"layout-{name}")
        md, lds = oci_layout(lay, layers, name=f"{repo}:latest")
        self.push_layout(lay, repo)
        return md, lds

    def push_layout(self, lay, repo, *extra):
        arc = lay + ".tar"
        with tarfile.open(arc, "w") as t:
            for e in sorted(os.listdir(lay)):
                t.add(os.path.join(lay, e), arcname=e)
        r = subprocess.run(["skopeo", "copy", *extra, "--dest-tls-verify=false", f"oci-archive:{arc}",
                            f"docker://{self.addr}/{repo}:latest"],
                           capture_output=True, text=True, timeout=60, env=ENV)
        assert r.returncode == 0, r.stderr

    def blob_path(self, digest):
        h = digest[7:]
        return os.path.join(self.storage, "docker", "registry", "v2", "blobs", "sha256", h[:2], h, "data")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(str(tmp_path_factory.mktemp("registry")))
    try:
        reg.bb = reg.push([busybox_layer()], "bb", "bb")
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def img(tmp_path):
    return Img(str(tmp_path / "store"))


def pull(img, *args, via_image=False):
    argv = [MOAT_BIN, "image", "--root-images", img.root, "pull"] if via_image else \
        [MOAT_BIN, "pull", "--root-images", img.root]
    return subprocess.run(argv + [str(a) for a in args], capture_output=True, text=True, timeout=60, env=ENV)


def one_error(p, needle):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("moat: image pull:"), p.stderr
    assert needle in lines[0], lines[0]


def names(img):
    return {e["name"]: e["digest"] for e in json.loads(img.ok("ls", "--format", "json"))}


def test_pull_by_tag_lists_and_runs(registry, img, tmp_path):
    md = registry.bb[0]
    p = pull(img, f"{registry.addr}/bb:latest")
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"Pulled image: {registry.addr}/bb:latest ({md})\n"
    assert names(img) == {f"{registry.addr}/bb:latest": md}
    out = subprocess.run([MOAT_BIN, "images", "--root-images", img.root], capture_output=True, text=True)
    assert f"{registry.addr}/bb:latest" in out.stdout and md[7:19] in out.stdout
    # A second pull finds every blob in the store and changes nothing.
    p = pull(img, f"{registry.addr}/bb", via_image=True)
    assert p.returncode == 0 and p.stdout.endswith(", unchanged\n"), p
    assert "0 problems" in img.ok("fsck")
    res = json.loads(img.ok("resolve", f"{registry.addr}/bb:latest"))
    assert res["digest"] == md
    run_in_image(tmp_path, res["rootfs"], "pulled")


def test_pull_by_digest(registry, img):
    md = registry.bb[0]
    p = pull(img, f"{registry.addr}/bb@{md}", via_image=True)
    assert p.returncode == 0, p.stderr
    assert names(img) == {f"{registry.addr}/bb@{md}": md}
    # Tag and pin together: the tag names it, the pin is checked.
    p = pull(img, f"{registry.addr}/bb:latest@{md}")
    assert p.returncode == 0, p.stderr
    assert names(img)[f"{registry.addr}/bb:latest"] == md


def test_wrong_pinned_digest_refused(registry, img):
    p = pull(img, f"{registry.addr}/bb@sha256:" + "0" * 64)
    one_error(p, "HTTP 404")
    one_error(pull(img, f"{registry.addr}/bb@sha256:ABC"), "not a sha256 digest")
    # The registry serves other bytes under the pinned digest.
    md, _ = registry.push([tar_layer([("pin", "f", b"pinned")])], "pin", "pin")
    path = registry.blob_path(md)
    good = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(good.replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    try:
        one_error(pull(img, f"{registry.addr}/pin@{md}"), f"manifest `{md}`: content digest is")
        # By tag, the registry's Docker-Content-Digest header still names
        # the original digest: it must match the content.
        one_error(pull(img, f"{registry.addr}/pin:latest"), "Docker-Content-Digest")
    finally:
        with open(path, "wb") as f:
            f.write(good)
    assert names(img) == {}
    assert os.listdir(os.path.join(img.root, "blobs", "sha256")) == []


@pytest.mark.parametrize("how", ["flip", "grow"])
def test_tampered_blob_refused(registry, img, how):
    pull(img, f"{registry.addr}/bb:latest")
    before_names = names(img)
    before_blobs = sorted(os.listdir(os.path.join(img.root, "blobs", "sha256")))
    md, (ld,) = registry.push([tar_layer([("t", "f", b"tamper-" + how.encode() * 1000)])], f"t{how}", how)
    path = registry.blob_path(ld)
    data = bytearray(open(path, "rb").read())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data += b"\0" * (2 << 20)  # beyond the pipe buffer: the download is cut off
    with open(path, "wb") as f:
        f.write(data)
    p = pull(img, f"{registry.addr}/t{how}:latest")
    one_error(p, f"blob `{ld}`")
    assert ("content digest is" if how == "flip" else "larger than its descriptor size") in p.stderr
    assert names(img) == before_names
    assert sorted(os.listdir(os.path.join(img.root, "blobs", "sha256"))) == before_blobs
    assert os.listdir(os.path.join(img.root, "tmp")) == []
    assert "0 problems" in img.ok("fsck")


def test_multi_arch_index_picks_linux_amd64(registry, img):
    lay = os.path.join(registry.base, "layout-multi")
    descs = {}
    for arch in ("arm64", "amd64", "s390x"):
        md, _ = oci_layout(lay, [tar_layer([("arch", "f", arch.encode())])], name=None,
                           config_extra={"architecture": arch})
        size = os.path.getsize(os.path.join(lay, "blobs", "sha256", md[7:]))
        descs[arch] = {"mediaType": OCI_MANIFEST, "digest": md, "size": size,
                       "platform": {"architecture": arch, "os": "linux"}}
    ib = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(descs.values())}).encode()
    idx = {"mediaType": OCI_INDEX, "digest": write_blob(lay, ib), "size": len(ib),
           "annotations": {"org.opencontainers.image.ref.name": "multi:latest"}}
    with open(os.path.join(lay, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [idx]}, f)
    registry.push_layout(lay, "multi", "--all")
    want = descs["amd64"]["digest"]
    p = pull(img, f"{registry.addr}/multi:latest")
    assert p.returncode == 0, p.stderr
    assert names(img) == {f"{registry.addr}/multi:latest": want}
    # Pinned to the index digest: the index is verified, then amd64 picked.
    p = pull(img, f"{registry.addr}/multi@{idx['digest']}")
    assert p.returncode == 0, p.stderr
    assert names(img)[f"{registry.addr}/multi@{idx['digest']}"] == want
    root = json.loads(img.ok("resolve", f"{registry.addr}/multi:latest"))["rootfs"]
    assert open(os.path.join(root, "arch")).read() == "amd64"


def test_plain_http_to_remote_refused_before_io(img):
    # 203.0.113.0/24 is TEST-NET-3: refused while parsing, no connect.
    p = pull(img, "http://203.0.113.1:5000/bb:latest")
    one_error(p, "plain HTTP is allowed only for loopback registries or with --insecure-registry")
    p = pull(img, "--insecure-registry", "198.51.100.7", "http://203.0.113.1/bb:latest")
    one_error(p, "--insecure-registry 203.0.113.1")
    one_error(pull(img, "127.0.0.1:1/Bad:x"), "invalid repository")
    one_error(pull(img, "--creds", "nocolon", "127.0.0.1:1/bb"), "USER:PASS")


class TokenProxy(http.server.ThreadingHTTPServer):
    """A registry front end that demands a bearer token (distribution's token
    auth: 401 + WWW-Authenticate, token from the realm with basic creds)."""


def make_proxy(upstream):
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            port = self.server.server_address[1]
            if self.path.startswith("/token"):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                seen.append((q, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
                    return self.reply(401)
                return self.reply(200, json.dumps({"token": "tok123"}).encode())
            if self.headers.get("Authorization") != "Bearer tok123":
                return self.reply(401, b"{}", [("WWW-Authenticate",
                                                f'Bearer realm="http://127.0.0.1:{port}/token",'
                                                'service="moat-test",scope="repository:bb:pull"')])
            req = urllib.request.Request(f"http://{upstream}{self.path}")
            if self.headers.get("Accept"):
                req.add_header("Accept", self.headers["Accept"])
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    body, code, hdrs = r.read(), r.status, r.headers
            except urllib.error.HTTPError as e:
                body, code, hdrs = e.read(), e.code, e.headers
            self.reply(code, body, [(k, hdrs[k]) for k in ("Content-Type", "Docker-Content-Digest") if hdrs.get(k)])

    srv = TokenProxy(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, seen


def test_bearer_token_auth(registry, img):
    srv, seen = make_proxy(registry.addr)
    addr = f"127.0.0.1:{srv.server_address[1]}"
    try:
        one_error(pull(img, f"{addr}/bb:latest"), "HTTP 401")
        p = pull(img, "--creds", "u:p", f"{addr}/bb:latest")
        assert p.returncode == 0, p.stderr
        q, auth = seen[-1]
        assert q == {"service": ["moat-test"], "scope": ["repository:bb:pull"]} and auth.startswith("Basic ")
        # The same credentials from the environment.
        img.ok("rm", f"{addr}/bb:latest")
        ENV["MOAT_REGISTRY_AUTH"] = "u:p"
        try:
            p = pull(img, f"{addr}/bb:latest")
        finally:
            del ENV["MOAT_REGISTRY_AUTH"]
        assert p.returncode == 0, p.stderr
        assert names(img) == {f"{addr}/bb:latest": registry.bb[0]}
    finally:
        srv.shutdown()
        srv.server_close()


def test_progress_only_on_a_terminal(registry, img):
    """Downloads and unpacks show layer n/m, bytes and rate on a terminal;
    not on a pipe (the pulls above assert their exact stdout and stderr)."""
    import shlex
    import shutil
    script = shutil.which("script")
    assert script, "util-linux `script` is needed to give moat-image a terminal"
    ref = f"{registry.addr}/bb:latest"
    cmd = " ".join(shlex.quote(a) for a in [MOAT_BIN, "pull", "--root-images", img.root, ref])
    cmd += " && " + " ".join(shlex.quote(a) for a in [MOAT_BIN, "image", "--root-images", img.root,
                                                       "unpack", ref])
    p = subprocess.run([script, "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    out = p.stdout.replace("\r", "\n")
    assert p.returncode == 0, (out, p.stderr)
    assert "layer 1/1:" in out and "MiB/s" in out, out
    assert "unpacked layer 1/1:" in out, out
    # Without a terminal: no progress at all.
    q = pull(img, ref)
    assert q.returncode == 0 and "MiB/s" not in q.stdout + q.stderr, q
