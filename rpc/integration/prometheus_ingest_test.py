#!/usr/bin/env python3
"""Integration test: the real Prometheus remote-writes to vigil, losslessly.

Starts node_exporter, vigil and Prometheus 2.42 on free loopback ports.
Prometheus scrapes itself and node_exporter every second and remote-writes
to vigil. After enough data has flowed, the test picks a window both have
fully, reads every raw sample Prometheus stored in it (a range-vector query
over all series) and the same window from vigil's /api/v1/export, and
asserts that every Prometheus series is in vigil with exactly the same
timestamps and values.

Usage: prometheus_ingest_test.py [VIGIL_BINARY]   (or env VIGIL_BINARY)
Optional env: PROMETHEUS_BINARY, NODE_EXPORTER_BINARY, KEEP_TMP=1, and
RECEIVER_KIND=prometheus|victoriametrics to check the test itself with a
second Prometheus (an exact receiver: must pass) or VictoriaMetrics (rounds
values to ~12 digits and drops NaN: must fail with a readable diff) in
vigil's place; pass that receiver's binary as VIGIL_BINARY.
Bounded: every wait has a deadline; the whole test stays under 2 minutes.
"""

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

TOTAL_BUDGET_S = 110  # Hard bound on the whole test.
WINDOW_S = 12         # Width of the compared window.
LAG_S = 8             # How far behind "now" the window ends.

START = time.monotonic()


def remaining():
    return TOTAL_BUDGET_S - (time.monotonic() - START)


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def find_binary(argv_value, env_name, candidates):
    for p in [argv_value, os.environ.get(env_name)] + candidates:
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.abspath(p)
    return None


class Procs:
    """Processes started by this test; all stopped by PID on exit."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, cmd):
        logf = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                             cwd=self.tmp, start_new_session=True)
        self.procs.append((name, p))
        log(f"started {name} pid {p.pid}: {' '.join(cmd)}")
        return p

    def check_alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                raise TestFailure(f"{name} exited with {p.returncode}:\n"
                                  f"{self.log_tail(name)}")

    def log_tail(self, name, n=30):
        try:
            with open(os.path.join(self.tmp, f"{name}.log"), "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop_all(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


class TestFailure(Exception):
    pass


def wait_until(what, fn, timeout, procs, interval=0.5):
    deadline = time.monotonic() + min(timeout, max(remaining(), 0))
    last_err = None
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            if fn():
                return
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as e:
            last_err = e
        time.sleep(interval)
    raise TestFailure(f"timed out waiting for {what}" +
                      (f" (last error: {last_err})" if last_err else ""))


def ready(url):
    def fn():
        status, _ = http_get(url, timeout=2)
        return status == 200
    return fn


def series_key(metric):
    return tuple(sorted(metric.items()))


def fmt_key(key):
    d = dict(key)
    name = d.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(d.items())) + "}"


def prometheus_window(base, start_ms, end_ms):
    """Every raw sample Prometheus has with start_ms < ts <= end_ms."""
    # A range selector a little wider than the window; filtered below so
    # that range boundary semantics do not matter.
    rng = (end_ms - start_ms) // 1000 + 2
    q = urllib.parse.urlencode({"query": '{__name__=~".+"}[%ds]' % rng,
                                "time": f"{end_ms / 1000:.3f}"})
    _, body = http_get(f"{base}/api/v1/query?{q}", timeout=30)
    doc = json.loads(body)
    if doc.get("status") != "success" or doc["data"]["resultType"] != "matrix":
        raise TestFailure(f"unexpected Prometheus answer: {body[:300]}")
    out = {}
    for s in doc["data"]["result"]:
        pts = [(int(round(float(t) * 1000)), float(v)) for t, v in s["values"]]
        pts = [(t, v) for t, v in pts if start_ms < t <= end_ms]
        if pts:
            out[series_key(s["metric"])] = pts
    return out


def vigil_window(base, start_ms, end_ms):
    """Every sample vigil exports with start_ms < ts <= end_ms."""
    q = urllib.parse.urlencode({"match[]": '{__name__=~".+"}',
                                "start": str(start_ms // 1000 - 1),
                                "end": str(end_ms // 1000 + 1)})
    _, body = http_get(f"{base}/api/v1/export?{q}", timeout=30)
    out = {}
    for n, line in enumerate(body.splitlines()):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)  # Python's json accepts NaN/Infinity.
            values, stamps = doc["values"], doc["timestamps"]
        except (ValueError, KeyError) as e:
            raise TestFailure(f"vigil export line {n + 1} unreadable ({e}): {line[:200]}")
        if len(values) != len(stamps):
            raise TestFailure(f"vigil export line {n + 1}: {len(values)} values "
                              f"but {len(stamps)} timestamps")
        pts = [(int(t), float(v)) for t, v in zip(stamps, values) if start_ms < int(t) <= end_ms]
        key = series_key(doc["metric"])
        if key in out:
            raise TestFailure(f"vigil exported {fmt_key(key)} twice")
        if pts:
            out[key] = pts
    return out


def same_value(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def compare(prom, vig):
    """Returns (problems, samples_compared)."""
    problems = []
    samples = 0
    for key, ppts in sorted(prom.items()):
        vpts = vig.get(key)
        if vpts is None:
            problems.append(f"missing in vigil: {fmt_key(key)} ({len(ppts)} samples)")
            continue
        # Prometheus' query API hides staleness markers; vigil may export
        # them. A NaN in vigil at a timestamp Prometheus does not show is a
        # staleness marker, not a difference.
        pts_prom = dict(ppts)
        vpts = [(t, v) for t, v in vpts if not (math.isnan(v) and t not in pts_prom)]
        samples += len(ppts)
        if len(vpts) != len(ppts) or any(
                pt != vt or not same_value(pv, vv)
                for (pt, pv), (vt, vv) in zip(ppts, vpts)):
            problems.append(f"samples differ for {fmt_key(key)}:\n"
                            f"    prometheus: {ppts}\n    vigil:      {vpts}")
    return problems, samples


def run(vigil_bin, prom_bin, node_bin, tmp):
    procs = Procs(tmp)
    try:
        node_port, vigil_port, prom_port = free_port(), free_port(), free_port()
        procs.start("node_exporter", [node_bin, f"--web.listen-address=127.0.0.1:{node_port}"])
        receiver_kind = os.environ.get("RECEIVER_KIND", "vigil")
        read_receiver = prometheus_window if receiver_kind == "prometheus" else vigil_window
        vigil_cfg = os.path.join(tmp, "vigil.yml")
        with open(vigil_cfg, "w") as f:
            f.write("global:\n  evaluation_interval: 15s\nrule_files: []\n" +
                    ("scrape_configs: []\n" if receiver_kind == "prometheus" else ""))
        if receiver_kind == "victoriametrics":
            # Checks this test itself against a known-good receiver with the
            # same export API.
            procs.start("vigil", [vigil_bin, f"-httpListenAddr=127.0.0.1:{vigil_port}",
                                  f"-storageDataPath={os.path.join(tmp, 'vm-data')}",
                                  "-search.latencyOffset=0s"])
            ready_path = "/health"
        elif receiver_kind == "prometheus":
            procs.start("vigil", [vigil_bin, f"--web.listen-address=127.0.0.1:{vigil_port}",
                                  f"--storage.tsdb.path={os.path.join(tmp, 'recv-data')}",
                                  f"--config.file={vigil_cfg}",
                                  "--web.enable-remote-write-receiver"])
            ready_path = "/-/ready"
        else:
            procs.start("vigil", [vigil_bin, f"--web.listen-address=127.0.0.1:{vigil_port}",
                                  f"--config.file={vigil_cfg}", "--storage.retention=2h"])
            ready_path = "/-/ready"
        vigil = f"http://127.0.0.1:{vigil_port}"
        prom = f"http://127.0.0.1:{prom_port}"
        wait_until("node_exporter", ready(f"http://127.0.0.1:{node_port}/metrics"), 20, procs)
        wait_until(f"vigil {ready_path}", ready(vigil + ready_path), 30, procs)

        prom_cfg = os.path.join(tmp, "prometheus.yml")
        with open(prom_cfg, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]
  - job_name: node
    static_configs: [{{targets: ['127.0.0.1:{node_port}']}}]
remote_write:
  - url: {vigil}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 2000
      min_backoff: 100ms
      max_backoff: 1s
""")
        procs.start("prometheus", [prom_bin, f"--config.file={prom_cfg}",
                                   f"--storage.tsdb.path={os.path.join(tmp, 'prom-data')}",
                                   f"--web.listen-address=127.0.0.1:{prom_port}"])
        wait_until("prometheus /-/ready", ready(f"{prom}/-/ready"), 30, procs)
        t_ready = time.time()

        def vigil_has_up():
            now_ms = int(time.time() * 1000)
            got = read_receiver(vigil, now_ms - 60000, now_ms + 1000)
            jobs = {dict(k).get("job") for k in got if dict(k).get("__name__") == "up"}
            return {"prometheus", "node"} <= jobs
        wait_until("vigil to hold `up` of both jobs", vigil_has_up, 60, procs, interval=1)
        log("vigil has data from both jobs")

        # The window starts after Prometheus' first scrapes and ends LAG_S
        # seconds ago, so remote-write (1 s batch deadline) has sent it.
        window_start = max(time.time() - LAG_S - WINDOW_S, t_ready + 2)
        wait_s = window_start + WINDOW_S + LAG_S - time.time()
        if wait_s > 0:
            if wait_s > remaining() - 30:
                raise TestFailure("not enough time budget left to fill the window")
            log(f"waiting {wait_s:.1f}s for the window to fill")
            time.sleep(wait_s)
        start_ms = int(window_start * 1000)
        end_ms = start_ms + WINDOW_S * 1000
        procs.check_alive()
        want = prometheus_window(prom, start_ms, end_ms)
        if len(want) < 100:
            raise TestFailure(f"Prometheus has only {len(want)} series in the window")

        # vigil may still lag a little behind on some shard: look again a
        # few times before calling a difference real.
        problems, samples = [], 0
        for attempt in range(4):
            got = read_receiver(vigil, start_ms, end_ms)
            problems, samples = compare(want, got)
            if not problems or remaining() < 10:
                break
            log(f"attempt {attempt + 1}: {len(problems)} differences, looking again in 3s")
            time.sleep(3)

        log(f"window ({start_ms}, {end_ms}] ms: compared {len(want)} series, "
            f"{samples} samples; vigil holds {len(got)} series in the window")
        extra = [k for k in got if k not in want]
        if extra:
            log(f"note: vigil has {len(extra)} series Prometheus' query does not show, "
                f"e.g. {fmt_key(extra[0])}")
        if problems:
            raise TestFailure(f"{len(problems)} of {len(want)} series differ:\n  " +
                              "\n  ".join(problems[:20]) +
                              (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""))
        log("PASS: every Prometheus series and sample is in vigil, identical")
    except Exception:
        for name in ("prometheus", "vigil", "node_exporter"):
            t = procs.log_tail(name, 15)
            if t:
                print(f"--- {name} log tail ---\n{t}", flush=True)
        raise
    finally:
        procs.stop_all()


def main():
    # SIGTERM (timeout, Bazel) must still run the cleanup in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runfiles = os.environ.get("TEST_SRCDIR", "")
    workspace = os.environ.get("TEST_WORKSPACE", "vigil")
    vigil_bin = find_binary(sys.argv[1] if len(sys.argv) > 1 else None, "VIGIL_BINARY",
                            [os.path.join(runfiles, workspace, "rpc/server/vigil"),
                             "rpc/server/vigil"])
    prom_bin = find_binary(None, "PROMETHEUS_BINARY", ["/usr/bin/prometheus"])
    node_bin = find_binary(None, "NODE_EXPORTER_BINARY", ["/usr/bin/prometheus-node-exporter"])
    for name, b in (("vigil", vigil_bin), ("prometheus", prom_bin), ("node_exporter", node_bin)):
        if not b:
            print(f"FAIL: no {name} binary found", flush=True)
            return 1
    tmp = tempfile.mkdtemp(prefix="vigil-prom-ingest-",
                           dir=os.environ.get("TEST_TMPDIR") or None)
    try:
        run(vigil_bin, prom_bin, node_bin, tmp)
        return 0
    except TestFailure as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        if os.environ.get("KEEP_TMP") == "1":
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
