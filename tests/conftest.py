"""Fixtures for moat's black-box suites (tests/integration, tests/escapes).

Everything drives the runtime binary exactly as a container engine would:
through its runc-compatible CLI, with a fresh --root per test, on a busybox
bundle that also holds the static `moat-probe`.  The teardown of the `moat`
fixture force-deletes every container the test created and then asserts that
nothing is left behind: no state dir, no cgroup, no mount, no process.
Helpers shared with the tests live in moat_testlib.py (a module with a unique
name: several conftest.py files exist under tests/).
"""

import itertools
import os
import shutil
import subprocess
import tempfile

import pytest

from moat_testlib import (MOAT_BIN, PROBE_SRC, Bundle, Moat, _ensure_busybox,
                          _scrub, assert_nothing_left, build_rootfs,
                          make_config, plausible_id)

# The image store's `env` fixture (a store plus a host canary tree that must
# stay byte-identical), shared by tests/integration and tests/escapes.
pytest_plugins = ["moat_imagelib"]

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def base_dir():
    d = tempfile.mkdtemp(prefix="moat-itest.", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def probe_bin(base_dir):
    """The static probe: $MOAT_PROBE if given, else compiled here (loudly
    failing if it cannot be)."""
    given = os.environ.get("MOAT_PROBE")
    if given:
        if not os.access(given, os.X_OK):
            pytest.fail(f"MOAT_PROBE={given} is not executable")
        return given
    out = os.path.join(base_dir, "moat-probe")
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        pytest.fail("no C compiler to build tests/probe/probe.c (apt-get install gcc)")
    r = subprocess.run([cc, "-static", "-O2", "-Wall", "-o", out, PROBE_SRC],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        pytest.fail(f"building the probe failed:\n{r.stderr}")
    return out


@pytest.fixture(scope="session")
def rootfs_template(base_dir, probe_bin):
    _ensure_busybox()
    return build_rootfs(os.path.join(base_dir, "rootfs-template"), probe_bin)


@pytest.fixture
def test_dir(base_dir):
    d = os.path.join(base_dir, f"t{next(_counter):03d}")
    os.makedirs(d)
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def make_bundle(test_dir, rootfs_template):
    """make_bundle(**config_knobs) -> Bundle with its config.json written."""
    n = itertools.count(1)

    def make(name=None, **knobs):
        path = os.path.join(test_dir, name or f"bundle{next(n)}")
        os.makedirs(path)
        os.chmod(path, 0o755)
        shutil.copytree(rootfs_template, os.path.join(path, "rootfs"),
                        symlinks=True)
        b = Bundle(path, make_config(**knobs))
        return b.write()

    return make


@pytest.fixture
def bundle(make_bundle):
    return make_bundle()


@pytest.fixture
def moat(test_dir):
    if not (os.path.isfile(MOAT_BIN) and os.access(MOAT_BIN, os.X_OK)):
        pytest.fail(f"runtime under test {MOAT_BIN} does not exist or is not executable")
    m = Moat(test_dir)
    yield m
    for p in m.procs:
        if p.poll() is None:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    problems = []
    for cid in m.ids:
        try:
            r = m("delete", "--force", cid, timeout=30)
        except AssertionError as e:  # a hung delete is a finding, not a crash
            problems.append(str(e))
            continue
        if r.rc != 0 and plausible_id(cid):
            problems.append(f"delete --force {cid!r} failed: {r}")
    for p in m.procs:
        if p.poll() is None:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                problems.append(f"{p.args} still running after delete --force")
    for cid in [c for c in m.ids if plausible_id(c)] or [None]:
        try:
            assert_nothing_left(m, cid)
        except AssertionError as e:
            problems.append(str(e))
            _scrub(m, cid)
    if problems:
        pytest.fail("teardown: " + "; ".join(problems), pytrace=False)

