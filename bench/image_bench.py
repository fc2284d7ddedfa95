#!/usr/bin/python3
"""Image benchmarks: unpacking a large layer and verifying digests.

Usage (as root):

    /usr/bin/python3 bench/image_bench.py [--mb 150] [--rounds 3] [--baseline OTHER_MOAT]
                                          [--append docs/performance.md]

  MOAT_BIN   the moat binary (default /work/main/build/moat); moat-image is
             found beside it (or in src/image/ of a build tree).
  --baseline a second moat binary whose unpack is measured in the same
             rounds (a row "moat image unpack (baseline)").

The unpack rows are measured in interleaved rounds (each round runs every
tool once, in turn), and the trees they make are moved aside, not deleted,
until the end: on ext4 without a journal (this VM's root), creating inodes
right after thousands were deleted makes the allocator skip the recently
deleted ones one by one (recently_deleted() in fs/ext4/ialloc.c), which
made every tool's file creation several times slower and the figures
mostly noise.  Run the bench a few minutes after deleting large trees on
the same file system for the same reason.

What is measured (median of --rounds, page cache warm, same disk):
  unpack     one uncompressed layer of about --mb MB (many small files: 4 KiB
             to 32 KiB, plus a few 16 MiB files) unpacked by
             `moat image unpack` (every check on: fd-based writes, whiteout
             bookkeeping, limits, the blob's digest re-verified while read,
             the tree's syncfs left to a detached child, as docs/images.md
             says) vs `tar -x` and
             `tar -x && sync` (GNU tar, no checks) vs `umoci raw unpack`;
             load + unpack of the same oci-archive: moat vs `podman load`
             (if installed).  Also the gzip-compressed layer vs `tar -xzf`.
  digest     `moat image fsck` over the store holding the layer blob
             (streamed SHA-256 through OpenSSL EVP) vs `sha256sum` of the
             same file.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

MOAT = os.environ.get("MOAT_BIN", "/work/main/build/moat")


def make_layer(path, mb):
    rnd = random.Random(42)
    big = 3
    small_budget = (mb - big * 16) << 20
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        n = 0
        d = 0
        while small_budget > 0:
            if n % 100 == 0:
                d += 1
                ti = tarfile.TarInfo(f"usr/share/d{d}")
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            size = rnd.choice((4096, 8192, 16384, 32768))
            ti = tarfile.TarInfo(f"usr/share/d{d}/f{n}")
            ti.size = size
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(rnd.randbytes(size)))
            small_budget -= size
            n += 1
        for i in range(big):
            ti = tarfile.TarInfo(f"opt/big{i}")
            ti.size = 16 << 20
            t.addfile(ti, io.BytesIO(rnd.randbytes(16 << 20)))
    return n + big


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def write_layout(layout, layer_path, gz):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    raw = open(layer_path, "rb").read()
    blob = gzip.compress(raw, compresslevel=1, mtime=0) if gz else raw

    def put(b):
        d = sha(b)
        with open(os.path.join(layout, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(b)
        return d
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [sha(raw)]}}).encode()
    ld = put(blob)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": put(cfg), "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else ""),
                                  "digest": ld, "size": len(blob)}]}).encode()
    md = put(man)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(man),
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    return os.path.join(layout, "blobs", "sha256", ld[7:]), md


def cpu_children():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv, setup=None, rounds=3, shell=False):
    """Median wall time and median CPU time (user + system) of ARGV."""
    ts, cpu = [], []
    for _ in range(rounds):
        if setup:
            setup()
        subprocess.run(["sync"])
        c0 = cpu_children()
        t0 = time.perf_counter()
        r = subprocess.run(argv, shell=shell, capture_output=True, text=True)
        ts.append(time.perf_counter() - t0)
        cpu.append(cpu_children() - c0)
        if r.returncode != 0:
            sys.exit(f"{argv} failed: {r.stderr}")
    return statistics.median(ts), statistics.median(cpu)


def interleaved(tools, rounds):
    """Median wall and CPU time per tool; TOOLS: (label, argv, setup, shell),
    each round running every tool once, in turn."""
    ts = {t[0]: [] for t in tools}
    cpu = {t[0]: [] for t in tools}
    for _ in range(rounds):
        for label, argv, setup, shell in tools:
            if setup:
                setup()
            subprocess.run(["sync"])
            c0 = cpu_children()
            t0 = time.perf_counter()
            r = subprocess.run(argv, shell=shell, capture_output=True, text=True)
            ts[label].append(time.perf_counter() - t0)
            cpu[label].append(cpu_children() - c0)
            if r.returncode != 0:
                sys.exit(f"{argv} failed: {r.stderr}")
    return {t[0]: (statistics.median(ts[t[0]]), statistics.median(cpu[t[0]])) for t in tools}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", help="a second moat binary whose unpack is measured alongside")
    ap.add_argument("--append")
    args = ap.parse_args()
    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix="moat-image-bench.", dir="/var/tmp")
    try:
        layer = os.path.join(work, "layer.tar")
        n = make_layer(layer, args.mb)
        size = os.path.getsize(layer)
        rows = []
        for gz in (False, True):
            lay = os.path.join(work, "layout-gz" if gz else "layout")
            blob, md = write_layout(lay, layer, gz)
            store = os.path.join(work, "store")
            shutil.rmtree(store, ignore_errors=True)
            img = [MOAT, "image", "--root-images", store]
            r = subprocess.run(img + ["load", "--name", "bench:1", lay], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(r.stderr)
            rootfs = os.path.join(store, "rootfs", md[7:])
            dest = os.path.join(work, "dest")
            trash = os.path.join(work, "trash")
            os.makedirs(trash, exist_ok=True)

            def aside(path):
                """Move PATH into the trash (deleted at the end, see above)."""
                if os.path.lexists(path):
                    os.rename(path, os.path.join(trash, f"{len(os.listdir(trash))}"))

            def clean_moat():
                aside(rootfs)

            def clean_dest():
                aside(dest)
                os.makedirs(dest)
            kind = "gzip" if gz else "tar"
            taropt = "-xzf" if gz else "-xf"
            tools = [("moat image unpack", img + ["unpack", "bench:1"], clean_moat, False)]
            if args.baseline:
                tools.append(("moat image unpack (baseline)",
                              [args.baseline, "image", "--root-images", store, "unpack", "bench:1"], clean_moat, False))
            tools += [(f"tar {taropt}", ["tar", "-C", dest, taropt, blob], clean_dest, False),
                      (f"tar {taropt} && sync", f"tar -C {dest} {taropt} {blob} && sync", clean_dest, True)]
            if shutil.which("umoci"):
                ub = os.path.join(work, "umoci")
                tools.append(("umoci raw unpack", ["umoci", "raw", "unpack", "--image", f"{lay}:bench", ub],
                              lambda: aside(ub), False))
            res = interleaved(tools, args.rounds)
            rows += [(f"unpack ({kind})", t[0], res[t[0]]) for t in tools]
            # Load + unpack from the same oci-archive, each round into a fresh
            # store: moat vs podman (whose load stores and extracts layers).
            archive = os.path.join(work, f"oci-{kind}.tar")
            subprocess.run(["tar", "-C", lay, "-cf", archive, "."], check=True)
            store2 = os.path.join(work, "store2")
            rows.append((f"load+unpack ({kind})", "moat image load + unpack",
                         timed(f"{MOAT} image --root-images {store2} load --name bench:1 {archive} >/dev/null && "
                               f"{MOAT} image --root-images {store2} unpack bench:1 >/dev/null",
                               lambda: aside(store2), args.rounds, shell=True)))
            if shutil.which("podman"):
                pr = os.path.join(work, "podman")
                pod = ["podman", "--root", pr + "/root", "--runroot", pr + "/run"]

                def fresh_podman():
                    if os.path.isdir(pr):
                        subprocess.run(pod + ["system", "reset", "-f"], capture_output=True)
                    shutil.rmtree(pr, ignore_errors=True)
                rows.append((f"load+unpack ({kind})", "podman load",
                             timed(pod + ["load", "-q", "-i", archive], fresh_podman, args.rounds)))
                fresh_podman()
            if not gz:
                rows.append(("digest", "moat image fsck", timed(img + ["fsck"], None, args.rounds)))
                rows.append(("digest", "sha256sum", timed(["sha256sum", blob], None, args.rounds)))
        shutil.rmtree(os.path.join(work, "store"), ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mb = size / 1e6
    load_after = os.getloadavg()
    out = [f"Layer: {n} entries, {mb:.0f} MB uncompressed; median of {args.rounds} rounds, warm cache; "
           f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.", "",
           "| what | tool | wall s | MB/s | CPU s (user+sys) |", "|---|---|---:|---:|---:|"]
    for what, tool, (t, c) in rows:
        out.append(f"| {what} | {tool} | {t:.2f} | {mb / t:.0f} | {c:.2f} |")
    # speed of moat's unpack relative to each other unpacker of the same kind (> 1: moat faster)
    out += ["", "| unpack | vs | speed ratio, wall | CPU ratio |", "|---|---|---:|---:|"]
    for what, tool, (t, c) in rows:
        if what.startswith("unpack") and tool != "moat image unpack":
            mt, mc = next(v for w, tl, v in rows if w == what and tl == "moat image unpack")
            out.append(f"| {what} | {tool} | {t / mt:.2f}x | {c / mc:.2f}x |")
    text = "\n".join(out)
    print(text)
    if args.append:
        with open(args.append, "a") as f:
            f.write(f"\n### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: bench/image_bench.py --mb {args.mb}\n\n{text}\n")


if __name__ == "__main__":
    main()
