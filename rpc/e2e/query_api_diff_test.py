#!/usr/bin/env python3
"""Differential test of the query API: the same samples are remote-written to
Debian's Prometheus and to vigil; a list of PromQL queries (instant and range)
must give the same JSON answers from both, values within 1e-9 relative.

Query times fall between sample timestamps, so the left-open range windows of
Prometheus 3.x (vigil's target) and the closed ones of Prometheus 2.42 select
the same samples.

usage: query_api_diff_test.py VIGIL_BIN RW_SEND_BIN
"""

import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

STEP_MS = 15000
POINTS = 121  # 30 minutes

INSTANT_QUERIES = [
    'http_requests_total',
    'http_requests_total{status=~"5.."}',
    'http_requests_total{instance!~"a|b"}',
    'rate(http_requests_total[5m])',
    'irate(http_requests_total[5m])',
    'increase(http_requests_total[10m])',
    'resets(http_requests_total[30m])',
    'sum by (job) (rate(http_requests_total[5m]))',
    'sum by (job, status) (rate(http_requests_total[5m])) / ignoring (status) group_left sum by (job) (rate(http_requests_total[5m]))',
    'sum(rate(http_requests_total{status="500"}[5m])) / sum(rate(http_requests_total[5m]))',
    'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.5, rate(http_request_duration_seconds_bucket[5m]))',
    'count by (instance) (http_requests_total)',
    'topk(2, temperature_celsius)',
    'bottomk(1, temperature_celsius)',
    'quantile(0.5, temperature_celsius)',
    'avg without (instance) (temperature_celsius)',
    'stddev(temperature_celsius)',
    'stdvar(temperature_celsius)',
    'avg_over_time(temperature_celsius[10m])',
    'max_over_time(temperature_celsius[10m])',
    'min_over_time(temperature_celsius[10m])',
    'sum_over_time(temperature_celsius[10m])',
    'count_over_time(temperature_celsius[10m])',
    'quantile_over_time(0.9, temperature_celsius[10m])',
    'stddev_over_time(temperature_celsius[10m])',
    'last_over_time(temperature_celsius[10m])',
    'delta(temperature_celsius[10m])',
    'deriv(temperature_celsius[10m])',
    'predict_linear(temperature_celsius[10m], 600)',
    'changes(temperature_celsius[10m])',
    'temperature_celsius > 20',
    'temperature_celsius > bool 20',
    'temperature_celsius offset 5m',
    'abs(temperature_celsius - 20)',
    'clamp(temperature_celsius, 18, 22)',
    'round(temperature_celsius, 0.5)',
    'ln(temperature_celsius) * exp(1)',
    'label_replace(temperature_celsius, "host", "$1", "instance", "(.*)")',
    'label_join(temperature_celsius, "both", "-", "instance", "job")',
    'count_values("t", round(temperature_celsius))',
    'absent(nonexistent_metric)',
    'absent(temperature_celsius)',
    'vector(1) + 1',
    'time()',
    'scalar(sum(temperature_celsius))',
    'temperature_celsius and on (instance) http_requests_total{status="200"}',
    'temperature_celsius unless on (instance) http_requests_total{instance="a"}',
    'temperature_celsius or nonexistent_metric',
    'sum by (instance) (rate(http_requests_total[5m])) * 60',
    '-temperature_celsius ^ 2',
    'timestamp(temperature_celsius)',
]
ORDERED_QUERIES = {
    'sort_desc(sum by (instance) (http_requests_total))',
    'sort(temperature_celsius)',
}
RANGE_QUERIES = [
    'rate(http_requests_total[5m])',
    'sum by (job) (rate(http_requests_total[5m]))',
    'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
    'avg_over_time(temperature_celsius[5m])',
    'temperature_celsius > 20',
    'max(temperature_celsius) - min(temperature_celsius)',
]


def build_data(base_ms):
    series = []
    ts = [base_ms + i * STEP_MS for i in range(POINTS)]
    for inst_i, inst in enumerate(["a", "b", "c"]):
        for status, per_step in (("200", 30 + 7 * inst_i), ("500", 1 + inst_i)):
            vals, v = [], 0.0
            for i in range(POINTS):
                v += per_step + (i % 3)
                if inst == "b" and status == "200" and i == 60:
                    v = 5.0  # a counter reset
                vals.append(v)
            series.append(({"__name__": "http_requests_total", "job": "api",
                            "instance": inst, "status": status},
                           [[t, x] for t, x in zip(ts, vals)]))
        for le, share in (("0.1", 0.5), ("0.5", 0.8), ("1", 0.95), ("+Inf", 1.0)):
            vals, v = [], 0.0
            for i in range(POINTS):
                v += (10 + inst_i * 3 + (i % 4)) * share
                vals.append(round(v, 6))
            series.append(({"__name__": "http_request_duration_seconds_bucket",
                            "job": "api", "instance": inst, "le": le},
                           [[t, x] for t, x in zip(ts, vals)]))
        series.append(({"__name__": "temperature_celsius", "job": "sensors",
                        "instance": inst},
                       [[t, round(20 + 3 * math.sin(i / 7.0 + inst_i), 4)]
                        for i, t in enumerate(ts)]))
    return series


def canonical(body, ordered):
    doc = json.loads(body)
    if doc.get("status") != "success":
        return ("error", doc.get("errorType"))
    data = doc["data"]
    rtype, result = data["resultType"], data["result"]
    if rtype in ("scalar", "string"):
        return (rtype, [result])
    out = []
    for s in result:
        key = tuple(sorted(s["metric"].items()))
        pts = [s["value"]] if "value" in s else s["values"]
        out.append((key, pts))
    if not ordered:
        out.sort()
    return (rtype, out)


def close(a, b):
    fa, fb = float(a), float(b)
    if math.isnan(fa) and math.isnan(fb):
        return True
    if math.isinf(fa) or math.isinf(fb):
        return fa == fb
    return abs(fa - fb) <= 1e-9 * max(abs(fa), abs(fb), 1e-300) or fa == fb


def same(pa, va):
    (ta, ra), (tb, rb) = pa, va
    if ta != tb:
        return False
    if ta == "error":
        return ra == rb
    if ta in ("scalar", "string"):
        x, y = ra[0], rb[0]
        return float(x[0]) == float(y[0]) and (x[1] == y[1] if ta == "string" else close(x[1], y[1]))
    if len(ra) != len(rb):
        return False
    for (ka, pts_a), (kb, pts_b) in zip(ra, rb):
        if ka != kb or len(pts_a) != len(pts_b):
            return False
        for (t1, v1), (t2, v2) in zip(pts_a, pts_b):
            if float(t1) != float(t2) or not close(v1, v2):
                return False
    return True


def main():
    vigil_bin, rw_send = sys.argv[1], sys.argv[2]
    with u.Procs() as procs:
        prom = u.start_prometheus(procs, "global:\n  scrape_interval: 1h\n")
        vigil = u.start_vigil(procs, vigil_bin, "global:\n  scrape_interval: 1h\n")
        now_ms = int(time.time() * 1000)
        base = (now_ms // STEP_MS) * STEP_MS - (POINTS - 1) * STEP_MS
        data_file = os.path.join(procs.tmp, "data.jsonl")
        u.write_jsonl(data_file, build_data(base))
        rc = os.spawnv(os.P_WAIT, rw_send, [rw_send, "--url=" + prom + "/api/v1/write",
                                            "--url=" + vigil + "/api/v1/write", data_file])
        if rc != 0:
            sys.exit("rw_send failed (%d)\nvigil log:\n%s" % (rc, procs.log("vigil")))

        t_eval = (base + (POINTS - 2) * STEP_MS + 7500) / 1000.0
        failures, checked = [], 0
        for q in INSTANT_QUERIES + sorted(ORDERED_QUERIES):
            params = {"query": q, "time": "%.3f" % t_eval}
            sp, bp = u.http_get(prom + "/api/v1/query", params)
            sv, bv = u.http_get(vigil + "/api/v1/query", params)
            checked += 1
            ordered = q in ORDERED_QUERIES
            if sp != sv or not same(canonical(bp, ordered), canonical(bv, ordered)):
                failures.append("instant %s\n  prometheus (%d): %s\n  vigil (%d): %s" %
                                (q, sp, bp[:600], sv, bv[:600]))
        start = (base + 40 * STEP_MS + 7500) / 1000.0
        end = (base + (POINTS - 2) * STEP_MS + 7500) / 1000.0
        for q in RANGE_QUERIES:
            params = {"query": q, "start": "%.3f" % start, "end": "%.3f" % end, "step": "60"}
            sp, bp = u.http_get(prom + "/api/v1/query_range", params)
            sv, bv = u.http_get(vigil + "/api/v1/query_range", params)
            checked += 1
            if sp != sv or not same(canonical(bp, False), canonical(bv, False)):
                failures.append("range %s\n  prometheus (%d): %s\n  vigil (%d): %s" %
                                (q, sp, bp[:600], sv, bv[:600]))
        # Metadata endpoints over the same data.
        for path, params in (("/api/v1/labels", {"match[]": "http_requests_total"}),
                             ("/api/v1/label/instance/values", {"match[]": "temperature_celsius"}),
                             ("/api/v1/series", {"match[]": "temperature_celsius"})):
            sp, bp = u.http_get(prom + path, params)
            sv, bv = u.http_get(vigil + path, params)
            checked += 1
            dp, dv = json.loads(bp).get("data"), json.loads(bv).get("data")
            norm = (lambda d: sorted(json.dumps(x, sort_keys=True) for x in d)) if isinstance(dp, list) else (lambda d: d)
            if sp != sv or norm(dp) != norm(dv):
                failures.append("%s %s\n  prometheus: %s\n  vigil: %s" % (path, params, bp[:400], bv[:400]))
        for f in failures:
            print("MISMATCH " + f)
        print("query API diff: %d checked, %d passed, %d failed" %
              (checked, checked - len(failures), len(failures)))
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
