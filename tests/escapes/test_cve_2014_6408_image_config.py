"""CVE-2014-6408 (Docker <= 1.3.1, "security options applied to image could
lead to container escalation") and its newer analogue CVE-2026-53488
(containerd: an image LABEL selected a `binary://` logger, host command exec).

Property (security-anchors.md section 4): image metadata never widens
privileges or selects a host-side helper; only operator flags may.  An image
whose config, labels and stray top-level keys ask for privileged, extra
capabilities, seccomp/AppArmor/SELinux/Landlock changes, host namespaces,
devices, mounts, sysctls, moat's own annotations or a logger binary yields a
spec (`moat run --print-spec IMAGE`) identical to that of a clean image with
the same Entrypoint/Cmd/Env/User/WorkingDir/ExposedPorts/Volumes (only
root.path, the image's own rootfs, may differ); and the kernel's view from
inside the two containers (caps, seccomp mode, no_new_privs, id maps,
hostname) is the same.  `test_config_never_widens_privileges` moved here from
tests/integration/test_image.py: the image tool itself passes nothing but
process settings on."""

import json
import os
import stat

from moat_imagelib import (Img, front_end, oci_layout, probe_image_layer,
                           tar_layer)

# What both images share: the keys the front end may take from an image.
BASE = {"Entrypoint": ["/bin/moat-probe"], "Cmd": ["status"],
        "Env": ["PATH=/bin", "FROM_IMAGE=yes"], "User": "0", "WorkingDir": "/tmp",
        "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}}


def hostile_config(logger):
    """BASE plus every privilege request an image could carry, in the
    places Docker, podman, containerd and CRI-O ever looked for them."""
    asks = {
        "Privileged": True, "CapAdd": ["ALL", "CAP_SYS_ADMIN"], "CapDrop": [],
        "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined", "label=disable",
                        "no-new-privileges=false", "landlock=off", "systempaths=unconfined"],
        "Devices": ["/dev/sda:/dev/sda:rwm"], "Mounts": ["/:/host"], "Binds": ["/:/host"],
        "NetworkMode": "host", "PidMode": "host", "IpcMode": "host", "UsernsMode": "host",
        "Sysctls": {"kernel.core_pattern": "|/tmp/x"}, "ReadonlyRootfs": False,
        "LogConfig": {"Type": "binary", "Config": {"path": logger}},
        "Hostname": "evil", "Ulimits": [{"Name": "nofile", "Soft": 1 << 20, "Hard": 1 << 20}],
    }
    labels = {
        "io.containerd.runtime.v2.logger": f"binary://{logger}",
        "com.docker.log-driver": f"binary://{logger}",
        "org.moat.rootfs.idmap": "off", "org.moat.privileged": "true",
        "io.podman.annotations.privileged": "TRUE", "io.podman.annotations.seccomp": "unconfined",
        "io.kubernetes.cri-o.userns-mode": "host", "run.oci.keep_original_groups": "1",
        "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
        "container.apparmor.security.beta.kubernetes.io/x": "unconfined",
    }
    cfg = dict(BASE, **asks, Labels=labels, HostConfig=dict(asks))
    top = {"container_config": dict(asks), "HostConfig": dict(asks),
           "os.features": ["privileged"]}
    return cfg, top


def make_images(test_dir, rootfs_template, logger):
    store = os.path.join(test_dir, "store")
    img = Img(store)
    layer = probe_image_layer(rootfs_template, [("data/", "d", b"", 0o777)])
    lay = os.path.join(test_dir, "layout-clean")
    oci_layout(lay, [layer], name="clean/img:1", config_extra={"config": dict(BASE)})
    img.ok("load", lay)
    cfg, top = hostile_config(logger)
    lay = os.path.join(test_dir, "layout-hostile")
    oci_layout(lay, [layer], name="hostile/img:1", config_extra=dict(top, config=cfg))
    img.ok("load", lay)
    return store


def logger_bait(test_dir):
    """A host executable a logger label names: it leaves a marker if run."""
    marker = os.path.join(test_dir, "logger-ran")
    path = os.path.join(test_dir, "logger-bait")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho \"$0 $*\" >> {marker}\ncat >/dev/null\n")
    os.chmod(path, 0o755)
    return path, marker


def print_spec(moat, store, image):
    r = front_end(moat, "--root-images", store, "--print-spec", image)
    assert r.rc == 0, r
    return json.loads(r.out)


def test_hostile_image_spec_equals_clean(moat, test_dir, rootfs_template):
    logger, marker = logger_bait(test_dir)
    store = make_images(test_dir, rootfs_template, logger)
    clean = print_spec(moat, store, "clean/img:1")
    hostile = print_spec(moat, store, "hostile/img:1")
    # The front end did take the image's process settings (so the equality
    # below is not two defaults compared).
    assert clean["process"]["args"] == ["/bin/moat-probe", "status"], clean["process"]
    assert "FROM_IMAGE=yes" in clean["process"]["env"] and clean["process"]["cwd"] == "/tmp"
    for doc in (clean, hostile):
        assert os.path.isdir(doc["root"]["path"]) and doc["root"]["path"].startswith(store + "/")
        doc["root"].pop("path")
    assert hostile == clean, "image metadata changed the spec:\n" + json.dumps(
        {k: (clean.get(k), hostile.get(k)) for k in set(clean) | set(hostile)
         if clean.get(k) != hostile.get(k)}, indent=1)[:4000]
    flat = json.dumps(hostile)
    for needle in ("binary://", logger, "kernel.core_pattern", "/dev/sda", "unconfined", "evil"):
        assert needle not in flat, f"{needle!r} reached the spec"
    assert not os.path.exists(marker)


def test_hostile_image_kernel_view_equals_clean(moat, test_dir, rootfs_template):
    """What the kernel reports inside: the same caps, seccomp mode,
    no_new_privs, id maps and hostname for both images; and a
    detached container of the hostile image runs no logger binary."""
    logger, marker = logger_bait(test_dir)
    store = make_images(test_dir, rootfs_template, logger)
    seen = {}
    for image in ("clean/img:1", "hostile/img:1"):
        r = front_end(moat, "--rm", "--root-images", store, image)
        assert r.rc == 0, r
        st = json.loads([x for x in r.out.splitlines() if x.startswith("{")][-1])
        seen[image] = {k: st.get(k) for k in ("uid", "gid", "cwd", "CapEff", "CapPrm", "CapBnd",
                                              "CapInh", "CapAmb", "Seccomp", "NoNewPrivs",
                                              "uid_map", "gid_map", "hostname")}
    assert seen["clean/img:1"]["Seccomp"] == "2" and seen["clean/img:1"]["NoNewPrivs"] == "1"
    assert int(seen["clean/img:1"]["CapBnd"], 16) & (1 << 21) == 0  # no CAP_SYS_ADMIN
    assert seen["hostile/img:1"] == seen["clean/img:1"]
    # Detached: the monitor's log config is the engine's, never the label's.
    name = "hostile-d"
    r = front_end(moat, "-d", "--name", name, "--root-images", store, "hostile/img:1", "status")
    assert r.rc == 0, r
    try:
        ins = moat("inspect", name).ok().json[0]
        assert ins["HostConfig"]["LogConfig"]["Type"] == "cri-file", ins["HostConfig"]
        assert logger not in json.dumps(ins)
    finally:
        moat("rm", "-f", name, timeout=60)
    assert not os.path.exists(marker), open(marker).read()


def test_config_never_widens_privileges(env):
    """moat-image's `resolve` hands the front end only process settings."""
    tmp, img, _ = env
    lay = str(tmp / "layout")
    oci_layout(lay, [tar_layer([("f", "f", b"1")])], config_extra={"config": {
        "Cmd": ["/x"], "User": "1000", "Privileged": True, "CapAdd": ["ALL"],
        "SecurityOpt": ["seccomp=unconfined"], "Devices": ["/dev/sda"], "Mounts": ["/:/host"],
        "Labels": {"a": "b"}}})
    img.ok("load", lay)
    out = json.loads(img.ok("resolve", "test/img:1"))
    assert out["config"] == {"Cmd": ["/x"], "User": "1000", "Labels": {"a": "b"}}
    assert stat.S_ISDIR(os.lstat(out["rootfs"]).st_mode)
