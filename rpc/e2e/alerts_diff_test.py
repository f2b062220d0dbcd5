#!/usr/bin/env python3
"""Differential test of alert evaluation: the same rule file and the same
remote-written samples go to Debian's Prometheus (remote-write receiver on)
and to vigil. Over a scripted scenario (thresholds crossed and cleared,
`for`, `keep_firing_for`, a recording rule feeding an alert), the pending and
firing alerts of both /api/v1/alerts (labels, state, activeAt) must agree at
every check. Groups evaluate at Prometheus' aligned timestamps, so activeAt
agrees to the millisecond only if vigil's group offsets match Prometheus'.

usage: alerts_diff_test.py VIGIL_BIN RW_SEND_BIN
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

INTERVAL_S = 2
SCENARIO_S = 44

RULES = """
groups:
  - name: diff
    interval: %ds
    rules:
      - alert: HighTemperature
        expr: temperature_celsius > 25
        for: 6s
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value }} degrees"
      - alert: TargetDown
        expr: probe_up == 0
        labels:
          severity: critical
      - alert: Flapping
        expr: flappy > 0
        for: 2s
        keep_firing_for: 6s
      - record: instance:temperature_celsius:max
        expr: max by (instance) (temperature_celsius)
      - alert: VeryHot
        expr: instance:temperature_celsius:max > 35
        for: 4s
""" % INTERVAL_S


def scenario(t0_ms):
    """Samples every second from t0-10s to t0+SCENARIO_S+10s."""
    series = {}

    def add(labels, fn):
        key = json.dumps(labels, sort_keys=True)
        series[key] = (labels, [[t0_ms + s * 1000, fn(s)] for s in range(-10, SCENARIO_S + 10)])

    add({"__name__": "temperature_celsius", "instance": "a"},
        lambda s: 30.0 if 6 <= s < 26 else 20.0)
    add({"__name__": "temperature_celsius", "instance": "b"},
        lambda s: 40.0 if 10 <= s < 20 else 27.0)
    add({"__name__": "probe_up", "instance": "x"},
        lambda s: 0.0 if 12 <= s < 22 else 1.0)
    add({"__name__": "flappy", "instance": "f"},
        lambda s: 1.0 if (4 <= s < 9) or (16 <= s < 18) else 0.0)
    return list(series.values())


def to_ms(rfc3339):
    """An RFC 3339 UTC time truncated to the millisecond."""
    if rfc3339 is None:
        return None
    t = rfc3339.replace("Z", "")
    whole, _, frac = t.partition(".")
    return whole + "." + (frac + "000")[:3]


def same_tick(a, b):
    """lastEvaluation is the wall time an evaluation began, a little after
    its tick: two within half an interval of each other evaluated one tick."""
    if a is None or b is None:
        return False
    return abs(u.parse_time(a) - u.parse_time(b)) < INTERVAL_S / 2.0


def alerts(base):
    status, body = u.http_get(base + "/api/v1/alerts")
    if status != 200:
        return None
    out = set()
    for a in json.loads(body)["data"]["alerts"]:
        labels = tuple(sorted(a["labels"].items()))
        # Prometheus keeps the evaluation time in nanoseconds; samples and
        # vigil use milliseconds. Compare to the millisecond.
        active = to_ms(a["activeAt"])
        out.add((labels, a["state"], active))
    return out


def last_eval(base):
    status, body = u.http_get(base + "/api/v1/rules")
    if status != 200:
        return None
    for g in json.loads(body)["data"]["groups"]:
        if g["name"] == "diff":
            return g["lastEvaluation"]
    return None


def main():
    vigil_bin, rw_send = sys.argv[1], sys.argv[2]
    with u.Procs() as procs:
        rules = procs.write("rules.yml", RULES)
        config = ("global:\n  scrape_interval: 1h\n  evaluation_interval: %ds\n"
                  "rule_files:\n  - %s\n" % (INTERVAL_S, rules))
        prom = u.start_prometheus(procs, config)
        # Debian's Prometheus 2.42 predates stringlabels: line vigil's group
        # evaluation slots up with its hash layout.
        vigil = u.start_vigil(procs, vigil_bin, config,
                              extra=["--rules.legacy-group-offset-hash=true"])
        t0_ms = (int(time.time()) + 6) * 1000
        data = os.path.join(procs.tmp, "data.jsonl")
        u.write_jsonl(data, scenario(t0_ms))
        u.rw_send(procs, rw_send, [prom + "/api/v1/write", vigil + "/api/v1/write"], data)

        checks, mismatches, nonempty = 0, [], 0
        deadline = t0_ms / 1000.0 + SCENARIO_S
        skipped = 0
        while time.time() < deadline:
            # Wait for Prometheus' next evaluation, then look a little
            # later, when vigil has evaluated the same tick. Compare only
            # when both evaluated that tick and neither evaluated while we
            # looked: on a loaded machine either may run late.
            le_p = last_eval(prom)
            poll_until = time.time() + 2 * INTERVAL_S
            while last_eval(prom) == le_p and time.time() < poll_until:
                time.sleep(0.05)
            time.sleep(INTERVAL_S * 0.3)
            le_p, le_v = last_eval(prom), last_eval(vigil)
            a_prom, a_vigil = alerts(prom), alerts(vigil)
            le_p_after, le_v_after = last_eval(prom), last_eval(vigil)
            if (le_p != le_p_after or le_v != le_v_after or
                    not same_tick(le_p, le_v)):
                skipped += 1
                continue
            checks += 1
            if a_prom:
                nonempty += 1
            if a_prom != a_vigil:
                mismatches.append("at %.1fs (tick %s): prometheus %s\n           vigil %s" %
                                  (time.time() - t0_ms / 1000.0, le_v, sorted(a_prom or []),
                                   sorted(a_vigil or [])))
        for m in mismatches:
            print("MISMATCH " + m)
        print("alerts diff: %d checks (%d with alerts), %d passed, %d failed, "
              "%d looks skipped (evaluation during the look or ticks apart)" %
              (checks, nonempty, checks - len(mismatches), len(mismatches), skipped))
        if mismatches:
            print("vigil log (tail):\n" + procs.log("vigil")[-4000:])
        if checks < 10 or nonempty < 5:
            sys.exit("too few comparable checks: the scenario did not run")
        sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
