#!/usr/bin/env python3
"""End-to-end alert latency: vigil vs Prometheus 2.42 vs vmalert (VM 1.79).

For each target, K times: remote-write the first sample of a new series
`latency_probe{crossing="k"} 1`, which crosses the threshold of the rule
`latency_probe > 0` (for: 0s, evaluation interval 1s), and time until that
alert arrives at this script's receiver (it implements POST /api/v2/alerts,
where vigil, Prometheus and vmalert all send). Crossings are spaced by a
random 1.0-1.6 s so they land at every phase of the evaluation clock.
Latency = arrival time - time the remote-write request was sent.

  python3 bench/latency_compare.py --targets vigil,prometheus,vmalert \\
      --crossings 50 --json OUT.json --md OUT.md

Latency-conscious settings, said so in the output: VictoriaMetrics runs with
-search.latencyOffset=0s (default 30s hides the newest samples from queries)
and -search.disableCache; vmalert with -datasource.queryTimeAlignment=false
and -datasource.lookback=0s. Prometheus with --web.enable-remote-write-receiver.
Python 3 standard library only; every process is stopped by PID on exit.
"""

import argparse
import datetime
import http.server
import json
import os
import random
import shutil
import signal
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "rpc", "notify_it"))
sys.path.insert(0, os.path.join(ROOT, "rpc", "e2e"))
import e2e_util as u  # noqa: E402  (free ports, processes stopped by PID)
import notify_util as nu  # noqa: E402

VIGIL_CANDIDATES = [os.path.join(ROOT, ".bazel/bin/rpc/server/vigil"),
                    os.path.join(ROOT, "bazel-bin/rpc/server/vigil")]

RULES = """groups:
  - name: latency
    interval: 1s
    rules:
      - alert: LatencyProbe
        expr: latency_probe > 0
"""

SETTINGS = {
    "vigil": "evaluation_interval 1s, Alertmanager v2 target = receiver",
    "prometheus": "--web.enable-remote-write-receiver, evaluation_interval 1s",
    "vmalert": ("VM -search.latencyOffset=0s -search.disableCache; vmalert "
                "-evaluationInterval=1s -datasource.queryTimeAlignment=false "
                "-datasource.lookback=0s"),
}


class Receiver:
    """Loopback HTTP server recording the first arrival of each crossing's alert."""

    def __init__(self):
        self.arrivals = {}
        self.lock = threading.Lock()
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                now = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    alerts = json.loads(body)
                except ValueError:
                    alerts = []
                with owner.lock:
                    for a in alerts if isinstance(alerts, list) else []:
                        k = a.get("labels", {}).get("crossing")
                        if k is not None and k not in owner.arrivals:
                            owner.arrivals[k] = now
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def arrival(self, k):
        with self.lock:
            return self.arrivals.get(k)


def start_target(kind, args, procs, recv_port):
    """Starts the target (and its datasource) under `procs`; returns the write URL."""
    workdir = procs.tmp
    rules = os.path.join(workdir, "rules.yml")
    with open(rules, "w") as f:
        f.write(RULES)
    port = u.free_port()
    if kind in ("vigil", "prometheus"):
        cfg = os.path.join(workdir, kind + ".yml")
        with open(cfg, "w") as f:
            f.write("global:\n  evaluation_interval: 1s\n  scrape_interval: 1h\n"
                    "rule_files: [%s]\nalerting:\n  alertmanagers:\n"
                    "    - static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                    % (rules, recv_port))
        if kind == "vigil":
            argv = [args.vigil, "--config.file=" + cfg,
                    "--web.listen-address=127.0.0.1:%d" % port,
                    "--grpc.listen-address=127.0.0.1:0"]
        else:
            argv = [args.prometheus, "--config.file=" + cfg,
                    "--storage.tsdb.path=" + os.path.join(workdir, "prom-data"),
                    "--web.listen-address=127.0.0.1:%d" % port,
                    "--web.enable-remote-write-receiver", "--log.level=warn"]
        procs.start(kind, argv)
        base = "http://127.0.0.1:%d" % port
        u.wait_ready(base + "/-/ready", procs, kind)
        return base + "/api/v1/write"
    procs.start("victoria-metrics", [args.victoria_metrics,
                                   "-storageDataPath=" + os.path.join(workdir, "vm-data"),
                                   "-httpListenAddr=127.0.0.1:%d" % port,
                                   "-retentionPeriod=1d", "-search.latencyOffset=0s",
                                   "-search.disableCache", "-loggerLevel=ERROR"])
    base = "http://127.0.0.1:%d" % port
    u.wait_ready(base + "/health", procs, "victoria-metrics")
    vport = u.free_port()
    procs.start("vmalert", [args.vmalert, "-rule=" + rules, "-datasource.url=" + base,
                          "-notifier.url=http://127.0.0.1:%d" % recv_port,
                          "-evaluationInterval=1s", "-datasource.queryTimeAlignment=false",
                          "-datasource.lookback=0s",
                          "-httpListenAddr=127.0.0.1:%d" % vport, "-loggerLevel=ERROR"])
    u.wait_ready("http://127.0.0.1:%d/health" % vport, procs, "vmalert")
    return base + "/api/v1/write"


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def run_target(kind, args, rng):
    recv = Receiver()
    try:
        with u.Procs() as procs:
            write_url = start_target(kind, args, procs, recv.port)
            time.sleep(2)  # let the first evaluations run
            lat, missed = [], 0
            for k in range(args.crossings):
                key = "%s-%d" % (kind, k)
                sent = time.time()
                st = nu.remote_write(write_url, [(
                    {"__name__": "latency_probe", "crossing": key},
                    [(int(sent * 1000), 1.0)])])
                if st // 100 != 2:
                    raise RuntimeError("%s: remote-write HTTP %d" % (kind, st))
                deadline = sent + args.timeout
                while recv.arrival(key) is None and time.time() < deadline:
                    time.sleep(0.002)
                got = recv.arrival(key)
                if got is None:
                    missed += 1
                else:
                    lat.append((got - sent) * 1000.0)
                time.sleep(rng.uniform(1.0, 1.6))
            lat.sort()
            return {"target": kind, "n": len(lat), "missed": missed,
                    "p50_ms": round(percentile(lat, 0.5), 1) if lat else None,
                    "p99_ms": round(percentile(lat, 0.99), 1) if lat else None,
                    "max_ms": round(lat[-1], 1) if lat else None,
                    "min_ms": round(lat[0], 1) if lat else None,
                    "settings": SETTINGS[kind]}
    finally:
        recv.server.shutdown()


def machine():
    info = {"cpus": os.cpu_count(), "when": datetime.datetime.utcnow().isoformat() + "Z"}
    try:
        info["loadavg"] = open("/proc/loadavg").read().split()[:3]
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def markdown(doc):
    m = doc["machine"]
    out = ["End-to-end alert latency (remote-write of the crossing sample -> alert at "
           "the receiver), 1s evaluation interval, `for: 0s`; %s CPUs (%s), load "
           "average %s at start (machine shared with other builds)." %
           (m.get("cpus"), m.get("cpu", "?"), " ".join(m.get("loadavg", []))), "",
           "| target | n | missed | p50 ms | p99 ms | max ms | settings |",
           "|---|---|---|---|---|---|---|"]
    for r in doc["results"]:
        out.append("| %s | %d | %d | %s | %s | %s | %s |" % (
            r["target"], r["n"], r["missed"], r["p50_ms"], r["p99_ms"], r["max_ms"],
            r["settings"]))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="vigil,prometheus,vmalert")
    ap.add_argument("--crossings", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for one alert before counting it missed")
    ap.add_argument("--vigil", default=next((p for p in VIGIL_CANDIDATES if os.path.exists(p)),
                                            "vigil"))
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "prometheus")
    ap.add_argument("--victoria-metrics", dest="victoria_metrics",
                    default=shutil.which("victoria-metrics") or "victoria-metrics")
    ap.add_argument("--vmalert", default=shutil.which("vmalert") or "vmalert")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--md")
    args = ap.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds normally, so targets get stopped.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit("terminated"))
    rng = random.Random(args.seed)
    doc = {"machine": machine(), "crossings": args.crossings, "results": []}
    for kind in args.targets.split(","):
        if kind not in SETTINGS:
            sys.exit("unknown target %r (want vigil, prometheus, vmalert)" % kind)
        doc["results"].append(run_target(kind, args, rng))
        print("%s: %s" % (kind, json.dumps(doc["results"][-1])), file=sys.stderr)
    md = markdown(doc)
    sys.stdout.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
