#!/usr/bin/env python3
"""Capacity harness: vigil vs Prometheus 2.42 vs VictoriaMetrics 1.79 + vmalert.

One command runs, for every target and every load step, the same corpus (the
remote-write load generator, fixed seed) and the same rule file (rulegen.py):

  python3 bench/capacity.py --targets vigil,prometheus,victoriametrics \\
      --series 100000 --rules 1000

Per step and target: start the target on 127.0.0.1 in a temp folder with its
rule engine off; backfill `--rounds` scrapes ending about now (ingest
samples/s, CPU s per 1M samples, RSS per active series, 429/503 answers);
top the corpus up to now when the backfill took long; load the rules (SIGHUP
for vigil and Prometheus, vmalert started against VictoriaMetrics) and let
them run `--cycles` evaluation cycles (bounded by `--eval-timeout`): CPU of
the target's processes per cycle (VictoriaMetrics' CPU counted with
vmalert's), the targets' own group durations and missed iterations.
`--latency N` adds end-to-end alert latency (bench/latency_compare.py).
`--ramp` stops a target at its first step that falls behind (ingest slower
than real time, 429/503, or an evaluation longer than its interval) and
reports its largest passing step. `--report A.json [B.json ...]` rebuilds the
report (tables, checks, plots) from earlier result files, merged.

Writes bench/results/capacity-<UTC stamp>.json, .md and -<plot>.svg (SVG
written here, standard library only). Every wait is bounded; every process
started is stopped by PID, also on failure or SIGTERM.
"""

import argparse
import datetime
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness_lib as hl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_TITLES = {"vigil": "vigil", "prometheus": "Prometheus 2.42",
                 "victoriametrics": "VictoriaMetrics 1.79 + vmalert"}
# latency_compare.py names VictoriaMetrics by its rule engine.
LATENCY_NAMES = {"vigil": "vigil", "prometheus": "prometheus", "victoriametrics": "vmalert"}
LATENCY_INTERVAL_MS = 1000.0  # latency_compare.py evaluates every 1 s
DURATION_RE = re.compile(r"^([0-9]+)(ms|s|m|h)$")


class UsageError(Exception):
    """A bad command-line parameter; the message names it."""


def parse_duration(text, param):
    m = DURATION_RE.match(text or "")
    if not m or int(m.group(1)) == 0:
        raise UsageError(f"{param}: want a positive duration like 15s or 1m, got {text!r}")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def parse_int_list(text, param, minimum=1):
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{param}: want comma-separated integers, got {text!r}") from None
    if not vals or any(v < minimum for v in vals):
        raise UsageError(f"{param}: every value must be >= {minimum}, got {text!r}")
    return vals


def validate(args):
    """Checks and normalises the parameters; raises UsageError naming the bad one."""
    args.target_list = [t for t in args.targets.split(",") if t]
    if not args.target_list:
        raise UsageError("--targets: empty")
    for t in args.target_list:
        if t not in hl.TARGETS:
            raise UsageError(f"--targets: unknown target {t!r}; want one of "
                             f"{', '.join(hl.TARGETS)}")
    args.series_list = parse_int_list(args.series, "--series")
    if args.ramp and args.series_list != sorted(args.series_list):
        raise UsageError("--series: ramp steps must be in increasing order")
    args.scrape_s = parse_duration(args.scrape_interval, "--scrape-interval")
    args.eval_s = parse_duration(args.eval_interval, "--eval-interval")
    if args.rounds == "auto":
        # Enough data for the rules' [5m] windows, plus one interval.
        args.rounds_list = [int(math.ceil(360 / args.scrape_s))] * len(args.series_list)
    else:
        args.rounds_list = parse_int_list(args.rounds, "--rounds", minimum=2)
        if len(args.rounds_list) == 1:
            args.rounds_list *= len(args.series_list)
        if len(args.rounds_list) != len(args.series_list):
            raise UsageError("--rounds: one value, or one per --series entry")
    if args.rules < 1:
        raise UsageError("--rules: must be >= 1")
    if args.groups < 1 or args.groups > args.rules:
        raise UsageError("--groups: must be between 1 and --rules")
    if args.cycles < 1:
        raise UsageError("--cycles: must be >= 1")
    if args.churn < 0:
        raise UsageError("--churn: must be >= 0")
    if args.latency < 0:
        raise UsageError("--latency: must be >= 0 crossings")
    for name in ("eval_timeout", "run_timeout", "settle"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')}: must be > 0")
    return args


def churn_per_round(churn_per_minute, scrape_s):
    """loadgen's --churn is per round; the harness takes series per minute."""
    return int(round(churn_per_minute * scrape_s / 60.0))


def write_rules(args, path):
    cmd = [sys.executable, os.path.join(HERE, "rulegen.py"), f"--rules={args.rules}",
           f"--groups={args.groups}", f"--interval={args.eval_interval}",
           f"--seed={args.rule_seed}", f"--out={path}"]
    if args.mix:
        cmd.append(f"--mix={args.mix}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise UsageError(f"rulegen: {r.stderr.strip()}")
    with open(path) as f:
        header = [line.strip("# \n") for line in f.readlines()[1:3] if line.startswith("#")]
    return header


class RuleWatcher:
    """Accumulates rule-engine snapshots of one target over a window: group
    iterations completed, their durations, missed iterations."""

    def __init__(self, first, interval_s):
        self.interval_s = interval_s
        self.first = first
        self.last = first
        self.changes = 0
        self.durations = []
        # (group, evaluation timestamp, duration s, first seen for the group)
        self.evaluations = []
        self.max_reported = None

    def add(self, snap):
        if snap["groups"] is not None and self.last["groups"] is not None:
            for g, (ts, dur) in snap["groups"].items():
                prev = self.last["groups"].get(g)
                if prev is None or prev[0] != ts:
                    self.changes += 1
                    self.durations.append(dur)
                    self.evaluations.append((g, ts, dur, prev is None))
        if snap.get("max") is not None:
            self.max_reported = max(self.max_reported or 0.0, snap["max"])
        self.last = snap

    def result(self):
        def delta(key):
            a, b = self.first.get(key), self.last.get(key)
            return None if a is None or b is None else b - a
        count = delta("count")
        iterations = count if count is not None else (
            self.changes if self.first["groups"] is not None else None)
        mean = None
        if count and delta("sum") is not None:
            mean = delta("sum") / count
        elif self.durations:
            mean = sum(self.durations) / len(self.durations)
        return {"group_iterations": iterations,
                "group_duration_mean_s": mean,
                "group_duration_max_s": (max(self.durations) if self.durations
                                         else self.max_reported),
                # Seen only where the target reports each group's last run.
                "evaluations_over_interval": (
                    sum(1 for d in self.durations if d >= self.interval_s)
                    if self.first["groups"] is not None else None),
                # The five longest, and whether each was its group's first
                # evaluation (cold caches) or a steady one.
                "longest_evaluations": [
                    {"group": g, "timestamp": ts, "duration_s": d,
                     "first_of_group": first}
                    for g, ts, d, first in sorted(
                        self.evaluations, key=lambda e: -e[2])[:5]],
                "missed_iterations": delta("missed")}


def poll_rules(target, watcher, until, min_end, want_iterations, poll_s):
    """Polls until `want_iterations` group iterations are done (and min_end
    passed) or `until`; bounded by the deadlines."""
    while True:
        now = time.monotonic()
        if now >= until:
            return False
        time.sleep(min(poll_s, max(0.0, until - now)))
        try:
            watcher.add(target.rule_snapshot())
        except (OSError, ValueError, KeyError) as e:
            watcher.last_error = str(e)
        it = watcher.result()["group_iterations"] or 0
        if it >= want_iterations and time.monotonic() >= min_end:
            return True


def clean_symbol(text):
    """perf pads the symbol column; keep the symbol, at most 120 characters."""
    return re.split(r"\s{2,}", text.strip())[0][:120]


class Profiler:
    """`perf record` of one running process from start() to stop(), then
    its top symbols. Owns the perf process; one thread drives it."""

    def __init__(self, pid, path):
        self.pid, self.path, self.proc, self.t0 = pid, path, None, None

    def start(self):
        try:
            self.proc = subprocess.Popen(
                ["perf", "record", "-F", "199", "-p", str(self.pid), "-o", self.path],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, start_new_session=True)
            self.t0 = time.monotonic()
        except OSError as e:
            self.error = str(e)
        return self

    def stop(self, limit=15):
        if self.proc is None:
            return {"error": getattr(self, "error", "perf not started")}
        seconds = time.monotonic() - self.t0
        try:
            # SIGINT makes perf write its file and exit.
            self.proc.send_signal(signal.SIGINT)
            _, err = self.proc.communicate(timeout=60)
            if not os.path.exists(self.path):
                return {"error": (err or "").strip()[-300:]}
            rep = subprocess.run(["perf", "report", "-i", self.path, "--stdio",
                                  "--no-children", "--sort", "dso,symbol",
                                  "--percent-limit", "1"],
                                 capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.proc.kill()
            return {"error": str(e)}
        top = []
        for line in rep.stdout.splitlines():
            m = re.match(r"^\s+([0-9.]+)%\s+(\S+)\s+\[.\]\s+(.*)$", line)
            if m:
                top.append({"percent": float(m.group(1)), "dso": m.group(2),
                            "symbol": clean_symbol(m.group(3))})
        return {"seconds": round(seconds), "top": top[:limit]}


def run_step(kind, binary, series, rounds, args, rule_file, sink):
    """One target at one load step; returns the step's result (never raises
    for a target failure: the error is recorded)."""
    workdir = tempfile.mkdtemp(prefix=f"capacity-{kind}-")
    extra = list(args.target_arg.get(kind, []))
    kw = {"vmalert": args.vmalert_bin} if kind == "victoriametrics" else {}
    target = hl.TARGETS[kind](binary, workdir, hl.free_port(), extra,
                              eval_interval=args.eval_interval, alert_port=sink.port, **kw)
    res = {"target": kind, "series": series, "rounds": rounds,
           "scrape_interval_s": args.scrape_s, "eval_interval_s": args.eval_s,
           "churn_per_minute": args.churn, "loadavg_1m_start": os.getloadavg()[0]}
    try:
        target.start(args.ready_timeout)
        time.sleep(args.settle)
        rss0, cpu0 = target.rss_bytes(), target.cpu_seconds()
        # Backfill ending one interval before now, so the rules' windows
        # hold the corpus when they start.
        start = int(time.time() - rounds * args.scrape_s)
        prof = (Profiler(target.proc.pid, os.path.join(workdir, "ingest.perf")).start()
                if args.profile and kind == "vigil" else None)
        t0 = time.monotonic()
        report = hl.run_loadgen(
            args.loadgen, target.write_url, series, rounds,
            os.path.join(workdir, "loadgen.json"), args.run_timeout,
            connections=args.connections, batch=args.batch,
            scrape_interval=args.scrape_interval,
            churn=churn_per_round(args.churn, args.scrape_s), start=start)
        wall = time.monotonic() - t0
        ingest_profile = prof.stop() if prof else None
        time.sleep(args.settle)  # background work is part of the ingest cost
        stats = target.stats()
        cpu1, rss1 = target.cpu_seconds(), target.rss_bytes()
        partial = report is None
        if partial:
            samples = int(stats.get("samples_appended") or stats.get("rows_inserted")
                          or stats.get("vigil_head_samples") or 0)
            status, failed = {}, None
        else:
            samples = report["samples_acked"]
            status, failed = report["status_counts"], report["failed_requests"]
        sps = samples / wall if wall else None
        needed = series / args.scrape_s
        overload = sum(v for k, v in status.items() if k in ("429", "503"))
        res["ingest"] = {
            "samples": samples, "wall_seconds": wall, "samples_per_second": sps,
            "realtime_samples_per_second": needed,
            "keeps_up": bool(not partial and sps and sps >= needed and not failed
                             and not overload),
            "partial": partial,
            "cpu_seconds": cpu1 - cpu0,
            "cpu_seconds_per_million_samples": (cpu1 - cpu0) / samples * 1e6 if samples else None,
            "samples_per_cpu_second": samples / (cpu1 - cpu0) if cpu1 > cpu0 else None,
            "rss_baseline_bytes": rss0, "rss_after_bytes": rss1,
            "rss_bytes_per_series": (rss1 - rss0) / series,
            "status_counts": status, "overload_answers": overload,
            "failed_requests": failed,
            "latency_ms": None if partial else report["latency_ms"],
            "loadgen_cpu_seconds": None if partial else report["loadgen_cpu_seconds"],
            "target_stats": stats,
        }
        if ingest_profile is not None:
            res["ingest"]["profile"] = ingest_profile
        print(f"   ingest: {hl.fmt(sps, ',.0f')} samples/s "
              f"(real time needs {needed:,.0f}), "
              f"{hl.fmt(res['ingest']['cpu_seconds_per_million_samples'], '.2f')} CPU s/1M, "
              f"{res['ingest']['rss_bytes_per_series']:,.0f} B RSS/series"
              f"{' PARTIAL' if partial else ''}", flush=True)
        if partial:
            res["rules"] = {"skipped": "ingest did not finish within --run-timeout"}
            res["ok"] = True
            return res
        # Top up to now when the backfill was slow, so that rules see fresh
        # data; counters restart (a reset rate() handles), one pass only.
        last = start + (rounds - 1) * args.scrape_s
        gap_rounds = int((time.time() - last) // args.scrape_s) - 1
        topped = 0
        if gap_rounds >= 1:
            topped = min(gap_rounds, rounds)
            hl.run_loadgen(args.loadgen, target.write_url, series, topped,
                           os.path.join(workdir, "topup.json"), args.run_timeout,
                           connections=args.connections, batch=args.batch,
                           scrape_interval=args.scrape_interval,
                           start=int(last + args.scrape_s))
            last += topped * args.scrape_s
        res["topup_rounds"] = topped
        try:
            res["rules"] = measure_rules(target, args, rule_file, last, workdir)
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            # The ingest figures stand; the rule part is reported as failed.
            res["rules"] = {"error": str(e)}
        res["ok"] = True
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        res.update({"ok": False, "error": str(e)})
    finally:
        target.stop()
        res["loadavg_1m_end"] = os.getloadavg()[0]
        if args.keep_data:
            res["workdir"] = workdir
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return res


def measure_rules(target, args, rule_file, newest_ts, workdir):
    """Loads the rules and measures `--cycles` evaluation cycles."""
    target.load_rules(rule_file, args.ready_timeout)
    age_at_load = time.time() - newest_ts
    # Let every group start (the first evaluation builds caches); the window
    # then covers steady cycles only. With --profile the first evaluations
    # get a profile of their own.
    warm = (Profiler(target.proc.pid, os.path.join(workdir, "rules-first.perf")).start()
            if args.profile and target.name == "vigil" else None)
    time.sleep(min(args.eval_s, 30))
    warm_profile = warm.stop() if warm else None
    watcher = RuleWatcher(target.rule_snapshot(), args.eval_s)
    cpu0, t0 = target.cpu_seconds(), time.monotonic()
    # Sampled while the window runs: where vigil's rule-cycle time goes.
    prof = (Profiler(target.proc.pid, os.path.join(workdir, "rules.perf")).start()
            if args.profile and target.name == "vigil" else None)
    done = poll_rules(target, watcher, t0 + args.eval_timeout,
                      t0 + args.cycles * args.eval_s, args.cycles * args.groups, args.poll)
    cpu = target.cpu_seconds() - cpu0
    window = time.monotonic() - t0
    profile = prof.stop() if prof else None
    r = watcher.result()
    cycles = (r["group_iterations"] or 0) / args.groups
    r.update({
        "window_seconds": window, "cpu_seconds": cpu, "cycles": cycles,
        "complete": done,
        "cpu_seconds_per_cycle": cpu / cycles if cycles > 0 else None,
        # No group finished inside the window: all of its CPU went to
        # iterations still running, so one cycle costs at least that much.
        "cpu_seconds_per_cycle_at_least": cpu if cycles == 0 else None,
        "cpu_share_of_interval": cpu / window if window else None,
        # Rules look back 5m at most: data older than that at load time
        # would make their cycles cheaper than they are.
        "newest_sample_age_at_load_s": age_at_load,
        "newest_sample_age_s": time.time() - newest_ts,
        "fits_interval": bool(cycles >= 1 and r["group_duration_max_s"] is not None
                              and r["group_duration_max_s"] < args.eval_s
                              and not r["missed_iterations"]
                              and not r["evaluations_over_interval"]),
        "rss_bytes": target.rss_bytes(),
    })
    if getattr(watcher, "last_error", None):
        r["poll_error"] = watcher.last_error
    if profile is not None:
        r["profile"] = profile
    if warm_profile is not None:
        r["profile_first_evaluations"] = warm_profile
    print(f"   rules: {cycles:.2f} cycles in {window:.0f}s, "
          f"{hl.fmt(r['cpu_seconds_per_cycle'], '.2f')} CPU s/cycle, group duration "
          f"mean {hl.fmt(r['group_duration_mean_s'], '.3f')}s max "
          f"{hl.fmt(r['group_duration_max_s'], '.3f')}s, missed "
          f"{hl.fmt(r['missed_iterations'], '.0f')}", flush=True)
    for e in r.get("longest_evaluations") or []:
        print(f"   longest: {e['group']} at {e['timestamp']:.3f} took "
              f"{e['duration_s']:.2f}s"
              + (" (its first evaluation)" if e["first_of_group"] else ""), flush=True)
    return r


def run_latency(args):
    """bench/latency_compare.py as a subprocess; its JSON document or an error."""
    names = [LATENCY_NAMES[t] for t in args.target_list]
    out = os.path.join(tempfile.mkdtemp(prefix="capacity-latency-"), "latency.json")
    cmd = [sys.executable, os.path.join(HERE, "latency_compare.py"),
           "--targets", ",".join(names), "--crossings", str(args.latency), "--json", out]
    if "vigil" in args.target_list:
        cmd += ["--vigil", args.binaries["vigil"]]
    # Each crossing waits at most 10 s for its alert, plus 1.6 s spacing.
    bound = 120 + len(names) * args.latency * 12
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=bound)
        if r.returncode != 0:
            return {"error": f"latency_compare exited {r.returncode}: {r.stderr[-500:]}"}
        with open(out) as f:
            doc = json.load(f)
        doc["command"] = " ".join(shlex.quote(c) for c in cmd)
        return doc
    except (subprocess.TimeoutExpired, OSError, ValueError) as e:
        return {"error": str(e)}
    finally:
        shutil.rmtree(os.path.dirname(out), ignore_errors=True)


# ---------------------------------------------------------------- report

def get(step, *path):
    v = step
    for p in path:
        if not isinstance(v, dict):
            return None
        v = v.get(p)
    return v


ROWS = [
    ("ingest samples/s (wall, backfill)", ("ingest", "samples_per_second"), ",.0f"),
    ("keeps up with real time", ("ingest", "keeps_up"), None),
    ("CPU s / 1M samples", ("ingest", "cpu_seconds_per_million_samples"), ".2f"),
    ("samples / CPU s", ("ingest", "samples_per_cpu_second"), ",.0f"),
    ("RSS bytes / active series", ("ingest", "rss_bytes_per_series"), ",.0f"),
    ("429/503 answers", ("ingest", "overload_answers"), ".0f"),
    ("newest sample age when rules load, s", ("rules", "newest_sample_age_at_load_s"), ".0f"),
    ("rule cycles measured", ("rules", "cycles"), ".2f"),
    ("rule-cycle CPU s", ("rules", "cpu_seconds_per_cycle"), ".3f"),
    ("group duration mean s", ("rules", "group_duration_mean_s"), ".3f"),
    ("group duration max s", ("rules", "group_duration_max_s"), ".3f"),
    ("missed iterations (target's counter)", ("rules", "missed_iterations"), ".0f"),
    ("evaluations longer than interval", ("rules", "evaluations_over_interval"), ".0f"),
    ("evaluation fits interval", ("rules", "fits_interval"), None),
]


def cell(step, path, spec):
    if step is None:
        return "not run"
    if not step.get("ok"):
        return "failed: " + (step.get("error") or "?").splitlines()[0][:60]
    v = get(step, *path)
    if path[0] == "rules" and get(step, "rules", "skipped"):
        return "skipped"
    if path[0] == "rules" and get(step, "rules", "error"):
        return "failed: " + get(step, "rules", "error").splitlines()[0][:60]
    if v is None and path == ("rules", "cpu_seconds_per_cycle") and get(
            step, "rules", "cpu_seconds_per_cycle_at_least") is not None:
        return (f"> {get(step, 'rules', 'cpu_seconds_per_cycle_at_least'):.0f} (no cycle "
                f"done in {get(step, 'rules', 'window_seconds'):.0f} s)")
    if v is None:
        return "n/a"
    if spec is None:
        return "yes" if v else "**no**"
    s = format(v, spec)
    if path == ("ingest", "samples_per_second") and get(step, "ingest", "partial"):
        s += " (partial)"
    return s


def steps_by_series(doc):
    out = {}
    for s in doc["steps"]:
        out.setdefault(s["series"], {})[s["target"]] = s
    return out


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def checks(doc):
    """The issue's targets, per series count: [{what, series, value, met}]."""
    out = []
    for series, by in sorted(steps_by_series(doc).items()):
        v, p, vm = by.get("vigil"), by.get("prometheus"), by.get("victoriametrics")
        if not v or not v.get("ok"):
            continue

        def add(what, value, met, detail):
            out.append({"series": series, "what": what, "value": value,
                        "met": met, "detail": detail})

        vs = get(v, "ingest", "samples_per_cpu_second")
        for peer, name, want in ((p, "Prometheus", 3.0), (vm, "VictoriaMetrics", 1.5)):
            if peer and peer.get("ok"):
                r = ratio(vs, get(peer, "ingest", "samples_per_cpu_second"))
                add(f"ingest samples per CPU s >= {want}x {name}", r,
                    None if r is None else r >= want,
                    f"{hl.fmt(r, '.2f')}x")
        if p and p.get("ok"):
            r = ratio(get(p, "ingest", "rss_bytes_per_series"),
                      get(v, "ingest", "rss_bytes_per_series"))
            add("RSS per active series <= 1/3 of Prometheus", r,
                None if r is None else r >= 3.0, f"Prometheus / vigil = {hl.fmt(r, '.2f')}x")
            r = ratio(get(p, "rules", "cpu_seconds_per_cycle"),
                      get(v, "rules", "cpu_seconds_per_cycle"))
            low = ratio(get(p, "rules", "cpu_seconds_per_cycle_at_least"),
                        get(v, "rules", "cpu_seconds_per_cycle"))
            if r is None and low is not None:
                # Only a lower bound for Prometheus: it decides "met" alone.
                add("rule-cycle CPU >= 10x less than Prometheus", low,
                    True if low >= 10.0 else None,
                    f"Prometheus / vigil > {low:.2f}x: no Prometheus cycle finished")
            else:
                add("rule-cycle CPU >= 10x less than Prometheus", r,
                    None if r is None else r >= 10.0,
                    f"Prometheus / vigil = {hl.fmt(r, '.2f')}x")
    lat = doc.get("latency") or {}
    for r in lat.get("results", []):
        if r.get("target") == "vigil":
            bound = LATENCY_INTERVAL_MS + 50
            p99 = r.get("p99_ms")
            out.append({"series": None, "what": f"alert latency p99 < {bound:.0f} ms "
                        "(1 s interval + 50 ms)", "value": p99,
                        "met": None if p99 is None else p99 < bound,
                        "detail": f"p99 {hl.fmt(p99, '.0f')} ms over {r.get('n')} alerts"})
    return out


def ramp_summary(doc):
    """Largest passing step per target (a step passes when ingest keeps up
    with real time and every evaluation fits its interval)."""
    out = {}
    for s in doc["steps"]:
        t = s["target"]
        out.setdefault(t, {"largest_passing_series": None, "first_failing_series": None})
        passed = bool(s.get("ok") and get(s, "ingest", "keeps_up")
                      and get(s, "rules", "fits_interval"))
        if passed and out[t]["first_failing_series"] is None:
            out[t]["largest_passing_series"] = s["series"]
        elif not passed and out[t]["first_failing_series"] is None:
            out[t]["first_failing_series"] = s["series"]
    return out


def headline(doc):
    """One compact table: a row per target and load step, latency appended."""
    lat = {r["target"]: r for r in (doc.get("latency") or {}).get("results", [])}
    lines = ["| target | series | samples/s | CPU s / 1M samples | RSS B / series "
             "| rule-cycle CPU s | group duration mean / max s | missed | "
             "alert p50 / p99 ms |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in sorted(doc["steps"], key=lambda s: (s["series"], doc["params"]["targets"].index(
            s["target"]) if s["target"] in doc["params"]["targets"] else 9)):
        la = lat.get(LATENCY_NAMES.get(s["target"]))
        missed = get(s, "rules", "missed_iterations")
        if missed is None and get(s, "rules", "evaluations_over_interval") is not None:
            missed = f"{get(s, 'rules', 'evaluations_over_interval')} over interval"
        elif missed is not None:
            missed = f"{missed:.0f}"
        lines.append(" | ".join([
            f"| {TARGET_TITLES.get(s['target'], s['target'])}", f"{s['series']:,}",
            cell(s, ("ingest", "samples_per_second"), ",.0f"),
            cell(s, ("ingest", "cpu_seconds_per_million_samples"), ".2f"),
            cell(s, ("ingest", "rss_bytes_per_series"), ",.0f"),
            cell(s, ("rules", "cpu_seconds_per_cycle"), ".2f"),
            cell(s, ("rules", "group_duration_mean_s"), ".2f") + " / "
            + cell(s, ("rules", "group_duration_max_s"), ".2f"),
            missed or "n/a",
            f"{la['p50_ms']:.0f} / {la['p99_ms']:.0f}" if la and la.get("p99_ms") else "n/a",
        ]) + " |")
    return "\n".join(lines) + "\n"


def markdown(doc, plots):
    m = doc["machine"]
    la = m.get("loadavg_start") or [0]
    le = m.get("loadavg_end") or la
    p = doc["params"]
    lines = [
        f"# Capacity: {', '.join(TARGET_TITLES.get(t, t) for t in p['targets'])}", "",
        f"Run {doc['date_utc']} UTC: `{doc['command']}`", "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('os', '?')}; "
        f"load average {la[0]:.2f} at start, {le[0]:.2f} at end (shared with other "
        "engineers compiling: wall-clock figures are noisy, read the CPU-seconds rows).", "",
        f"Workload: {p['rules']} rules in {p['groups']} groups (`{p['rule_header']}`), "
        f"evaluation interval {p['eval_interval']}, scrape interval {p['scrape_interval']}, "
        f"churn {p['churn_per_minute']} series/min, {p['connections']} connections x "
        f"{p['batch']} samples per request; rule window {p['cycles']} cycles "
        f"(bounded by {p['eval_timeout']:.0f} s).", "",
    ]
    lines += ["## Headline", "", headline(doc)]
    targets = p["targets"]
    for series, by in sorted(steps_by_series(doc).items()):
        rounds = next(iter(by.values()))["rounds"]
        lines += [f"## {series:,} active series x {rounds} rounds", "",
                  "| | " + " | ".join(TARGET_TITLES.get(t, t) for t in targets) + " |",
                  "|---|" + "---:|" * len(targets)]
        for label, path, spec in ROWS:
            lines.append(f"| {label} | " + " | ".join(
                cell(by.get(t), path, spec) for t in targets) + " |")
        lines.append("")
        notes = [f"{t}: {s['error']}" for t, s in by.items() if not s.get("ok")]
        notes += [f"{t}: rules failed: {get(s, 'rules', 'error')}" for t, s in by.items()
                  if get(s, "rules", "error")]
        notes += [f"{t}: ingest stopped at --run-timeout; samples as counted by the target"
                  for t, s in by.items() if get(s, "ingest", "partial")]
        notes += [f"{t}: the rule window ended before {p['cycles']} cycles completed"
                  for t, s in by.items() if get(s, "rules", "complete") is False]
        if notes:
            lines += ["Notes: " + "; ".join(notes) + ".", ""]
    lat = doc.get("latency")
    if lat:
        lines += ["## End-to-end alert latency (bench/latency_compare.py)", ""]
        if lat.get("error"):
            lines += [f"Failed: {lat['error']}", ""]
        else:
            lines += ["| target | n | missed | p50 ms | p99 ms | max ms |",
                      "|---|---:|---:|---:|---:|---:|"]
            for r in lat["results"]:
                lines.append(f"| {r['target']} | {r['n']} | {r.get('missed', 0)} | "
                             f"{r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
            lines.append("")
    cs = checks(doc)
    if cs:
        lines += ["## Targets", ""]
        for c in cs:
            state = {True: "MET", False: "NOT MET", None: "not measured"}[c["met"]]
            where = f" at {c['series']:,} series" if c["series"] else ""
            lines.append(f"- {state}: {c['what']}{where} ({c['detail']})")
        lines.append("")
    ramp = doc.get("ramp") or (ramp_summary(doc) if p.get("ramp") else None)
    if ramp:
        lines += ["## Ramp (largest step that keeps up and fits its interval)", ""]
        for t, r in ramp.items():
            lines.append(f"- {TARGET_TITLES.get(t, t)}: largest passing "
                         f"{hl.fmt(r['largest_passing_series'], ',')} series; first failing "
                         f"{hl.fmt(r['first_failing_series'], ',')}")
        lines.append("")
    for phase, key, title in (("ingest", "profile", "ingest"),
                              ("rules", "profile_first_evaluations",
                               "first rule evaluations (cold caches)"),
                              ("rules", "profile", "rule-cycle")):
        profs = [(s["series"], get(s, phase, key)) for s in doc["steps"]
                 if s["target"] == "vigil" and get(s, phase, key)]
        # Always shown when sampled; the issue asks for it where a target
        # is not met.
        if not profs:
            continue
        lines += [f"## Where vigil's {title} time goes (perf, top symbols)", ""]
        for series, prof in profs:
            if prof.get("error"):
                lines += [f"- {series:,} series: perf failed: {prof['error']}", ""]
                continue
            lines += [f"{series:,} series, {prof['seconds']} s sampled:", "",
                      "| % | dso | symbol |", "|---:|---|---|"]
            for e in prof["top"]:
                lines.append(f"| {e['percent']:.1f} | {e['dso']} | "
                             f"`{clean_symbol(e['symbol'])}` |")
            lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{t}]({os.path.basename(f)})" for t, f in plots] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------- SVG

COLORS = {"vigil": "#1f77b4", "prometheus": "#d62728", "victoriametrics": "#2ca02c"}


def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    # The last tick is at or above `hi`, so every point lies inside the plot.
    ticks = [round(start, 10)]
    while ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def short(v):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"


def svg_line_chart(title, ylabel, lines, width=560, height=340):
    """lines: {target: [(x, y), ...]} -> SVG text; x on a log scale when the
    points span more than 10x."""
    esc = lambda s: (str(s).replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
                     .replace(">", "&gt;"))
    pts = [(x, y) for ps in lines.values() for x, y in ps if y is not None]
    left, right, top, bottom = 70, 150, 40, 50
    pw, ph = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
           f'{esc(title)}</text>']
    if not pts:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">'
                   'no data</text></svg>')
        return "\n".join(out) + "\n"
    xs = sorted({x for x, _ in pts})
    logx = xs[0] > 0 and xs[-1] / xs[0] >= 10
    fx = (lambda x: math.log10(x)) if logx else (lambda x: x)
    x0, x1 = fx(xs[0]), fx(xs[-1])
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    yt = nice_ticks(0, max(y for _, y in pts) * 1.05)
    y1 = yt[-1]
    sx = lambda x: left + (fx(x) - x0) / (x1 - x0) * pw  # noqa: E731
    sy = lambda y: top + ph - y / y1 * ph  # noqa: E731
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               'stroke="#888"/>')
    for t in yt:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{left - 5}" y="{sy(t) + 4:.1f}" text-anchor="end">'
                   f'{short(t)}</text>')
    for x in xs:
        out.append(f'<text x="{sx(x):.1f}" y="{top + ph + 16}" text-anchor="middle">'
                   f'{short(x)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">'
               f'active series{" (log scale)" if logx else ""}</text>')
    out.append(f'<text x="15" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 15 {top + ph / 2})">{esc(ylabel)}</text>')
    for i, (target, ps) in enumerate(lines.items()):
        color = COLORS.get(target, "#555")
        ps = sorted((x, y) for x, y in ps if y is not None)
        if len(ps) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ps)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" '
                       'stroke-width="2"/>')
        for x, y in ps:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{color}">'
                       f'<title>{esc(target)}: {y:g}</title></circle>')
        ly = top + 10 + i * 18
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 30}" y1="{ly}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 35}" y="{ly + 4}">'
                   f'{esc(TARGET_TITLES.get(target, target))[:20]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


PLOTS = [
    ("ingest", "Ingest rate (backfill)", "samples/s", ("ingest", "samples_per_second")),
    ("ingest-cpu", "Ingest cost", "CPU s per 1M samples",
     ("ingest", "cpu_seconds_per_million_samples")),
    ("memory", "Memory per active series", "RSS bytes / series",
     ("ingest", "rss_bytes_per_series")),
    ("rule-cpu", "Rule evaluation CPU per cycle", "CPU s / cycle",
     ("rules", "cpu_seconds_per_cycle")),
    ("group-duration", "Rule group evaluation time", "mean group duration s",
     ("rules", "group_duration_mean_s")),
]


def write_plots(doc, prefix):
    written = []
    for key, title, ylabel, path in PLOTS:
        lines = {t: [(s["series"], get(s, *path)) for s in doc["steps"]
                     if s["target"] == t and s.get("ok")] for t in doc["params"]["targets"]}
        f = f"{prefix}-{key}.svg"
        with open(f, "w") as fh:
            fh.write(svg_line_chart(title, ylabel, lines))
        written.append((title, f))
    return written


def fill_derived(doc):
    """Figures derived from measured ones, also for result files written
    before they existed (the lower bound of a cycle that never finished)."""
    for s in doc["steps"]:
        r = s.get("rules") or {}
        if r.get("cycles") == 0 and r.get("cpu_seconds") is not None:
            r.setdefault("cpu_seconds_per_cycle_at_least", r["cpu_seconds"])
        if "newest_sample_age_s" in r and "newest_sample_age_at_load_s" not in r:
            # Age at the end minus the window and the warm-up before it
            # (within the second or so the rule load and first read take).
            r["newest_sample_age_at_load_s"] = (r["newest_sample_age_s"] - r["window_seconds"]
                                                - min(s["eval_interval_s"], 30))


def write_outputs(doc, out_dir, stamp):
    os.makedirs(out_dir, exist_ok=True)
    fill_derived(doc)
    prefix = os.path.join(out_dir, f"capacity-{stamp}")
    doc["checks"] = checks(doc)
    doc["ramp"] = ramp_summary(doc) if doc["params"].get("ramp") else None
    plots = write_plots(doc, prefix)
    md = markdown(doc, plots)
    with open(prefix + ".json", "w") as f:
        json.dump(doc, f, indent=2)
    with open(prefix + ".md", "w") as f:
        f.write(md)
    return prefix, md


def merge_docs(paths):
    """Several result files as one document (steps concatenated, a later
    step of the same target and series replacing an earlier one; the last
    latency run kept), for a report across separate runs."""
    docs = []
    for p in paths:
        with open(p) as f:
            docs.append(json.load(f))
    base = json.loads(json.dumps(docs[0]))
    targets = list(base["params"]["targets"])
    for d in docs[1:]:
        # A later run of the same target and series replaces the earlier one.
        again = {(s["target"], s["series"]) for s in d["steps"]}
        base["steps"] = [s for s in base["steps"]
                         if (s["target"], s["series"]) not in again] + d["steps"]
        targets += [t for t in d["params"]["targets"] if t not in targets]
        if d.get("latency"):
            # Per target: a later run's figures replace an earlier one's.
            lat = base.get("latency") or {}
            newer = {r["target"] for r in d["latency"].get("results", [])}
            kept = [r for r in lat.get("results", []) if r["target"] not in newer]
            base["latency"] = dict(d["latency"],
                                   results=kept + d["latency"].get("results", []))
        base["machine"]["loadavg_end"] = d["machine"].get("loadavg_end")
    base["params"]["targets"] = targets
    base["command"] = " ; ".join(d["command"] for d in docs)
    base["merged_from"] = [os.path.basename(p) for p in paths]
    return base


# ---------------------------------------------------------------- main

def parser():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", default="auto",
                   help="backfill rounds: one value or one per step; auto = 6 min of data")
    p.add_argument("--churn", type=int, default=0, help="series replaced per minute")
    p.add_argument("--rules", type=int, default=1000)
    p.add_argument("--groups", type=int, default=10)
    p.add_argument("--mix", default="", help="rulegen.py --mix (default: its mix)")
    p.add_argument("--rule-seed", type=int, default=1)
    p.add_argument("--eval-interval", default="15s")
    p.add_argument("--cycles", type=int, default=4, help="rule cycles to measure")
    p.add_argument("--eval-timeout", type=float, default=300.0,
                   help="bound on the rule window, seconds")
    p.add_argument("--poll", type=float, default=5.0,
                   help="seconds between reads of the rule engine's state "
                        "(each read of vigil's /metrics walks its head: "
                        "about 0.1 CPU s at 1M series, so a 1 s poll would "
                        "add 10-15%% to the rule CPU measured)")
    p.add_argument("--ramp", action="store_true",
                   help="stop a target at its first step that falls behind")
    p.add_argument("--latency", type=int, default=0, metavar="N",
                   help="also run latency_compare.py with N crossings per target")
    p.add_argument("--profile", action="store_true",
                   help="perf-sample vigil during its ingest and its rule window")
    p.add_argument("--vmalert", default=None, help="vmalert binary (default: searched)")
    hl.add_common_args(p, "vigil", run_timeout=1200.0)
    p.add_argument("--report", nargs="+", metavar="JSON",
                   help="only rebuild the report from these result files")
    return p


def find_binaries(args):
    args.loadgen = args.loadgen or hl.first_existing(hl.DEFAULT_LOADGEN)
    if not args.loadgen:
        raise UsageError("--loadgen: no binary; bazel build -c opt //bench:loadgen")
    args.binaries = {}
    for kind in args.target_list:
        b = getattr(args, kind) or hl.first_existing(
            hl.DEFAULT_VIGIL if kind == "vigil" else hl.BINARIES[kind])
        if not b:
            raise UsageError(f"--{kind}: no binary found; pass --{kind}=PATH "
                             "(tools/install_deps.sh installs the Debian packages)")
        args.binaries[kind] = b
    args.vmalert_bin = args.vmalert or hl.first_existing(hl.BINARIES["vmalert"])
    if "victoriametrics" in args.target_list and not args.vmalert_bin:
        raise UsageError("--vmalert: no binary found (Debian package victoria-metrics)")


def fmt_eta(s):
    s = int(s)
    return f"{s // 60}m{s % 60:02d}s"


def main(argv=None):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parser().parse_args(argv)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    if args.report:
        try:
            doc = merge_docs(args.report)
        except (OSError, ValueError, KeyError, IndexError) as e:
            print(f"--report: cannot read {args.report}: {e}", file=sys.stderr)
            return 2
        prefix, md = write_outputs(doc, args.out_dir, stamp)
        print(md)
        print(f"wrote {prefix}.json, .md, -*.svg")
        return 0
    try:
        validate(args)
        find_binaries(args)
    except UsageError as e:
        print(f"capacity.py: {e}", file=sys.stderr)
        return 2
    args.target_arg = {}
    work = tempfile.mkdtemp(prefix="capacity-rules-")
    sink = hl.AlertSink()
    try:
        rule_file = os.path.join(work, "rules.yml")
        header = write_rules(args, rule_file)
        doc = {"date_utc": stamp,
               "command": "python3 bench/capacity.py " + " ".join(
                   shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)),
               "machine": hl.machine_info(), "note": args.note,
               "params": {"targets": args.target_list, "series": args.series_list,
                          "rounds": args.rounds_list, "scrape_interval": args.scrape_interval,
                          "eval_interval": args.eval_interval, "rules": args.rules,
                          "groups": args.groups, "rule_header": "; ".join(header),
                          "churn_per_minute": args.churn, "cycles": args.cycles,
                          "eval_timeout": args.eval_timeout, "connections": args.connections,
                          "batch": args.batch, "ramp": args.ramp,
                          "binaries": args.binaries},
               "steps": []}
        plan = [(t, s, r) for t in args.target_list
                for s, r in zip(args.series_list, args.rounds_list)]
        t_start = time.monotonic()
        stopped = set()
        for i, (kind, series, rounds) in enumerate(plan):
            elapsed = time.monotonic() - t_start
            eta = elapsed / i * (len(plan) - i) if i else None
            if kind in stopped:
                print(f"[{i + 1}/{len(plan)}] elapsed {fmt_eta(elapsed)}: {kind} "
                      f"{series:,} series skipped (ramp: an earlier step failed)", flush=True)
                continue
            print(f"[{i + 1}/{len(plan)}] elapsed {fmt_eta(elapsed)}, ETA "
                  f"{fmt_eta(eta) if eta is not None else '?'}: {kind} {series:,} series x "
                  f"{rounds} rounds, {args.rules} rules", flush=True)
            step = run_step(kind, args.binaries[kind], series, rounds, args, rule_file, sink)
            doc["steps"].append(step)
            if not step.get("ok"):
                print(f"   FAILED: {step['error']}", flush=True)
            passed = bool(step.get("ok") and get(step, "ingest", "keeps_up")
                          and get(step, "rules", "fits_interval"))
            if args.ramp and not passed:
                stopped.add(kind)
        if args.latency:
            print(f"latency: {args.latency} crossings per target "
                  f"(elapsed {fmt_eta(time.monotonic() - t_start)})", flush=True)
            doc["latency"] = run_latency(args)
        doc["alert_sink"] = dict(zip(("requests", "alerts"), sink.counts()))
        doc["machine"]["loadavg_end"] = os.getloadavg()
        doc["elapsed_seconds"] = time.monotonic() - t_start
        prefix, md = write_outputs(doc, args.out_dir, stamp)
    finally:
        sink.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(md)
    print(f"wrote {prefix}.json, {prefix}.md, {prefix}-*.svg")
    return 0 if all(s.get("ok") for s in doc["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
