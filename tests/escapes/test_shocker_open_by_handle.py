"""Shocker (Docker < 1.0, 2014): CAP_DAC_READ_SEARCH is not in the bounding
set and open_by_handle_at is refused."""

from moat_testlib import CAP_BITS, run_probe


def test_open_by_handle_at_refused(moat, bundle):
    st = run_probe(moat, bundle, "status")
    assert not int(st["CapBnd"], 16) & (1 << CAP_BITS["CAP_DAC_READ_SEARCH"])
    res = run_probe(moat, bundle, "syscall", "open_by_handle_at")
    assert res["open_by_handle_at"] == "EPERM", res
    res = run_probe(moat, bundle, "syscall", "open_by_handle_at", seccomp=False)
    assert res["open_by_handle_at"] == "EPERM", res
