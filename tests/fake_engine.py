"""A tiny fake Docker Engine API on a unix socket, for `moat watch` and
`moat audit --docker-host` without a daemon (tests/integration/test_watch.py,
bench/watch_bench.py), and a helper that runs `moat watch` and reads its log.

The server writes its HTTP by hand so that a test decides exactly how the
event stream is framed: chunk boundaries inside a JSON line, a stream that
ends, a malformed response.
"""

import json
import os
import queue
import socket
import socketserver
import subprocess
import threading
import time
import urllib.parse


def inspect_doc(cid, name, *, privileged=False, cap_add=(), binds=(),
                memory=0, pids=None, running=True, image="localhost/bb:latest"):
  """A `docker inspect` object as dockerd 20.10 writes it, trimmed to what
  the adapter reads."""
  return {
      "Id": cid, "Name": "/" + name, "Image": "sha256:" + "0" * 64,
      "State": {"Status": "running" if running else "created",
                "Running": running},
      "Config": {"Image": image, "User": "", "Labels": {}},
      "HostConfig": {"Privileged": privileged, "CapAdd": list(cap_add),
                     "CapDrop": None, "Binds": list(binds),
                     "Memory": memory, "PidsLimit": pids, "CpuShares": 0,
                     "NanoCpus": 0, "SecurityOpt": None,
                     "ReadonlyRootfs": False, "NetworkMode": "none"},
      "Mounts": [{"Type": "bind", "Source": b.split(":")[0],
                  "Destination": b.split(":")[1], "RW": True,
                  "Propagation": "rprivate"} for b in binds],
  }


def event(cid, action, name, t_nano=None, docker_spelling=True):
  t = t_nano or time.time_ns()
  if not docker_spelling:  # the pre-1.22 spelling: status/id/from only
    return {"status": action, "id": cid, "from": "localhost/bb:latest",
            "time": t // 10**9}
  return {"status": action, "id": cid, "from": "localhost/bb:latest",
          "Type": "container", "Action": action,
          "Actor": {"ID": cid, "Attributes": {"image": "localhost/bb:latest",
                                              "name": name}},
          "scope": "local", "time": t // 10**9, "timeNano": t}


class FakeEngine:
  """Serves /_ping, /containers/json, /containers/ID/json,
  /containers/ID/stop and a streamed /events on `sock`."""

  def __init__(self, sock):
    self.sock = sock
    self.containers = {}        # id -> inspect document
    self.stops = []             # ids stopped, in order
    self.event_requests = []    # query dicts of each /events request
    self.split = None           # None: one chunk per event; N: N-byte chunks
    self.events_reply = None    # raw bytes to answer /events with instead
    self.inspect_reply = {}     # id -> raw body for a broken inspect answer
    self._streams = []
    self._lock = threading.Lock()
    engine = self

    class Handler(socketserver.StreamRequestHandler):
      def handle(self):
        engine._handle(self.rfile, self.wfile)

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
      daemon_threads = True

    self.server = Server(sock, Handler)
    self.thread = threading.Thread(target=self.server.serve_forever,
                                   daemon=True)
    self.thread.start()

  # -- state a test drives ------------------------------------------------

  def add(self, doc):
    self.containers[doc["Id"]] = doc

  def push(self, ev):
    """Send one event (a dict, or raw bytes) to every open /events stream."""
    line = ev if isinstance(ev, bytes) else (json.dumps(ev) + "\n").encode()
    with self._lock:
      streams = list(self._streams)
    for q in streams:
      q.put(line)
    return len(streams)

  def end_streams(self, clean=True):
    """End every open stream: with the terminating chunk, or by closing."""
    with self._lock:
      streams = list(self._streams)
    for q in streams:
      q.put(b"" if clean else None)

  def n_streams(self):
    with self._lock:
      return len(self._streams)

  def wait_streams(self, n, timeout=20):
    deadline = time.monotonic() + timeout
    while self.n_streams() < n:
      if time.monotonic() > deadline:
        raise AssertionError(f"no {n} /events stream(s) within {timeout}s "
                             f"(requests: {self.event_requests})")
      time.sleep(0.01)

  def close(self):
    self.end_streams(clean=False)
    self.server.shutdown()
    self.server.server_close()
    try:
      os.unlink(self.sock)
    except FileNotFoundError:
      pass

  # -- HTTP ---------------------------------------------------------------

  def _handle(self, rfile, wfile):
    line = rfile.readline(8192).decode()
    while True:
      h = rfile.readline(8192)
      if h in (b"\r\n", b"\n", b""):
        break
    parts = line.split()
    if len(parts) < 2:
      return
    method, target = parts[0], parts[1]
    url = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(url.query))
    path = url.path
    if path == "/events":
      return self._events(wfile, query)
    if path == "/_ping":
      return self._reply(wfile, 200, b"OK", "text/plain")
    if path == "/containers/json":
      docs = [d for d in self.containers.values()
              if query.get("all") == "1" or d["State"]["Running"]]
      return self._json(wfile, 200, [{"Id": d["Id"], "Names": [d["Name"]]}
                                     for d in docs])
    seg = path.split("/")
    if len(seg) == 4 and seg[1] == "containers":
      cid, what = seg[2], seg[3]
      if cid in self.inspect_reply and what == "json":
        return self._reply(wfile, 200, self.inspect_reply[cid])
      doc = self.containers.get(cid)
      if doc is None:
        return self._json(wfile, 404, {"message": f"No such container: {cid}"})
      if what == "json" and method == "GET":
        return self._json(wfile, 200, doc)
      if what == "stop" and method == "POST":
        self.stops.append(cid)
        if not doc["State"]["Running"]:
          return self._reply(wfile, 304, b"")
        doc["State"]["Running"] = False
        return self._reply(wfile, 204, b"")
    return self._json(wfile, 404, {"message": "page not found"})

  def _reply(self, wfile, status, body, ctype="application/json"):
    head = (f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    if status in (204, 304):
      head = f"HTTP/1.1 {status} X\r\n\r\n".encode()
      body = b""
    wfile.write(head + body)

  def _json(self, wfile, status, obj):
    self._reply(wfile, status, json.dumps(obj).encode())

  def _events(self, wfile, query):
    self.event_requests.append(query)
    if self.events_reply is not None:
      wfile.write(self.events_reply)
      return
    q = queue.Queue()
    # Registered before the head goes out: once the client has the head, a
    # test's push() or end_streams() reaches this stream.
    with self._lock:
      self._streams.append(q)
    try:
      wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
      wfile.flush()
      while True:
        data = q.get()
        if data is None:     # abrupt end: no terminating chunk
          return
        if data == b"":
          wfile.write(b"0\r\n\r\n")
          return
        step = self.split or len(data)
        out = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + step]),
                                          data[i:i + step])
                       for i in range(0, len(data), step))
        wfile.write(out)
        wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
      return
    finally:
      with self._lock:
        self._streams.remove(q)


class WatchProc:
  """`moat watch` running in the background; its stderr lines are collected
  by a thread so that a test can wait for the one it expects."""

  def __init__(self, moat_bin, *args, env=None, prefix=()):
    self.argv = [*prefix, moat_bin, "watch", *args]
    self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env)
    self.lines = []
    self._cond = threading.Condition()
    self.reader = threading.Thread(target=self._read, daemon=True)
    self.reader.start()

  def _read(self):
    for raw in self.proc.stderr:
      with self._cond:
        self.lines.append(raw.decode(errors="replace").rstrip("\n"))
        self._cond.notify_all()
    with self._cond:
      self._cond.notify_all()

  def records(self):
    """The JSON lines (with --output json)."""
    with self._cond:
      lines = list(self.lines)
    out = []
    for l in lines:
      try:
        out.append(json.loads(l))
      except ValueError:
        pass
    return out

  def wait_for(self, pred, what, timeout=30, start=0):
    """The first line (index >= start) for which pred(line) holds."""
    deadline = time.monotonic() + timeout
    with self._cond:
      while True:
        for i in range(start, len(self.lines)):
          if pred(self.lines[i]):
            return i, self.lines[i]
        if self.proc.poll() is not None and not self.reader.is_alive():
          raise AssertionError(f"watch exited ({self.proc.returncode}) "
                               f"before {what}:\n" + "\n".join(self.lines))
        left = deadline - time.monotonic()
        if left <= 0:
          raise AssertionError(f"no {what} within {timeout}s:\n"
                               + "\n".join(self.lines))
        self._cond.wait(min(left, 0.5))

  def wait_record(self, pred, what, timeout=30):
    def p(line):
      try:
        return pred(json.loads(line))
      except ValueError:
        return False
    return json.loads(self.wait_for(p, what, timeout)[1])

  def stop(self, sig=15, timeout=20):
    if self.proc.poll() is None:
      self.proc.send_signal(sig)
      try:
        self.proc.wait(timeout=timeout)
      except subprocess.TimeoutExpired:
        self.proc.kill()
        self.proc.wait(timeout=10)
        raise AssertionError("watch did not exit on signal %d" % sig)
    self.reader.join(timeout=10)
    return self.proc.returncode
