#!/usr/bin/env python3
"""End to end with Debian's real Alertmanager 0.25: an HA pair of vigil
binaries (same rules, same samples, external label `replica` dropped by
alert_relabel_configs) fed by remote-write. The alert must appear in
Alertmanager once, with vigil's labels, annotations and startsAt, and be
gone (resolved) once the condition clears.

usage: am_e2e_test.py VIGIL_BIN
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import e2e_util as u  # noqa: E402
import notify_util as n  # noqa: E402

AM_BIN = "/usr/bin/prometheus-alertmanager"

RULES = """
groups:
  - name: notify
    interval: 1s
    rules:
      - alert: NotifyHigh
        expr: notify_value > 10
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value }}"
"""

AM_CONFIG = """
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
"""


def vigil_config(rules, am_port, replica):
    return """
global:
  evaluation_interval: 1s
  external_labels: {cluster: c1, replica: %s}
rule_files: [%s]
alerting:
  alert_relabel_configs:
    - action: labeldrop
      regex: replica
  alertmanagers:
    - timeout: 2s
      static_configs: [{targets: ['127.0.0.1:%d']}]
""" % (replica, rules, am_port)


def start_alertmanager(procs, port, name="alertmanager"):
    cfg = os.path.join(procs.tmp, "am.yml")
    with open(cfg, "w") as f:
        f.write(AM_CONFIG)
    procs.start(name, [AM_BIN, "--config.file=" + cfg,
                       "--storage.path=" + os.path.join(procs.tmp, name + "-data"),
                       "--web.listen-address=127.0.0.1:%d" % port,
                       "--cluster.listen-address=", "--log.level=warn"])
    u.wait_ready("http://127.0.0.1:%d/-/ready" % port, procs, name)


def vigil_active_at(base):
    _, body = u.http_get(base + "/api/v1/alerts")
    for a in json.loads(body)["data"]["alerts"]:
        if a["labels"].get("alertname") == "NotifyHigh" and a["state"] == "firing":
            return a["activeAt"]
    return None


def ms(rfc3339):
    """'2026-12-03T08:00:01.123Z' (any fraction) -> whole milliseconds string."""
    s = rfc3339.rstrip("Z")
    whole, _, frac = s.partition(".")
    return whole + "." + (frac + "000")[:3]


def feed(vigils, value, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        t = int(time.time() * 1000)
        for v in vigils:
            st = n.remote_write(v + "/api/v1/write",
                                [({"__name__": "notify_value", "instance": "x"}, [(t, value)])])
            if st // 100 != 2:
                sys.exit("remote-write to %s: HTTP %d" % (v, st))
        time.sleep(0.25)


def wait_for(what, fn, timeout_s, vigils, feed_value):
    """Keeps feeding samples while polling fn() until it returns a true value."""
    return u.wait_for(what, fn, timeout_s, step=lambda: feed(vigils, feed_value, 0.5))


def main():
    vigil_bin = sys.argv[1]
    if not os.path.exists(AM_BIN):
        sys.exit("FAIL: %s not installed (tools/install_deps.sh installs "
                 "prometheus-alertmanager)" % AM_BIN)
    with u.Procs() as procs:
        run(procs, vigil_bin)


def run(procs, vigil_bin):
    am_port = u.free_port()
    am = "http://127.0.0.1:%d" % am_port
    start_alertmanager(procs, am_port)
    rules = procs.write("rules.yml", RULES)
    va = u.start_vigil(procs, vigil_bin, vigil_config(rules, am_port, "a"), name="vigil-a")
    vb = u.start_vigil(procs, vigil_bin, vigil_config(rules, am_port, "b"), name="vigil-b")
    vigils = [va, vb]

    feed(vigils, 1, 2)  # below the threshold: nothing fires
    if n.am_alerts(am, "NotifyHigh"):
        sys.exit("FAIL: alert in Alertmanager before the threshold was crossed")

    # Both replicas fire; Alertmanager must show one alert.
    alerts = wait_for("NotifyHigh in Alertmanager",
                      lambda: n.am_alerts(am, "NotifyHigh"), 30, vigils, 20)
    wait_for("both replicas firing",
             lambda: vigil_active_at(va) and vigil_active_at(vb), 20, vigils, 20)
    feed(vigils, 20, 3)  # a few more evaluations: both replicas have sent several times
    alerts = n.am_alerts(am, "NotifyHigh")
    if len(alerts) != 1:
        sys.exit("FAIL: HA pair gave %d alerts in Alertmanager, want 1: %s" %
                 (len(alerts), json.dumps(alerts)))
    a = alerts[0]
    want_labels = {"alertname": "NotifyHigh", "instance": "x", "severity": "page",
                   "cluster": "c1"}
    if a["labels"] != want_labels:
        sys.exit("FAIL: labels %s, want %s" % (a["labels"], want_labels))
    if a["annotations"] != {"summary": "x is at 20"}:
        sys.exit("FAIL: annotations %s" % a["annotations"])
    # Alertmanager keeps the earlier startsAt of the two replicas' copies.
    active = sorted(ms(vigil_active_at(v)) for v in vigils)
    if ms(a["startsAt"]) != active[0]:
        sys.exit("FAIL: startsAt %s, want the earlier activeAt of %s" % (a["startsAt"], active))
    if not a["generatorURL"]:
        sys.exit("FAIL: empty generatorURL")
    print("firing: one alert in Alertmanager, labels %s, startsAt %s" %
          (a["labels"], a["startsAt"]))

    # The condition clears: Alertmanager must show it resolved (no active alert).
    wait_for("NotifyHigh resolved in Alertmanager",
             lambda: n.am_alerts(am, "NotifyHigh") == [], 30, vigils, 0)
    resolved = [x for x in (n.am_alerts(am, "NotifyHigh", active_only=False) or [])]
    if resolved:
        sys.exit("FAIL: Alertmanager still lists %s" % json.dumps(resolved))
    for v in vigils:
        _, m = u.http_get(v + "/metrics")
        sent = sum(n.metric_values(m, "prometheus_notifications_sent_total").values())
        errs = sum(n.metric_values(m, "prometheus_notifications_errors_total").values())
        if sent < 2 or errs != 0:
            sys.exit("FAIL: %s sent=%g errors=%g" % (v, sent, errs))
    print("PASS: HA pair -> one alert, resolved when the condition cleared")


if __name__ == "__main__":
    main()
