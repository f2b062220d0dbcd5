#!/usr/bin/env python3
"""Query cost, side by side: vigil against Prometheus 2.42 on the same data.

Both targets receive the same remote-written corpus (the load generator,
fixed seed); then each query is run N times through each target's HTTP API
and the CPU seconds the target process spent (from /proc, utime+stime) are
divided by N. Reports CPU per query, wall latency, and the ratio
Prometheus / vigil.

  python3 bench/query_compare.py --series 10000 --rounds 40 --repeat 20

Writes bench/results/query-<date>.json and .md.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_lib as ic  # noqa: E402

QUERIES = [
    ("rate", 'rate(http_requests_total[5m])'),
    ("sum by job of rate", 'sum by (job) (rate(http_requests_total[5m]))'),
    ("ratio of aggregations",
     'sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))'),
    ("histogram_quantile",
     'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'),
    ("regex selector", 'node_cpu_seconds_total{mode=~"user|system|iowait"}'),
    ("threshold alert", 'rate(node_network_receive_bytes_total[5m]) > 100'),
]
RANGE_QUERY = ("range 1h @ 15s", 'sum by (job) (rate(http_requests_total[5m]))')


def run_query(target, path, params, repeat):
    pid = target.proc.pid
    cpu0 = ic.proc_cpu_seconds(pid)
    t0 = time.monotonic()
    series = None
    for _ in range(repeat):
        status, body = ic.http_get(target.base + path + "?" + urllib.parse.urlencode(params),
                                   timeout=120)
        if status != 200:
            raise RuntimeError("%s %s: HTTP %d %s" % (target.name, params, status, body[:300]))
        series = len(json.loads(body)["data"]["result"])
    wall = (time.monotonic() - t0) / repeat
    cpu = (ic.proc_cpu_seconds(pid) - cpu0) / repeat
    return cpu, wall, series


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--loadgen", required=True)
    p.add_argument("--vigil", required=True)
    p.add_argument("--prometheus", default="/usr/bin/prometheus")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="vigil-query-compare-")
    targets = [
        ic.Vigil(args.vigil, work, ic.free_port(), ["--grpc.listen-address="]),
        ic.Prometheus(args.prometheus, work, ic.free_port(), []),
    ]
    results = {"series": args.series, "rounds": args.rounds, "repeat": args.repeat,
               "machine": ic.machine_info(), "queries": []}
    try:
        for t in targets:
            t.start(60)
            rc = os.spawnv(os.P_WAIT, args.loadgen, [
                args.loadgen, "--url=" + t.write_url, "--series=%d" % args.series,
                "--rounds=%d" % args.rounds, "--progress=false"])
            if rc != 0:
                raise RuntimeError("loadgen against %s failed" % t.name)
        # The corpus ends "now": query just after its last round.
        now = time.time()
        for label, q in QUERIES:
            row = {"query": q, "label": label}
            for t in targets:
                cpu, wall, n = run_query(t, "/api/v1/query", {"query": q, "time": "%.3f" % now},
                                         args.repeat)
                row[t.name] = {"cpu_s": cpu, "wall_s": wall, "series": n}
            results["queries"].append(row)
            print("%-24s vigil %.4fs cpu  prometheus %.4fs cpu  ratio %.1fx" % (
                label, row["vigil"]["cpu_s"], row["prometheus"]["cpu_s"],
                row["prometheus"]["cpu_s"] / max(row["vigil"]["cpu_s"], 1e-6)))
        label, q = RANGE_QUERY
        row = {"query": q, "label": label}
        for t in targets:
            cpu, wall, n = run_query(t, "/api/v1/query_range",
                                     {"query": q, "start": "%.3f" % (now - 3600),
                                      "end": "%.3f" % now, "step": "15"},
                                     max(1, args.repeat // 4))
            row[t.name] = {"cpu_s": cpu, "wall_s": wall, "series": n}
        results["queries"].append(row)
        print("%-24s vigil %.4fs cpu  prometheus %.4fs cpu  ratio %.1fx" % (
            label, row["vigil"]["cpu_s"], row["prometheus"]["cpu_s"],
            row["prometheus"]["cpu_s"] / max(row["vigil"]["cpu_s"], 1e-6)))
    finally:
        for t in targets:
            t.stop()

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "query-%s.json" % stamp), "w") as f:
        json.dump(results, f, indent=2)
    lines = ["# Query cost: vigil vs Prometheus 2.42", "",
             "%d series x %d rounds (15 s), each query run %d times through the HTTP API; "
             "CPU = target process utime+stime per query." % (args.series, args.rounds, args.repeat),
             "", "| query | series out | vigil CPU ms | Prometheus CPU ms | ratio | vigil wall ms | Prometheus wall ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["queries"]:
        v, pr = r["vigil"], r["prometheus"]
        lines.append("| `%s` | %d | %.2f | %.2f | %.1fx | %.1f | %.1f |" % (
            r["query"], v["series"], v["cpu_s"] * 1e3, pr["cpu_s"] * 1e3,
            pr["cpu_s"] / max(v["cpu_s"], 1e-6), v["wall_s"] * 1e3, pr["wall_s"] * 1e3))
    with open(os.path.join(args.out, "query-%s.md" % stamp), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
