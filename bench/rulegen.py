#!/usr/bin/env python3
"""Rule-set generator for the capacity harness.

Writes a Prometheus rule file (YAML) whose expressions query the metric names
and labels the load generator sends (bench/loadgen/series.cc), so vigil,
Prometheus and vmalert can be loaded with the same N rules over the same
corpus. Standard library only; the output is a pure function of the
arguments (same arguments and --seed -> byte-identical file).

  python3 bench/rulegen.py --rules 1000 --groups 10 --interval 15s \
      --mix threshold=30,rate=20,ratio=15,histogram_quantile=10,absent=5,over_time=20 \
      --seed 1 --out /tmp/rules.yml

Kinds:
  threshold           gauge compared with a constant (go_goroutines > 80)
  rate                rate() of a counter, optionally summed by a label
  ratio               ratio of two sum-by aggregations of rate() (error ratio)
  histogram_quantile  p50..p99 of a classic histogram's buckets
  absent              absent() of a series selector
  over_time           avg/max/min/count/quantile_over_time of a gauge
"""

import argparse
import random
import re
import sys

# Metric families as bench/loadgen/series.cc builds them; every series also
# carries job, instance and region.
JOBS = ["api", "node", "db", "frontend"]
REGIONS = ["eu-west-1", "us-east-1", "ap-south-1"]
HANDLERS = ["/api/v1/query", "/api/v1/write", "/metrics", "/login", "/cart",
            "/search"]
GRPC_METHODS = ["Get", "Put", "List"]

# (name, {label: values}) of the counters.
COUNTERS = [
    ("http_requests_total",
     {"handler": HANDLERS, "method": ["GET", "POST"], "status": ["200", "500"]}),
    ("process_cpu_seconds_total", {}),
    ("node_network_receive_bytes_total", {"device": ["eth0", "lo"]}),
    ("node_network_transmit_bytes_total", {"device": ["eth0", "lo"]}),
    ("node_cpu_seconds_total",
     {"cpu": ["0", "1"], "mode": ["idle", "user", "system", "iowait"]}),
    ("grpc_server_handled_total",
     {"grpc_code": ["OK", "Unavailable"], "grpc_method": GRPC_METHODS}),
    ("node_context_switches_total", {}),
    ("node_intr_total", {}),
    ("go_memstats_alloc_bytes_total", {}),
]

# (name, {label: values}, (low, high) range a threshold is drawn from).
GAUGES = [
    ("process_resident_memory_bytes", {}, (1e6, 1e9)),
    ("process_open_fds", {}, (10, 1000)),
    ("go_goroutines", {}, (10, 1000)),
    ("go_threads", {}, (5, 100)),
    ("node_load1", {}, (0.5, 8)),
    ("node_memory_MemAvailable_bytes", {}, (1e6, 1e9)),
    ("node_filesystem_avail_bytes", {"mountpoint": ["/", "/var"]}, (1e6, 1e10)),
    ("queue_length", {"queue": ["ingest", "notify", "compact"]}, (10, 1000)),
]

# Ratios: (numerator counter, numerator matcher, denominator matcher, by).
RATIOS = [
    ("http_requests_total", 'status="500"', "", ["job", "handler"]),
    ("http_requests_total", 'status="500"', "", ["job"]),
    ("http_requests_total", 'status="500",method="POST"', 'method="POST"',
     ["region"]),
    ("grpc_server_handled_total", 'grpc_code="Unavailable"', "",
     ["job", "grpc_method"]),
    ("node_cpu_seconds_total", 'mode="iowait"', "", ["instance"]),
    ("node_cpu_seconds_total", 'mode!="idle"', "", ["job", "region"]),
]

HISTOGRAMS = [
    ("http_request_duration_seconds", "handler", HANDLERS),
    ("grpc_server_handling_seconds", "grpc_method", GRPC_METHODS),
]

KINDS = ["threshold", "rate", "ratio", "histogram_quantile", "absent",
         "over_time"]
DEFAULT_MIX = "threshold=30,rate=20,ratio=15,histogram_quantile=10,absent=5,over_time=20"
RANGES = ["1m", "2m", "5m"]
DURATION_RE = re.compile(r"^([0-9]+(ms|s|m|h))+$")


def parse_mix(text):
    """'threshold=3,rate=1' -> {kind: weight}; raises ValueError naming the bad part."""
    mix = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"--mix: '{part}' is not KIND=WEIGHT")
        kind, weight = part.split("=", 1)
        kind = kind.strip()
        if kind not in KINDS:
            raise ValueError(f"--mix: unknown kind '{kind}' (kinds: {', '.join(KINDS)})")
        try:
            w = float(weight)
        except ValueError:
            raise ValueError(f"--mix: weight of '{kind}' is not a number: '{weight}'")
        if w < 0:
            raise ValueError(f"--mix: weight of '{kind}' is negative")
        mix[kind] = mix.get(kind, 0) + w
    if sum(mix.values()) <= 0:
        raise ValueError("--mix: all weights are zero")
    return mix


def allocate(total, mix):
    """Exact rule counts per kind (largest remainder), in KINDS order."""
    weight_sum = sum(mix.values())
    shares = [(k, total * mix.get(k, 0) / weight_sum) for k in KINDS]
    counts = {k: int(s) for k, s in shares}
    left = total - sum(counts.values())
    by_remainder = sorted(shares, key=lambda ks: (-(ks[1] - int(ks[1])), KINDS.index(ks[0])))
    for k, _ in by_remainder[:left]:
        counts[k] += 1
    return counts


def fmt_number(x):
    return f"{x:.3g}"


def pick_matchers(rng, labels, extra_prob=0.5):
    """Label matchers: one of job/region, maybe one family label."""
    ms = []
    if rng.random() < 0.7:
        ms.append(f'job="{rng.choice(JOBS)}"')
    else:
        ms.append(f'region="{rng.choice(REGIONS)}"')
    if labels and rng.random() < extra_prob:
        name = rng.choice(sorted(labels))
        ms.append(f'{name}="{rng.choice(labels[name])}"')
    return ",".join(ms)


def gen_threshold(rng):
    name, labels, (lo, hi) = rng.choice(GAUGES)
    if rng.random() < 0.1:
        return f'up{{{pick_matchers(rng, {})}}} == 0', "up"
    op = rng.choice([">", "<"])
    value = rng.uniform(lo, hi)
    return f"{name}{{{pick_matchers(rng, labels)}}} {op} {fmt_number(value)}", name


def gen_rate(rng):
    name, labels = rng.choice(COUNTERS)
    rng_ = rng.choice(RANGES)
    sel = f"{name}{{{pick_matchers(rng, labels)}}}"
    fn = rng.choice(["rate", "rate", "irate", "increase"])
    expr = f"{fn}({sel}[{rng_}])"
    if rng.random() < 0.5:
        by = rng.choice([["job"], ["region"], ["job", "region"]] +
                        [[l] for l in sorted(labels)])
        expr = f"sum by ({', '.join(by)}) ({expr})"
    return f"{expr} > {fmt_number(rng.uniform(0.1, 100))}", name


def gen_ratio(rng):
    name, num, den, by = rng.choice(RATIOS)
    rng_ = rng.choice(RANGES)
    scope = f'region="{rng.choice(REGIONS)}"' if rng.random() < 0.5 else ""

    def sel(m):
        both = ",".join(x for x in (m, scope) if x)
        return f"{name}{{{both}}}" if both else name

    agg = f"sum by ({', '.join(by)})"
    expr = (f"{agg} (rate({sel(num)}[{rng_}])) / "
            f"{agg} (rate({sel(den)}[{rng_}]))")
    return f"{expr} > {fmt_number(rng.uniform(0.01, 0.5))}", name


def gen_quantile(rng):
    base, label, values = rng.choice(HISTOGRAMS)
    q = rng.choice([0.5, 0.9, 0.95, 0.99])
    rng_ = rng.choice(RANGES)
    m = pick_matchers(rng, {label: values})
    by = rng.choice([["le"], ["le", "job"], ["le", label], ["le", "region", label]])
    expr = (f"histogram_quantile({q}, sum by ({', '.join(by)}) "
            f"(rate({base}_bucket{{{m}}}[{rng_}])))")
    return f"{expr} > {fmt_number(rng.uniform(0.05, 5))}", base


def gen_absent(rng):
    if rng.random() < 0.5:
        name, labels, _ = rng.choice(GAUGES)
    else:
        name, labels = rng.choice(COUNTERS)
    if rng.random() < 0.2:
        # A selector nothing matches, so some absent() rules fire.
        return f'absent({name}{{job="missing-{rng.randrange(1000)}"}})', name
    return f"absent({name}{{{pick_matchers(rng, labels)}}})", name


def gen_over_time(rng):
    name, labels, (lo, hi) = rng.choice(GAUGES)
    rng_ = rng.choice(RANGES)
    sel = f"{name}{{{pick_matchers(rng, labels)}}}[{rng_}]"
    fn = rng.choice(["avg_over_time", "max_over_time", "min_over_time",
                     "count_over_time", "quantile_over_time"])
    if fn == "quantile_over_time":
        expr = f"quantile_over_time({rng.choice([0.5, 0.9, 0.99])}, {sel})"
    else:
        expr = f"{fn}({sel})"
    if fn == "count_over_time":
        return f"{expr} < {rng.randint(2, 20)}", name
    return f"{expr} > {fmt_number(rng.uniform(lo, hi))}", name


GENERATORS = {
    "threshold": gen_threshold,
    "rate": gen_rate,
    "ratio": gen_ratio,
    "histogram_quantile": gen_quantile,
    "absent": gen_absent,
    "over_time": gen_over_time,
}


def yaml_quote(s):
    """Single-quoted YAML scalar: no escapes except '' for '."""
    return "'" + s.replace("'", "''") + "'"


def generate(rules, groups, interval, mix, seed, recording_share):
    """The rule file as a string, plus the per-kind counts."""
    rng = random.Random(seed)
    counts = allocate(rules, mix)
    kinds = [k for k in KINDS for _ in range(counts[k])]
    rng.shuffle(kinds)
    per_group = [[] for _ in range(groups)]
    for i, kind in enumerate(kinds):
        expr, metric = GENERATORS[kind](rng)
        per_group[i % groups].append((i, kind, expr, metric,
                                      rng.random() < recording_share))
    out = [
        "# Generated by bench/rulegen.py; do not edit.",
        f"# rules={rules} groups={groups} interval={interval} seed={seed} "
        f"recording_share={recording_share}",
        "# kinds: " + ", ".join(f"{k}={counts[k]}" for k in KINDS),
        "groups:",
    ]
    for g, members in enumerate(per_group):
        out.append(f"  - name: bench_{g:03d}")
        out.append(f"    interval: {interval}")
        if not members:
            out.append("    rules: []")
            continue
        out.append("    rules:")
        for i, kind, expr, metric, recording in members:
            if recording:
                # Recording rules keep the comparison: the filtered vector is
                # what a dashboard would store.
                out.append(f"      - record: bench:{metric}:{kind}_{i:05d}")
                out.append(f"        expr: {yaml_quote(expr)}")
                out.append("        labels:")
                out.append(f"          rule_kind: {kind}")
                continue
            severity = "page" if rng.random() < 0.2 else "ticket"
            out.append(f"      - alert: Bench{kind.title().replace('_', '')}{i:05d}")
            out.append(f"        expr: {yaml_quote(expr)}")
            out.append(f"        for: {rng.choice(['0s', '30s', '1m', '5m'])}")
            out.append("        labels:")
            out.append(f"          severity: {severity}")
            out.append(f"          rule_kind: {kind}")
            out.append("        annotations:")
            out.append("          summary: " + yaml_quote(
                f"{metric} on {{{{ $labels.instance }}}} is {{{{ $value }}}}"))
    return "\n".join(out) + "\n", counts


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rules", type=int, default=1000, help="number of rules")
    p.add_argument("--groups", type=int, default=10, help="number of rule groups")
    p.add_argument("--interval", default="15s", help="evaluation interval of every group")
    p.add_argument("--mix", default=DEFAULT_MIX,
                   help=f"KIND=WEIGHT,... over {', '.join(KINDS)} (default {DEFAULT_MIX})")
    p.add_argument("--recording_share", type=float, default=0.2,
                   help="share of rules written as recording rules (0..1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="-", help="output file ('-' = stdout)")
    a = p.parse_args(argv)
    try:
        if a.rules < 1:
            raise ValueError(f"--rules must be >= 1, got {a.rules}")
        if a.groups < 1:
            raise ValueError(f"--groups must be >= 1, got {a.groups}")
        if not DURATION_RE.match(a.interval) or not re.search(r"[1-9]", a.interval):
            raise ValueError(f"--interval: '{a.interval}' is not a positive duration like 15s or 1m")
        if not 0 <= a.recording_share <= 1:
            raise ValueError(f"--recording_share must be in [0, 1], got {a.recording_share}")
        mix = parse_mix(a.mix)
    except ValueError as e:
        print(f"rulegen: {e}", file=sys.stderr)
        return 2
    text, counts = generate(a.rules, a.groups, a.interval, mix, a.seed,
                            a.recording_share)
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w") as f:
            f.write(text)
        print(f"rulegen: wrote {a.rules} rules in {a.groups} groups to {a.out} ("
              + ", ".join(f"{k}={counts[k]}" for k in KINDS) + ")", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
