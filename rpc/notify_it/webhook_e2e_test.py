#!/usr/bin/env python3
"""The real vigil binary posts Alertmanager's webhook payload to a loopback
receiver that answers 500 to the first two attempts, then 200: vigil must
retry with growing backoff, and the payload must be right field by field
(version, status, receiver, groupKey, groupLabels, commonLabels,
commonAnnotations, externalURL, alerts[] status/labels/annotations/startsAt/
endsAt/generatorURL/fingerprint), for firing and then resolved.

usage: webhook_e2e_test.py VIGIL_BIN
"""

import http.server
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import am_e2e_test as am  # noqa: E402
import e2e_util as u  # noqa: E402

FAILURES = 2
EXTERNAL_URL = "http://vigil.example:9096"


def fingerprint(labels):
    """Alertmanager's label-set fingerprint: FNV-1a 64 over sorted name/value, 0xff-separated."""
    h = 0xcbf29ce484222325
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for b in part:
                h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


class Hook:
    def __init__(self):
        self.attempts = []  # (time, status_answered, payload)
        self.lock = threading.Lock()
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with owner.lock:
                    code = 500 if len(owner.attempts) < FAILURES else 200
                    owner.attempts.append((time.time(), code, body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ok_payloads(self, status):
        with self.lock:
            return [p for _, c, p in self.attempts if c == 200 and p["status"] == status]


def check_payload(p, status, active_at):
    want_labels = {"alertname": "NotifyHigh", "instance": "x", "severity": "page"}
    checks = [
        ("version", p.get("version"), "4"),
        ("status", p.get("status"), status),
        ("receiver", p.get("receiver"), "hook"),
        ("groupKey", p.get("groupKey"), '{}:{alertname="NotifyHigh"}'),
        ("groupLabels", p.get("groupLabels"), {"alertname": "NotifyHigh"}),
        ("commonLabels", p.get("commonLabels"), want_labels),
        ("commonAnnotations", p.get("commonAnnotations"), {"summary": "x is at 20"}),
        ("externalURL", p.get("externalURL"), EXTERNAL_URL),
        ("len(alerts)", len(p.get("alerts", [])), 1),
    ]
    for name, got, want in checks:
        if got != want:
            sys.exit("FAIL: %s payload: %s = %r, want %r\n%s" % (status, name, got, want, json.dumps(p)))
    a = p["alerts"][0]
    checks = [
        ("alerts[0].status", a.get("status"), status),
        ("alerts[0].labels", a.get("labels"), want_labels),
        ("alerts[0].annotations", a.get("annotations"), {"summary": "x is at 20"}),
        ("alerts[0].startsAt", am.ms(a.get("startsAt", "")), am.ms(active_at)),
        ("alerts[0].fingerprint", a.get("fingerprint"), fingerprint(want_labels)),
    ]
    for name, got, want in checks:
        if got != want:
            sys.exit("FAIL: %s payload: %s = %r, want %r\n%s" % (status, name, got, want, json.dumps(p)))
    if not a.get("generatorURL", "").startswith(EXTERNAL_URL):
        sys.exit("FAIL: generatorURL %r not under %s" % (a.get("generatorURL"), EXTERNAL_URL))
    if status == "resolved" and not am.ms(a["endsAt"]) >= am.ms(a["startsAt"]):
        sys.exit("FAIL: resolved endsAt %s before startsAt %s" % (a["endsAt"], a["startsAt"]))


def run(procs, vigil_bin):
    hook = Hook()
    rules = procs.write("rules.yml", am.RULES)
    cfg = """
global:
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  webhook_configs:
    - name: hook
      url: http://127.0.0.1:%d/hook
      group_by: [alertname]
      max_attempts: 5
""" % (rules, hook.port)
    vigil = u.start_vigil(procs, vigil_bin, cfg, extra=["--web.external-url=" + EXTERNAL_URL])
    try:
        fired = am.wait_for("a delivered firing payload", lambda: hook.ok_payloads("firing"), 30, [vigil], 20)
        active_at = am.vigil_active_at(vigil)
        check_payload(fired[0], "firing", active_at)
        with hook.lock:
            first = hook.attempts[:FAILURES + 1]
        codes = [c for _, c, _ in first]
        if codes != [500] * FAILURES + [200]:
            sys.exit("FAIL: attempt answers %s" % codes)
        gaps = [first[i + 1][0] - first[i][0] for i in range(FAILURES)]
        if not (gaps[0] >= 0.3 and gaps[1] >= gaps[0] * 1.5):
            sys.exit("FAIL: retries not backed off exponentially: gaps %s" % gaps)
        if any(json.dumps(p[2], sort_keys=True) != json.dumps(first[0][2], sort_keys=True)
               for p in first):
            sys.exit("FAIL: retries did not resend the same payload")
        print("firing: %d failed attempts retried after %s s; payload checked" %
              (FAILURES, ["%.2f" % g for g in gaps]))
        resolved = am.wait_for("a resolved payload", lambda: hook.ok_payloads("resolved"), 30, [vigil], 0)
        check_payload(resolved[0], "resolved", active_at)
        _, m = u.http_get(vigil + "/metrics")
        if "vigil_webhook_notifications_retries_total" not in m:
            sys.exit("FAIL: retries metric missing")
        print("PASS: webhook payloads field by field, retry with backoff")
    finally:
        hook.server.shutdown()


def main():
    with u.Procs() as procs:
        run(procs, sys.argv[1])


if __name__ == "__main__":
    main()
