"""Fixtures for the escape-class property tests (the shared ones come from
tests/conftest.py, the helpers from tests/moat_testlib.py)."""

import pytest


@pytest.fixture
def hostile_scan_loop():
    """args for a pid 1 that scans every process it can see, in a loop."""
    return ["/bin/sh", "-c", "echo ready; while :; do /bin/moat-probe scan; done"]
