#!/usr/bin/env python3
"""Fault tests with the real vigil binary and Debian's Alertmanager 0.25:
0. nothing listening on the Alertmanager port when vigil starts (connection
   refused): vigil starts, keeps evaluating and counts the errors;
1. a slow receiver (answers after vigil's 1s timeout) on the Alertmanager
   port while vigil starts: vigil keeps evaluating, the queue stays within
   its capacity, errors and drops are counted on /metrics;
2. the real Alertmanager comes up on that port: delivery resumes;
3. Alertmanager is killed (SIGKILL) and restarted with empty storage:
   vigil keeps evaluating, and its resends put the alerts back.

usage: am_fault_test.py VIGIL_BIN
"""

import http.server
import json
import os
import shutil
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import am_e2e_test as am  # noqa: E402
import e2e_util as u  # noqa: E402
import notify_util as n  # noqa: E402

SERIES = 8           # alerts firing at once (one evaluation's batch fits the queue)
QUEUE_CAPACITY = 10  # small, so the gauge has a tight bound to stay under


def config(rules, am_port):
    return """
global:
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  alertmanagers:
    - timeout: 1s
      static_configs: [{targets: ['127.0.0.1:%d']}]
""" % (rules, am_port)


class SlowServer:
    """Answers every request after `delay_s`, longer than vigil's timeout."""

    def __init__(self, port, delay_s):
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(delay_s)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def feed(vigil, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        t = int(time.time() * 1000)
        st = n.remote_write(vigil + "/api/v1/write", [
            ({"__name__": "notify_value", "instance": "i%02d" % i}, [(t, 20)])
            for i in range(SERIES)])
        if st // 100 != 2:
            sys.exit("FAIL: remote-write HTTP %d" % st)
        time.sleep(0.25)


def metrics(vigil):
    _, text = u.http_get(vigil + "/metrics")
    def total(name):
        return sum(n.metric_values(text, name).values())
    return {k: total("prometheus_notifications_" + k) for k in
            ("errors_total", "dropped_total", "queue_length", "queue_capacity",
             "sent_total")}


def last_eval(vigil):
    _, body = u.http_get(vigil + "/api/v1/rules")
    return [g["lastEvaluation"] for g in json.loads(body)["data"]["groups"]][0]


def check_evaluating(vigil, what):
    before = last_eval(vigil)
    feed(vigil, 2.5)
    after = last_eval(vigil)
    if not after > before:
        sys.exit("FAIL: %s: lastEvaluation did not advance (%s -> %s)" % (what, before, after))


def wait_am_count(vigil, base, want, timeout_s, what):
    deadline = time.time() + timeout_s
    got = None
    while time.time() < deadline:
        got = n.am_alerts(base, "NotifyHigh")
        if got is not None and len(got) == want:
            return
        feed(vigil, 0.5)
    sys.exit("FAIL: %s: Alertmanager shows %s alerts, want %d" %
             (what, None if got is None else len(got), want))


def main():
    vigil_bin = sys.argv[1]
    if not os.path.exists(am.AM_BIN):
        sys.exit("FAIL: %s not installed (tools/install_deps.sh installs "
                 "prometheus-alertmanager)" % am.AM_BIN)
    with u.Procs() as procs:
        run(procs, vigil_bin)


def run(procs, vigil_bin):
    port = u.free_port()
    base = "http://127.0.0.1:%d" % port
    rules = procs.write("rules.yml", am.RULES)

    vigil = u.start_vigil(procs, vigil_bin, config(rules, port), extra=[
        "--rules.alert.resend-delay=1s",
        "--alertmanager.notification-queue-capacity=%d" % QUEUE_CAPACITY])
    deadline = time.time() + 30
    m = metrics(vigil)
    while time.time() < deadline and m["errors_total"] < 1:
        feed(vigil, 1)
        m = metrics(vigil)
    if m["errors_total"] < 1:
        sys.exit("FAIL: Alertmanager down at start: no errors counted: %s" % m)
    check_evaluating(vigil, "Alertmanager down at start")
    print("down at start: vigil evaluating, %s" % m)
    errs_down = m["errors_total"]

    slow = SlowServer(port, 3.0)
    deadline = time.time() + 30
    m = metrics(vigil)
    while time.time() < deadline and (m["errors_total"] <= errs_down or m["dropped_total"] < 1):
        feed(vigil, 1)
        m = metrics(vigil)
        if m["queue_length"] > QUEUE_CAPACITY:
            sys.exit("FAIL: queue length %g over capacity %d" % (m["queue_length"], QUEUE_CAPACITY))
    if m["errors_total"] <= errs_down or m["dropped_total"] < 1:
        sys.exit("FAIL: slow Alertmanager: errors/drops not counted: %s" % m)
    if m["queue_capacity"] != QUEUE_CAPACITY:
        sys.exit("FAIL: queue_capacity %s" % m)
    check_evaluating(vigil, "slow Alertmanager")
    print("slow: vigil evaluating, %s" % m)
    slow.close()

    am.start_alertmanager(procs, port, name="am1")
    wait_am_count(vigil, base, SERIES, 30, "after Alertmanager came up")
    print("up: all %d alerts delivered" % SERIES)

    for name, p in procs.procs:
        if name == "am1":
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
    errs = metrics(vigil)["errors_total"]
    check_evaluating(vigil, "Alertmanager killed")
    feed(vigil, 2)
    m = metrics(vigil)
    if m["errors_total"] <= errs:
        sys.exit("FAIL: no errors counted while Alertmanager was down: %s" % m)
    if m["queue_length"] > QUEUE_CAPACITY:
        sys.exit("FAIL: queue over capacity: %s" % m)
    shutil.rmtree(os.path.join(procs.tmp, "am1-data"), ignore_errors=True)
    am.start_alertmanager(procs, port, name="am2")
    wait_am_count(vigil, base, SERIES, 30, "after Alertmanager restart")
    print("PASS: down at start, slow, up later, killed and restarted: delivery resumed; %s" % metrics(vigil))


if __name__ == "__main__":
    main()
