#!/usr/bin/env python3
"""A gRPC client (watch_client) watches a running vigil binary's WatchAlerts
stream while remote-written samples take an alert with `for: 2s` through
pending -> firing -> resolved: it must see each change once, in that order,
with increasing sequence numbers and times.

usage: grpc_watch_e2e_test.py VIGIL_BIN WATCH_CLIENT_BIN
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import am_e2e_test as am  # noqa: E402
import e2e_util as u  # noqa: E402

RULES = """
groups:
  - name: watch
    interval: 1s
    rules:
      - alert: NotifyWatch
        expr: notify_value > 10
        for: 2s
"""


def run(procs, vigil_bin, client_bin):
    rules = procs.write("rules.yml", RULES)
    port = u.free_port()
    cfg = "global:\n  evaluation_interval: 1s\nrule_files: [%s]\n" % rules
    vigil = u.start_vigil(procs, vigil_bin, cfg,
                          extra=["--grpc.listen-address=127.0.0.1:%d" % port])
    client = procs.start("watch_client", [client_bin, "127.0.0.1:%d" % port, "NotifyWatch", "60"])
    deadline = time.time() + 10
    while "watching" not in procs.log("watch_client") and time.time() < deadline:
        time.sleep(0.1)
    am.feed([vigil], 1, 1.5)

    def events():
        out = []
        for line in procs.log("watch_client").splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] == "NotifyWatch":
                out.append((int(parts[0]), parts[1], int(parts[3])))
        return out

    def wait_kind(kind, value, timeout_s):
        end = time.time() + timeout_s
        while time.time() < end:
            if any(e[1] == kind for e in events()):
                return
            am.feed([vigil], value, 0.5)
        sys.exit("FAIL: no %s event within %ds; client log:\n%s" %
                 (kind, timeout_s, procs.log("watch_client")))

    wait_kind("FIRING", 20, 30)
    wait_kind("RESOLVED", 0, 30)
    try:
        rc = client.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    ev = events()
    kinds = [e[1] for e in ev]
    if kinds != ["PENDING", "FIRING", "RESOLVED"]:
        sys.exit("FAIL: events %s, want PENDING, FIRING, RESOLVED once each" % ev)
    if not (ev[0][0] < ev[1][0] < ev[2][0]) or not (ev[0][2] < ev[1][2] < ev[2][2]):
        sys.exit("FAIL: sequence numbers or times not increasing: %s" % ev)
    if ev[1][2] - ev[0][2] < 2000:
        sys.exit("FAIL: fired %d ms after pending, want >= for: 2s" % (ev[1][2] - ev[0][2]))
    if rc != 0:
        sys.exit("FAIL: watch_client exit %s" % rc)
    print("PASS: WatchAlerts saw %s" % ev)


def main():
    with u.Procs() as procs:
        run(procs, sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
