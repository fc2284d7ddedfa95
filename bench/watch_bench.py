#!/usr/bin/python3
"""Does `moat watch` keep up with a busy Docker host?

Usage:

    /usr/bin/python3 bench/watch_bench.py [--rates 100,300,1000] [--seconds 10]

  MOAT_BIN   the moat binary (default /work/main/build/moat)

A fake Engine API (tests/fake_engine.py) on a unix socket emits container
`start` events at each RATE per second for SECONDS, paced against the
clock, and answers every inspect with a realistic document (every fourth
container a violator).  `moat watch --output json` follows it; each of its
records carries the event's timeNano and the time it was written, so:

  processed/s  records written / (last record - first event), the rate watch
               sustained;
  lag          record time - event time: p50, p99 and max (ms).  A watch
               that does not keep up shows a lag that grows over the run.
  CPU          watch's user+system time per event (/proc/PID/stat): what
               one event costs it, inspect round trip and rules included.
               When processed/s falls below the offered rate while this
               stays flat, the Python fake (one thread per inspect, one GIL)
               is what saturated, not watch.

Both ends share the 2 cores with everything else on the host: the load
average is printed with the results.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from fake_engine import FakeEngine, WatchProc, event, inspect_doc  # noqa: E402

MOAT = os.environ.get("MOAT_BIN", "/work/main/build/moat")


def cpu_seconds(pid):
  with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(rate, seconds):
  d = tempfile.mkdtemp(prefix="moat-wbench-", dir="/tmp")
  sock = os.path.join(d, "docker.sock")
  eng = FakeEngine(sock)
  n = rate * seconds
  ids = ["%064x" % (i + 1) for i in range(n)]
  for i, cid in enumerate(ids):
    eng.add(inspect_doc(cid, f"c{i}", cap_add=["SYS_ADMIN"] if i % 4 == 0 else [],
                        memory=64 << 20, pids=100, running=False))
  w = WatchProc(MOAT, "--docker-host", "unix://" + sock, "--output", "json")
  try:
    w.wait_record(lambda r: r["event"] == "connected", "connected")
    t0 = time.monotonic()
    for i, cid in enumerate(ids):
      # Pace against the clock: a slow sender catches up in bursts.
      delay = t0 + i / rate - time.monotonic()
      if delay > 0:
        time.sleep(delay)
      eng.push(event(cid, "start", f"c{i}"))
    last = ids[-1]
    w.wait_record(lambda r: r.get("id") == last, "the last record",
                  timeout=seconds * 20 + 30)
    cpu = cpu_seconds(w.proc.pid)
  finally:
    w.stop()
    eng.close()
    os.rmdir(d)
  recs = [r for r in w.records() if r.get("event") == "start"]
  assert len(recs) == n, f"{len(recs)} records for {n} events"
  lags = sorted((r["time_nano"] - r["event_time_nano"]) / 1e6 for r in recs)
  span = (recs[-1]["time_nano"] - recs[0]["event_time_nano"]) / 1e9
  denied = sum(r["verdict"] == "deny" for r in recs)
  assert denied == (n + 3) // 4, denied
  return {
      "rate": rate, "events": n, "processed_per_s": n / span,
      "p50": statistics.median(lags), "p99": lags[int(len(lags) * 0.99) - 1],
      "max": lags[-1], "cpu_us": cpu / n * 1e6,
  }


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--rates", default="100,300,1000")
  ap.add_argument("--seconds", type=int, default=10)
  a = ap.parse_args()
  print(f"moat: {MOAT}; load average before: {os.getloadavg()}")
  print("| offered events/s | events | processed/s | lag p50 ms | lag p99 ms | lag max ms | watch CPU us/event |")
  print("|---|---|---|---|---|---|---|")
  for rate in (int(x) for x in a.rates.split(",")):
    r = run(rate, a.seconds)
    print(f"| {r['rate']} | {r['events']} | {r['processed_per_s']:.0f} | "
          f"{r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f} | {r['cpu_us']:.0f} |",
          flush=True)
  print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
  main()
