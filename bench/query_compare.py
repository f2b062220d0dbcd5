#!/usr/bin/env python3
"""Query cost, side by side: vigil against Prometheus 2.42 on the same data.

Both targets receive the same remote-written corpus (the load generator,
fixed seed). Then, for each query:

1. Afresh through the HTTP API: the query is sent to each target's
   /api/v1/query (parsed, planned and evaluated per request) until the
   target process has spent at least --min-cpu CPU seconds on it (and at
   least --repeat times), so that the clock-tick resolution of /proc
   (10 ms) is at most a few per cent of what is measured. CPU per query =
   the process' utime+stime delta / runs.
2. Prepared, re-executed at a new timestamp: the same expression as the
   only alerting rule (`for: 1h`, so it stays pending and nothing is sent)
   of a one-rule group evaluated every --rule-interval. CPU per evaluation
   = the process' CPU delta, less its idle CPU rate measured beforehand,
   / evaluations done (the group's iterations_total delta). This is the
   issue's second ratio: vigil re-executing a prepared alert expression vs
   Prometheus evaluating it afresh through its query API (step 1). The same
   measurement on Prometheus' own rule engine is reported for reference.

  python3 bench/query_compare.py            # binaries from .bazel/bin
  python3 bench/query_compare.py --series 10000 --rounds 40 --min-cpu 0.5

Writes bench/results/query-<date>.json and .md.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_lib as ic  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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


def run_query(target, path, params, min_runs, min_cpu, max_wall):
    """Runs the query at least `min_runs` times and until `min_cpu` CPU
    seconds accumulated (or `max_wall` seconds passed). Returns
    (cpu_s per run, wall_s per run, series out, runs)."""
    pid = target.proc.pid
    url = target.base + path + "?" + urllib.parse.urlencode(params)

    def once():
        status, body = ic.http_get(url, timeout=120)
        if status != 200:
            raise RuntimeError("%s %s: HTTP %d %s" % (target.name, params, status, body[:300]))
        return len(json.loads(body)["data"]["result"])

    once()  # warm-up: first-touch allocations, lazily built state
    cpu0 = ic.proc_cpu_seconds(pid)
    t0 = time.monotonic()
    runs = 0
    series = None
    while True:
        series = once()
        runs += 1
        if runs >= min_runs and (ic.proc_cpu_seconds(pid) - cpu0 >= min_cpu
                                 or time.monotonic() - t0 >= max_wall):
            break
    wall = (time.monotonic() - t0) / runs
    cpu = (ic.proc_cpu_seconds(pid) - cpu0) / runs
    return cpu, wall, series, runs


def idle_cpu_rate(target, seconds):
    pid = target.proc.pid
    c0, t0 = ic.proc_cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (ic.proc_cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def fmt_ms(seconds):
    return "n/a" if seconds is None else "%.3f" % (seconds * 1e3)


def group_counters(target, group):
    """(evaluations done by the rule group named `group`, 0 while unknown;
    CPU seconds its queries took, None where the target does not say)."""
    prefix = target.name + "_"
    m = target.metrics()
    sched = missed = 0.0
    query_cpu = None
    for k, v in m.items():
        if ('rule_group="' not in k) or (";" + group + '"') not in k:
            continue
        if k.startswith(prefix + "rule_group_iterations_total{"):
            sched += v
        elif k.startswith(prefix + "rule_group_iterations_missed_total{"):
            missed += v
        elif k.startswith(prefix + "rule_group_query_cpu_seconds_total{"):
            query_cpu = (query_cpu or 0.0) + v
    return sched - missed, query_cpu


def group_iterations(target, group):
    return group_counters(target, group)[0]


def run_rule(target, workdir, idx, expr, interval, min_cpu, max_wall, idle_rate):
    """CPU seconds per evaluation of `expr` as the only alerting rule of a
    group, net of the idle rate. Returns (cpu_s per eval, evals)."""
    group = "qc%d" % idx
    path = os.path.join(workdir, "%s-%s.rules.yml" % (target.name, group))
    with open(path, "w") as f:
        f.write("groups:\n  - name: %s\n    interval: %s\n    rules:\n"
                "      - alert: QC%d\n        expr: %s\n        for: 1h\n"
                % (group, interval, idx, json.dumps(expr)))
    target.load_rules(path, 60)
    deadline = time.monotonic() + 30
    # Wait for the new group's first evaluations (the reload is asynchronous).
    while group_iterations(target, group) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("%s: group %s never evaluated" % (target.name, group))
        time.sleep(0.1)
    pid = target.proc.pid
    # vigil names each group's thread "g:<group>": its own CPU time is the
    # evaluation's, to the nanosecond, without the process' background
    # (self-scrape, /metrics reads). Prometheus' goroutines have no thread
    # of their own: process CPU less its idle rate.
    comm = "g:" + group[:13]
    th0 = ic.thread_cpu_seconds(pid, comm) if target.name == "vigil" else None
    (n0, q0), c0, t0 = group_counters(target, group), ic.proc_cpu_seconds(pid), time.monotonic()
    while True:
        time.sleep(0.5)
        cpu = ic.proc_cpu_seconds(pid) - c0
        if cpu >= min_cpu or time.monotonic() - t0 >= max_wall:
            break
    th1 = ic.thread_cpu_seconds(pid, comm) if th0 is not None else None
    # Reading /metrics costs CPU too; read it once at each end only.
    (n1, q1), c1, t1 = group_counters(target, group), ic.proc_cpu_seconds(pid), time.monotonic()
    evals = n1 - n0
    if evals <= 0:
        raise RuntimeError("%s: group %s did not evaluate" % (target.name, group))
    net = max(0.0, (c1 - c0) - idle_rate * (t1 - t0))
    return {"cpu_s": net / evals, "evals": int(evals),
            # The group's thread: the rule's whole evaluation, wake-up included.
            "thread_cpu_s": (th1 - th0) / evals if th1 is not None else None,
            # The query alone: the prepared expression re-executed.
            "query_cpu_s": (q1 - q0) / evals if q1 is not None and q0 is not None else None}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--repeat", type=int, default=10,
                   help="minimum runs per query and target")
    p.add_argument("--min-cpu", type=float, default=0.5,
                   help="run each query until the target spent this many CPU seconds")
    p.add_argument("--max-wall", type=float, default=30.0,
                   help="but stop after this many seconds per query and target")
    p.add_argument("--rule-interval", default="50ms",
                   help="evaluation interval of the one-rule groups")
    p.add_argument("--rule-min-cpu", type=float, default=0.3)
    p.add_argument("--rule-max-wall", type=float, default=12.0)
    p.add_argument("--no-rules", action="store_true", help="skip the prepared-rule figures")
    p.add_argument("--loadgen", default=os.path.join(REPO, ".bazel/bin/bench/loadgen/loadgen"))
    p.add_argument("--vigil", default=os.path.join(REPO, ".bazel/bin/rpc/server/vigil"))
    p.add_argument("--prometheus", default="/usr/bin/prometheus")
    p.add_argument("--out", default=os.path.join(REPO, "bench", "results"))
    args = p.parse_args()
    for what, path in (("loadgen", args.loadgen), ("vigil", args.vigil),
                       ("prometheus", args.prometheus)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            p.error("%s binary not found at %s (build: bazel build -c opt //:vigil "
                    "//bench:loadgen, or pass --%s)" % (what, path, what))

    work = tempfile.mkdtemp(prefix="vigil-query-compare-")
    targets = [
        ic.Vigil(args.vigil, work, ic.free_port(), ["--grpc.listen-address="]),
        ic.Prometheus(args.prometheus, work, ic.free_port(), []),
    ]
    results = {"series": args.series, "rounds": args.rounds, "min_runs": args.repeat,
               "min_cpu_s": args.min_cpu, "rule_interval": args.rule_interval,
               "machine": ic.machine_info(), "load_before": os.getloadavg(),
               "queries": []}
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
        rows = []
        for label, q in QUERIES:
            rows.append({"query": q, "label": label})
        if not args.no_rules:
            # Rules evaluate at wall-clock time, so they run first, while the
            # 5m windows still hold (nearly) all their samples.
            idle = {t.name: idle_cpu_rate(t, 3.0) for t in targets}
            results["idle_cpu_rate"] = idle
            for i, row in enumerate(rows):
                for t in targets:
                    row.setdefault("rule", {})[t.name] = run_rule(
                        t, work, i, row["query"], args.rule_interval, args.rule_min_cpu,
                        args.rule_max_wall, idle[t.name])
                vr = row["rule"]["vigil"]
                print("%-24s rule eval: vigil query %s ms, rule %s ms (group thread), "
                      "%.3f ms process (%d evals)  prometheus %.3f ms (%d evals)"
                      % (row["label"], fmt_ms(vr["query_cpu_s"]), fmt_ms(vr["thread_cpu_s"]),
                         vr["cpu_s"] * 1e3, vr["evals"],
                         row["rule"]["prometheus"]["cpu_s"] * 1e3,
                         row["rule"]["prometheus"]["evals"]), flush=True)
            # No rules while the queries are measured.
            for t in targets:
                t._write_config(None)
                t.proc.send_signal(signal.SIGHUP)
            time.sleep(2)
        for row in rows:
            for t in targets:
                cpu, wall, n, runs = run_query(t, "/api/v1/query",
                                               {"query": row["query"], "time": "%.3f" % now},
                                               args.repeat, args.min_cpu, args.max_wall)
                row[t.name] = {"cpu_s": cpu, "wall_s": wall, "series": n, "runs": runs}
            results["queries"].append(row)
            print("%-24s vigil %.3f ms cpu (%d runs)  prometheus %.3f ms cpu (%d runs)  ratio %.1fx"
                  % (row["label"], row["vigil"]["cpu_s"] * 1e3, row["vigil"]["runs"],
                     row["prometheus"]["cpu_s"] * 1e3, row["prometheus"]["runs"],
                     row["prometheus"]["cpu_s"] / max(row["vigil"]["cpu_s"], 1e-9)), flush=True)
        label, q = RANGE_QUERY
        row = {"query": q, "label": label}
        for t in targets:
            cpu, wall, n, runs = run_query(t, "/api/v1/query_range",
                                           {"query": q, "start": "%.3f" % (now - 3600),
                                            "end": "%.3f" % now, "step": "15"},
                                           max(1, args.repeat // 2), args.min_cpu, args.max_wall)
            row[t.name] = {"cpu_s": cpu, "wall_s": wall, "series": n, "runs": runs}
        results["queries"].append(row)
        print("%-24s vigil %.3f ms cpu (%d runs)  prometheus %.3f ms cpu (%d runs)  ratio %.1fx"
              % (label, row["vigil"]["cpu_s"] * 1e3, row["vigil"]["runs"],
                 row["prometheus"]["cpu_s"] * 1e3, row["prometheus"]["runs"],
                 row["prometheus"]["cpu_s"] / max(row["vigil"]["cpu_s"], 1e-9)))
    finally:
        for t in targets:
            t.stop()
    results["load_after"] = os.getloadavg()

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "query-%s.json" % stamp), "w") as f:
        json.dump(results, f, indent=2)
    lines = ["# Query cost: vigil vs Prometheus 2.42", "",
             "%d series x %d rounds (15 s). Afresh: each query through the HTTP API, "
             "repeated (at least %d runs) until the target spent %.2f CPU s on it; "
             "CPU = target process utime+stime per query (runs in the table). "
             "Load average %.1f before, %.1f after (2-CPU machine shared with other builds)."
             % (args.series, args.rounds, args.repeat, args.min_cpu,
                results["load_before"][0], results["load_after"][0]),
             "", "| query | series out | vigil CPU ms | Prometheus CPU ms | ratio | runs v/P "
             "| vigil wall ms | Prometheus wall ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["queries"]:
        v, pr = r["vigil"], r["prometheus"]
        lines.append("| `%s`%s | %d | %.2f | %.2f | %.1fx | %d/%d | %.1f | %.1f |" % (
            r["query"].replace("|", "\\|"), " (range 1h @ 15s)" if r["label"].startswith("range") else "",
            v["series"], v["cpu_s"] * 1e3, pr["cpu_s"] * 1e3,
            pr["cpu_s"] / max(v["cpu_s"], 1e-9), v["runs"], pr["runs"],
            v["wall_s"] * 1e3, pr["wall_s"] * 1e3))
    if not args.no_rules:
        lines += ["", "Prepared: the expression as the only alerting rule (`for: 1h`) of a "
                  "group evaluated every %s; no new samples arrive meanwhile. For vigil, per "
                  "evaluation: **query** = CPU time of the prepared expression re-executed at "
                  "the new timestamp (vigil_rule_group_query_cpu_seconds_total, the group "
                  "thread's clock around each query); **rule** = CPU time of the group's own "
                  "thread (scheduler nanoseconds, /proc/PID/task/TID/schedstat): the query "
                  "plus alert state, ALERTS/ALERTS_FOR_STATE upkeep and the wake-up; "
                  "**process** = the whole process' CPU delta less its idle rate (vigil "
                  "%.2f ms/s, Prometheus %.2f ms/s; clock ticks of 10 ms; it includes vigil's "
                  "self-scrape every 15 s and the /metrics reads that count evaluations). "
                  "Prometheus' goroutines have no thread of their own, so its rule figure is "
                  "the process one. Ratios: Prometheus afresh (query API, above) / vigil "
                  "query, the issue's measure; Prometheus rule / vigil rule, the like-for-like "
                  "one."
                  % (args.rule_interval, results["idle_cpu_rate"]["vigil"] * 1e3,
                     results["idle_cpu_rate"]["prometheus"] * 1e3),
                  "", "| query | vigil query ms | vigil rule ms | vigil process ms | evals "
                  "| Prometheus afresh ms | Prometheus rule ms | afresh / query "
                  "| rule / rule |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["queries"]:
            if "rule" not in r:
                continue
            vr, pr = r["rule"]["vigil"], r["rule"]["prometheus"]

            def ratio(a, b):
                return "n/a" if a is None or not b else "%.1fx" % (a / b)
            lines.append("| `%s` | %s | %s | %.3f | %d | %.2f | %.3f | %s | %s |" % (
                r["query"].replace("|", "\\|"), fmt_ms(vr.get("query_cpu_s")),
                fmt_ms(vr.get("thread_cpu_s")), vr["cpu_s"] * 1e3, vr["evals"],
                r["prometheus"]["cpu_s"] * 1e3, pr["cpu_s"] * 1e3,
                ratio(r["prometheus"]["cpu_s"], vr.get("query_cpu_s")),
                ratio(pr["cpu_s"], vr.get("thread_cpu_s"))))
    with open(os.path.join(args.out, "query-%s.md" % stamp), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
