#!/usr/bin/env python3
"""Ingest comparison harness: vigil vs Prometheus vs VictoriaMetrics.

For each target and series count it starts the target on 127.0.0.1 with its
data in a temporary folder, runs the remote-write load generator against it,
and measures sustained ingest samples/s, CPU seconds per million samples
(utime+stime of the target from /proc), resident memory per active series
(RSS growth over the pre-ingest baseline) and, for vigil, bytes per sample in
head chunks. Writes bench/results/ingest-<date>.json and a Markdown table.

  python3 bench/ingest_compare.py --targets vigil,prometheus,victoriametrics \\
      --series 100000 --rounds 100

Python 3 standard library only. All waits are bounded; every process started
here is stopped by PID on exit.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness_lib import (  # noqa: E402
    BINARIES, DEFAULT_LOADGEN, DEFAULT_VIGIL, ROOT, TARGETS, add_common_args,
    first_existing, fmt, free_port, machine_info, proc_cpu_seconds, proc_rss_bytes,
    run_loadgen)


def run_one(kind, binary, loadgen, series, rounds, args):
    workdir = tempfile.mkdtemp(prefix=f"ingest-{kind}-")
    target = TARGETS[kind](binary, workdir, free_port(), args.target_arg.get(kind, []))
    result = {"target": kind, "binary": binary, "series": series, "rounds": rounds,
              "connections": args.connections, "batch": args.batch}
    try:
        target.start(args.ready_timeout)
        time.sleep(args.settle)
        pid = target.proc.pid
        rss0 = proc_rss_bytes(pid)
        cpu0 = proc_cpu_seconds(pid)
        load0 = os.getloadavg()[0]
        report_path = os.path.join(workdir, "loadgen.json")
        t0 = time.monotonic()
        report = run_loadgen(loadgen, target.write_url, series, rounds, report_path,
                             args.run_timeout, connections=args.connections,
                             batch=args.batch, scrape_interval=args.scrape_interval)
        # On a timeout keep what was measured: the target's own count of
        # samples stands in for the loadgen's report.
        timed_out = report is None
        wall = time.monotonic() - t0
        cpu_ingest = proc_cpu_seconds(pid) - cpu0
        if timed_out:
            report = {"samples_acked": None, "samples_per_second": None,
                      "requests_per_second": None,
                      "latency_ms": {"p50": None, "p90": None, "p99": None, "max": None},
                      "status_counts": {}, "retries": None, "failed_requests": None,
                      "loadgen_cpu_seconds": None}
        # Let background work (flushes, merges, GC) finish, so that it is paid
        # for in the CPU figure and RSS is the steady state.
        time.sleep(args.settle)
        stats = target.stats()
        cpu_total = proc_cpu_seconds(pid) - cpu0
        rss1 = proc_rss_bytes(pid)
        samples = report["samples_acked"]
        if timed_out:
            samples = int(stats.get("samples_appended") or stats.get("rows_inserted")
                          or stats.get("vigil_head_samples") or 0)
            report["samples_per_second"] = samples / wall if wall else None
        result.update({
            "ok": True,
            "partial": timed_out,
            "note": (f"loadgen stopped after --run-timeout={args.run_timeout:.0f}s; "
                     "samples counted by the target") if timed_out else "",
            "wall_seconds": wall,
            "samples": samples,
            "samples_per_second": report["samples_per_second"],
            "requests_per_second": report["requests_per_second"],
            "latency_ms": report["latency_ms"],
            "status_counts": report["status_counts"],
            "retries": report["retries"],
            "failed_requests": report["failed_requests"],
            "loadgen_cpu_seconds": report["loadgen_cpu_seconds"],
            "target_cpu_seconds_during_ingest": cpu_ingest,
            "target_cpu_seconds_with_settle": cpu_total,
            "cpu_seconds_per_million_samples": cpu_total / samples * 1e6 if samples else None,
            "rss_baseline_bytes": rss0,
            "rss_after_bytes": rss1,
            "rss_bytes_per_series": (rss1 - rss0) / series,
            "loadavg_1m_before": load0,
            "loadavg_1m_after": os.getloadavg()[0],
            "target_stats": stats,
            "bytes_per_sample": stats.get("bytes_per_sample"),
        })
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        result.update({"ok": False, "error": str(e)})
    finally:
        target.stop()
        if not args.keep_data:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            result["workdir"] = workdir
    return result


def markdown(results, info):
    lines = [
        f"Machine: {info.get('cpu', '?')}, {info.get('cores')} cores, "
        f"{info.get('os', '?')}; load average at start {info['loadavg_start'][0]:.2f} "
        "(other engineers compiling on the same cores: treat as noisy).",
        "",
        "| target | series | rounds | samples | samples/s | CPU s / 1M samples "
        "| RSS bytes / series | bytes / sample (chunks) | p99 ms | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if not r.get("ok"):
            lines.append(f"| {r['target']} | {r['series']} | {r['rounds']} | failed: "
                         f"{r.get('error', '?')[:80].splitlines()[0]} | | | | | | |")
            continue
        bad = sum(v for k, v in r["status_counts"].items() if not k.startswith("2"))
        bad = "n/a" if r.get("partial") else bad
        lines.append(
            f"| {r['target']} | {r['series']} | {r['rounds']}"
            f"{' (partial)' if r.get('partial') else ''} | {r['samples']} "
            f"| {fmt(r['samples_per_second'], ',.0f')} "
            f"| {fmt(r['cpu_seconds_per_million_samples'], '.2f')} "
            f"| {fmt(r['rss_bytes_per_series'], ',.0f')} "
            f"| {fmt(r['bytes_per_sample'], '.2f')} "
            f"| {fmt(r['latency_ms']['p99'], '.1f')} | {bad} |")
    return "\n".join(lines) + "\n"


def plot(results, path):
    """Bar charts of the per-sample and per-series costs (needs matplotlib,
    e.g. /usr/bin/python3 on Debian). Returns False when unavailable."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ok = [r for r in results if r.get("ok")]
    labels = [f"{r['target']}\n{r['series']:,} series" for r in ok]
    figs = [("samples_per_second", "samples/s"),
            ("cpu_seconds_per_million_samples", "CPU s / 1M samples"),
            ("rss_bytes_per_series", "RSS bytes / series")]
    fig, axes = plt.subplots(1, len(figs), figsize=(5 * len(figs), 4))
    for ax, (key, title) in zip(axes, figs):
        ax.bar(range(len(ok)), [r[key] or 0 for r in ok])
        ax.set_xticks(range(len(ok)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    # SIGTERM (timeout, Bazel) must still run the cleanup in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", default="100",
                   help="scrape rounds; one value, or one per --series entry")
    add_common_args(p, "prometheus,victoriametrics", run_timeout=1800.0)
    p.add_argument("--plot", action="store_true",
                   help="also write ingest-<date>.png (needs matplotlib)")
    args = p.parse_args()
    args.target_arg = {}

    loadgen = args.loadgen or first_existing(DEFAULT_LOADGEN)
    if not loadgen:
        sys.exit("no loadgen binary: bazel --output_base=$HOME/.cache/bazel-ob-bench "
                 "build -c opt //bench:loadgen, or pass --loadgen")
    series_list = [int(s) for s in args.series.split(",") if s]
    rounds_list = [int(r) for r in args.rounds.split(",") if r]
    if len(rounds_list) == 1:
        rounds_list *= len(series_list)
    if len(rounds_list) != len(series_list):
        sys.exit("--rounds needs one value or one per --series entry")

    binaries = {}
    for kind in [t for t in args.targets.split(",") if t]:
        if kind not in TARGETS:
            sys.exit(f"unknown target {kind!r}; want one of {', '.join(TARGETS)}")
        explicit = getattr(args, kind)
        binaries[kind] = explicit or first_existing(
            DEFAULT_VIGIL if kind == "vigil" else BINARIES[kind])
        if not binaries[kind]:
            sys.exit(f"no binary for {kind}; pass --{kind}=PATH")

    info = machine_info()
    results = []
    for kind, binary in binaries.items():
        for series, rounds in zip(series_list, rounds_list):
            print(f"== {kind}: {series} series x {rounds} rounds", flush=True)
            r = run_one(kind, binary, loadgen, series, rounds, args)
            results.append(r)
            if r.get("ok"):
                print(f"   {r['samples_per_second'] or 0:,.0f} samples/s, "
                      f"{r['cpu_seconds_per_million_samples']:.2f} CPU s/1M samples, "
                      f"{r['rss_bytes_per_series']:,.0f} B RSS/series", flush=True)
            else:
                print(f"   FAILED: {r['error']}", flush=True)

    info["loadavg_end"] = os.getloadavg()
    os.makedirs(args.out_dir, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    doc = {"date_utc": stamp, "machine": info, "note": args.note, "results": results}
    json_path = os.path.join(args.out_dir, f"ingest-{stamp}.json")
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=2)
    table = markdown(results, info)
    with open(os.path.join(args.out_dir, f"ingest-{stamp}.md"), "w") as f:
        f.write(table)
    if args.plot:
        png = os.path.join(args.out_dir, f"ingest-{stamp}.png")
        print(f"wrote {png}" if plot(results, png) else "no matplotlib: no plot")
    print()
    print(table)
    print(f"wrote {json_path}")
    return 0 if all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
