"""Shared pieces of the bench harnesses (ingest_compare, query_compare, capacity).

What is here: finding the binaries, free loopback ports, reading a process'
CPU and RSS from /proc, HTTP GET and the Prometheus text format, the three
targets (vigil, Prometheus 2.42, VictoriaMetrics 1.79 + vmalert) started on
127.0.0.1 in their own temp folder and stopped by PID, an alert sink for the
rule engines to notify, and running the load generator with a bound.

Python 3 standard library only. Nothing here is thread-safe except AlertSink
(its counters are guarded by a lock); a Target is driven by one thread.
"""

import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")

DEFAULT_LOADGEN = [
    os.path.expanduser(
        "~/.cache/bazel-ob-bench/execroot/vigil/bazel-out/k8-opt/bin/bench/loadgen/loadgen"),
    os.path.join(ROOT, ".bazel/bin/bench/loadgen/loadgen"),
    os.path.join(ROOT, "bazel-bin/bench/loadgen/loadgen"),
]
DEFAULT_VIGIL = [
    os.path.expanduser(
        "~/.cache/bazel-ob-bench/execroot/vigil/bazel-out/k8-opt/bin/rpc/server/vigil"),
    os.path.join(ROOT, ".bazel/bin/rpc/server/vigil"),
    os.path.join(ROOT, "bazel-bin/rpc/server/vigil"),
]
BINARIES = {
    "prometheus": ["/usr/bin/prometheus"],
    "victoriametrics": ["/usr/bin/victoria-metrics"],
    "vmalert": ["/usr/bin/vmalert"],
}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_existing(paths):
    for p in paths:
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def proc_cpu_seconds(pid):
    """utime + stime of a process (its reaped children are not counted)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


def thread_cpu_seconds(pid, comm):
    """CPU time of the process' threads named `comm`, from the scheduler's
    nanosecond accounting (/proc/PID/task/TID/schedstat), not clock ticks;
    None when no thread has that name."""
    total, found = 0, False
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().rstrip("\n") != comm:
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
            found = True
        except OSError:  # the thread ended meanwhile
            continue
    return total / 1e9 if found else None


def proc_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def parse_metrics(text):
    """Prometheus text format -> {name_with_labels: value} (no histograms)."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        parts = line.rsplit(" ", 2)
        # "name{labels} value [timestamp]"
        try:
            if len(parts) == 3:
                try:
                    float(parts[2])
                    name, value = parts[0], parts[1]
                    float(value)
                except ValueError:
                    name, value = " ".join(parts[:2]), parts[2]
            else:
                name, value = parts[0], parts[1]
            out[name] = float(value)
        except (ValueError, IndexError):
            continue
    return out


def metric_sum(metrics, name, having=""):
    """Sum of every series of `name` (with or without labels) whose label text
    contains `having`, or None when there is none."""
    total, found = 0.0, False
    for k, v in metrics.items():
        if (k == name or k.startswith(name + "{")) and having in k:
            total += v
            found = True
    return total if found else None


def metric_by_label(metrics, name, label):
    """{value of `label`: sample} over the series of `name`."""
    out = {}
    prefix = name + "{"
    needle = label + '="'
    for k, v in metrics.items():
        if not k.startswith(prefix):
            continue
        i = k.find(needle)
        if i < 0:
            continue
        j = k.find('"', i + len(needle))
        out[k[i + len(needle):j]] = v
    return out


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
    except OSError:
        return ""


def machine_info():
    info = {"cores": os.cpu_count(), "loadavg_start": os.getloadavg()}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_total_kb"] = int(f.readline().split()[1])
    except OSError:
        pass
    return info


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


class AlertSink:
    """Loopback HTTP server that accepts every POST (Alertmanager v1/v2 API)
    with 200 and counts requests and alerts, so rule engines pay the cost of
    sending notifications without a real Alertmanager. Thread-safe counters."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = 0
        self.alerts = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    n = len(json.loads(body))
                except ValueError:
                    n = 0
                with owner._lock:
                    owner.requests += 1
                    owner.alerts += n
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self):
        with self._lock:
            return self.requests, self.alerts

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _stop_process(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Target:
    """One system under test, started on loopback in its own temp folder.

    The rule engine is off until load_rules(): ingest is measured alone, then
    the same process evaluates the rule file over what it ingested.
    `alert_port` is where alerts go (an AlertSink); None sends none."""

    name = ""
    ready_path = "/-/ready"

    def __init__(self, binary, workdir, port, extra_args, eval_interval="15s",
                 alert_port=None):
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.extra_args = extra_args
        self.eval_interval = eval_interval
        self.alert_port = alert_port
        self.proc = None
        self.log_path = os.path.join(workdir, f"{self.name}.log")

    def command(self):
        raise NotImplementedError

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self):
        return self.base + "/api/v1/write"

    def pids(self):
        """Processes whose CPU and RSS are this target's cost."""
        return [self.proc.pid]

    def cpu_seconds(self):
        return sum(proc_cpu_seconds(p) for p in self.pids())

    def rss_bytes(self):
        return sum(proc_rss_bytes(p) for p in self.pids())

    def _spawn(self, argv, log_path):
        log = open(log_path, "wb")
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.workdir,
                                start_new_session=True)

    @staticmethod
    def _wait_ready(proc, url, what, log_path, ready_timeout):
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}; "
                                   f"see {log_path}:\n{tail(log_path)}")
            try:
                status, _ = http_get(url, timeout=1)
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{what} not ready after {ready_timeout}s; "
                           f"see {log_path}:\n{tail(log_path)}")

    def start(self, ready_timeout):
        self.proc = self._spawn(self.command() + self.extra_args, self.log_path)
        self._wait_ready(self.proc, self.base + self.ready_path, self.name,
                         self.log_path, ready_timeout)

    def stop(self):
        _stop_process(self.proc)

    def stats(self):
        """Target-specific counters read after ingest (may be empty)."""
        return {}

    def metrics(self, base=None):
        try:
            _, text = http_get((base or self.base) + "/metrics", timeout=30)
            return parse_metrics(text)
        except (urllib.error.URLError, ConnectionError, OSError):
            return {}

    def load_rules(self, rule_file, ready_timeout):
        """Starts evaluating `rule_file` (every group on its own interval)."""
        raise NotImplementedError

    def rule_snapshot(self):
        """Rule engine state now: {"groups": {group: (last_eval, duration_s)}
        or None, "count": iterations done, "sum": seconds spent in them,
        "missed": iterations missed (None when the target does not say),
        optionally "max": longest recent iteration, seconds}."""
        raise NotImplementedError

    def _config_yaml(self, rule_file):
        text = (f"global:\n  scrape_interval: 15s\n"
                f"  evaluation_interval: {self.eval_interval}\n"
                f"rule_files: [{rule_file or ''}]\nscrape_configs: []\n")
        if rule_file and self.alert_port:
            text += ("alerting:\n  alertmanagers:\n"
                     f"    - static_configs: [{{targets: ['127.0.0.1:{self.alert_port}']}}]\n")
        return text

    def _write_config(self, rule_file=None):
        cfg = os.path.join(self.workdir, f"{self.name}.yml")
        with open(cfg, "w") as f:
            f.write(self._config_yaml(rule_file))
        return cfg

    def _reload(self, what):
        """SIGHUP reload (vigil and Prometheus), then wait until the rule
        API lists groups, so a failed reload is an error, not a quiet run."""
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                _, body = http_get(self.base + "/api/v1/rules?exclude_alerts=true",
                                   timeout=30)
                if json.loads(body)["data"]["groups"]:
                    return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError,
                    KeyError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{what}: rules not loaded 60s after SIGHUP; "
                           f"see {self.log_path}:\n{tail(self.log_path)}")


class Vigil(Target):
    name = "vigil"

    def command(self):
        cfg = self._write_config()
        return [self.binary, f"--web.listen-address=127.0.0.1:{self.port}",
                f"--config.file={cfg}", "--storage.retention=2h"]

    def stats(self):
        m = self.metrics()
        out = {}
        for key in ("vigil_head_series", "vigil_head_chunk_bytes", "vigil_head_samples"):
            v = metric_sum(m, key)
            if v is not None:
                out[key] = v
        if out.get("vigil_head_samples"):
            out["bytes_per_sample"] = (out.get("vigil_head_chunk_bytes", 0)
                                       / out["vigil_head_samples"])
        out["head_series"] = out.get("vigil_head_series")
        return out

    def load_rules(self, rule_file, ready_timeout):
        self._write_config(rule_file)
        self._reload("vigil")

    def rule_snapshot(self):
        # The same per-group metrics as Prometheus, under vigil_.
        return rule_group_snapshot(self.metrics(), "vigil_")


def rule_group_snapshot(m, prefix):
    """Per-group rule figures from Prometheus' rule-group metric names under
    `prefix` (vigil exports the same ones under vigil_)."""
    last = metric_by_label(m, prefix + "rule_group_last_evaluation_timestamp_seconds",
                           "rule_group")
    dur = metric_by_label(m, prefix + "rule_group_last_duration_seconds", "rule_group")
    # iterations_total counts scheduled iterations, missed ones included.
    sched = metric_sum(m, prefix + "rule_group_iterations_total")
    missed = metric_sum(m, prefix + "rule_group_iterations_missed_total")
    total = metric_sum(m, prefix + "rule_group_duration_seconds_sum")
    return {"groups": {g: (t, dur.get(g, 0.0)) for g, t in last.items() if t > 0},
            "count": (sched or 0.0) - (missed or 0.0),
            # Only Prometheus has the summary; without it the mean comes from
            # the per-group durations seen.
            "sum": total if total is not None else None,
            "missed": missed or 0.0}


class Prometheus(Target):
    name = "prometheus"

    def command(self):
        cfg = self._write_config()
        return [self.binary, f"--config.file={cfg}",
                f"--storage.tsdb.path={os.path.join(self.workdir, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-remote-write-receiver", "--log.level=warn"]

    def stats(self):
        m = self.metrics()
        return {
            "head_series": metric_sum(m, "prometheus_tsdb_head_series"),
            "samples_appended": metric_sum(m, "prometheus_tsdb_head_samples_appended_total"),
            "head_chunks": metric_sum(m, "prometheus_tsdb_head_chunks"),
        }

    def load_rules(self, rule_file, ready_timeout):
        self._write_config(rule_file)
        self._reload("prometheus")

    def rule_snapshot(self):
        return rule_group_snapshot(self.metrics(), "prometheus_")


class VictoriaMetrics(Target):
    """VictoriaMetrics single node; load_rules() adds vmalert querying it
    (both processes are the target's cost: VM does vmalert's query work)."""

    name = "victoriametrics"
    ready_path = "/health"

    def __init__(self, *a, vmalert=None, **kw):
        super().__init__(*a, **kw)
        self.vmalert_binary = vmalert
        self.vmalert = None
        self.vmalert_port = None

    def command(self):
        # The default 300k unique-series cap per query would fail rules over
        # a 1M-series corpus; Prometheus and vigil have no such cap.
        return [self.binary, f"-storageDataPath={os.path.join(self.workdir, 'data')}",
                f"-httpListenAddr=127.0.0.1:{self.port}", "-retentionPeriod=1y",
                "-search.maxUniqueTimeseries=10000000", "-loggerLevel=WARN"]

    def pids(self):
        return [self.proc.pid] + ([self.vmalert.pid] if self.vmalert else [])

    def stats(self):
        # Flush in-memory buffers so that the counters below are complete.
        try:
            http_get(self.base + "/internal/force_flush", timeout=30)
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        m = self.metrics()
        return {
            "rows_inserted": metric_sum(m, 'vm_rows_inserted_total{type="promremotewrite"}'),
            "head_series": None,
        }

    def load_rules(self, rule_file, ready_timeout):
        if not self.vmalert_binary:
            raise RuntimeError("no vmalert binary (Debian package victoria-metrics)")
        self.vmalert_port = free_port()
        notifier = (f"http://127.0.0.1:{self.alert_port}" if self.alert_port
                    else f"http://127.0.0.1:{free_port()}")
        log = os.path.join(self.workdir, "vmalert.log")
        self.vmalert = self._spawn([
            self.vmalert_binary, f"-rule={rule_file}", f"-datasource.url={self.base}",
            f"-notifier.url={notifier}", f"-evaluationInterval={self.eval_interval}",
            # Recording rules' results go back into VM, as Prometheus and
            # vigil append theirs to their own head.
            f"-remoteWrite.url={self.base}",
            f"-httpListenAddr=127.0.0.1:{self.vmalert_port}", "-loggerLevel=WARN"], log)
        self._wait_ready(self.vmalert, f"http://127.0.0.1:{self.vmalert_port}/health",
                         "vmalert", log, ready_timeout)

    def rule_snapshot(self):
        m = self.metrics(f"http://127.0.0.1:{self.vmalert_port}")
        # A summary per group over a sliding window; quantile 1 is the
        # longest recent iteration.
        maxima = [v for k, v in m.items()
                  if k.startswith("vmalert_iteration_duration_seconds{")
                  and 'quantile="1"' in k]
        # The per-group series appear with a group's first finished
        # iteration: absent means none yet.
        return {"groups": None, "max": max(maxima) if maxima else None,
                "count": metric_sum(m, "vmalert_iteration_duration_seconds_count") or 0.0,
                "sum": metric_sum(m, "vmalert_iteration_duration_seconds_sum") or 0.0,
                "missed": metric_sum(m, "vmalert_iteration_missed_total") or 0.0}

    def stop(self):
        _stop_process(self.vmalert)
        super().stop()


TARGETS = {"vigil": Vigil, "prometheus": Prometheus, "victoriametrics": VictoriaMetrics}


def add_common_args(p, targets, run_timeout):
    """The flags every harness shares: targets, series, binaries, load shape,
    bounds, output."""
    p.add_argument("--targets", default=targets,
                   help=f"comma list of {','.join(TARGETS)} (default {targets})")
    p.add_argument("--series", default="100000",
                   help="active series, comma list of load steps (e.g. 100000,1000000)")
    p.add_argument("--scrape-interval", default="15s", help="simulated scrape interval")
    p.add_argument("--connections", type=int, default=4, help="loadgen connections")
    p.add_argument("--batch", type=int, default=2000, help="samples per request")
    for b in ("loadgen", "vigil", "prometheus", "victoriametrics"):
        p.add_argument(f"--{b}", default=None, help=f"{b} binary (default: searched)")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds to idle before and after the load")
    p.add_argument("--ready-timeout", type=float, default=60.0)
    p.add_argument("--run-timeout", type=float, default=run_timeout,
                   help="bound on one loadgen run, seconds")
    p.add_argument("--out-dir", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--keep-data", action="store_true", help="keep the targets' data folders")
    p.add_argument("--note", default="", help="free text stored with the results")


def run_loadgen(loadgen, write_url, series, rounds, report_path, timeout,
                connections=4, batch=2000, scrape_interval="15s", churn=0, start=None):
    """Runs the load generator; returns its JSON report, or None when it
    outlasted `timeout` (it is killed then). Raises on a failed run."""
    cmd = [loadgen, f"--url={write_url}", f"--series={series}",
           f"--rounds={rounds}", f"--connections={connections}",
           f"--batch={batch}", f"--scrape_interval={scrape_interval}",
           f"--churn={churn}", f"--json={report_path}", "--progress=false"]
    if start is not None:
        cmd.append(f"--start={start}")
    try:
        lg = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if lg.returncode not in (0, 3):
        raise RuntimeError(f"loadgen failed ({lg.returncode}): {lg.stderr}{lg.stdout}")
    with open(report_path) as f:
        return json.load(f)
