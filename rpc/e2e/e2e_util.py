"""Helpers for vigil's end-to-end tests: free ports, starting and stopping the
real Prometheus / Alertmanager / vigil processes on loopback, HTTP calls with
bounded retries."""

import calendar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Starts processes and guarantees they are killed, and their temporary
    folder removed, at exit."""

    def __init__(self):
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="vigil-e2e-")

    def write(self, name, text):
        """Writes `text` to `name` in the temporary folder; returns the path."""
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, name, argv):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, p))
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self, name=None):
        for n, p in self.procs:
            if name is not None and n != name:
                continue
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def http_get(url, params=None, timeout=10):
    if params:
        url = url + "?" + urllib.parse.urlencode(params, doseq=True)
    req = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def http_post(url, body, content_type="application/json", timeout=10):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def wait_ready(url, procs, name, timeout_s=60):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            status, _ = http_get(url, timeout=2)
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    sys.exit("%s did not become ready at %s within %ds; log:\n%s" %
             (name, url, timeout_s, procs.log(name)))


def start_prometheus(procs, config_text, name="prometheus", extra=()):
    port = free_port()
    cfg = os.path.join(procs.tmp, name + ".yml")
    with open(cfg, "w") as f:
        f.write(config_text)
    procs.start(name, ["prometheus", "--config.file=" + cfg,
                       "--storage.tsdb.path=" + os.path.join(procs.tmp, name + "-data"),
                       "--web.listen-address=127.0.0.1:%d" % port,
                       "--web.enable-remote-write-receiver",
                       "--log.level=warn"] + list(extra))
    base = "http://127.0.0.1:%d" % port
    wait_ready(base + "/-/ready", procs, name)
    return base


def start_vigil(procs, vigil_bin, config_text, name="vigil", extra=()):
    port = free_port()
    cfg = os.path.join(procs.tmp, name + ".yml")
    with open(cfg, "w") as f:
        f.write(config_text)
    procs.start(name, [vigil_bin, "--config.file=" + cfg,
                       "--web.listen-address=127.0.0.1:%d" % port,
                       "--grpc.listen-address=127.0.0.1:0"] + list(extra))
    base = "http://127.0.0.1:%d" % port
    wait_ready(base + "/-/ready", procs, name)
    return base


def wait_for(what, fn, timeout_s, step=None):
    """Polls fn() until it returns a true value and returns that value; runs
    step() between polls (default: sleep 0.1 s). Exits failing the test when
    timeout_s passes first."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        if step is None:
            time.sleep(0.1)
        else:
            step()
    sys.exit("FAIL: timed out after %ds waiting for %s" % (timeout_s, what))


def parse_time(rfc3339):
    """Seconds since the epoch of an RFC 3339 UTC time ("...Z"), to the
    fraction given."""
    whole, _, frac = rfc3339.replace("Z", "").partition(".")
    return (calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) +
            (float("0." + frac) if frac else 0.0))


def rw_send(procs, rw_send_bin, urls, data_path, name="vigil"):
    """Remote-writes the samples of data_path (write_jsonl) to every URL
    with the rw_send tool; exits with `name`'s log if that fails."""
    rc = os.spawnv(os.P_WAIT, rw_send_bin,
                   [rw_send_bin] + ["--url=" + url for url in urls] + [data_path])
    if rc != 0:
        sys.exit("rw_send failed (%d)\n%s log:\n%s" % (rc, name, procs.log(name)))


def write_jsonl(path, series):
    with open(path, "w") as f:
        for labels, samples in series:
            f.write(json.dumps({"labels": labels, "samples": samples}) + "\n")
