"""Helpers for vigil's notification end-to-end tests and bench/latency_compare.py:
a stdlib-only remote-write 1.0 encoder (protobuf by hand, snappy as literal
blocks, which every snappy decoder accepts), and Alertmanager API helpers.
Python 3 standard library only."""

import json
import struct
import urllib.error
import urllib.request


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, wire, payload):
    return _varint((num << 3) | wire) + payload


def _bytes_field(num, data):
    return _field(num, 2, _varint(len(data)) + data)


def encode_write_request(series):
    """series: [({label: value}, [(t_ms, value), ...]), ...] -> WriteRequest bytes."""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):
            lab = _bytes_field(1, name.encode()) + _bytes_field(2, labels[name].encode())
            ts += _bytes_field(1, lab)
        for t_ms, v in samples:
            s = _field(1, 1, struct.pack("<d", float(v))) + _field(2, 0, _varint(t_ms & ((1 << 64) - 1)))
            ts += _bytes_field(2, s)
        out += _bytes_field(1, bytes(ts))
    return bytes(out)


def snappy_literal(data):
    """Snappy block format with literal elements only (no compression)."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def remote_write(url, series, timeout=10):
    """POSTs samples; returns the HTTP status (2xx on success)."""
    body = snappy_literal(encode_write_request(series))
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def am_alerts(base, alertname=None, active_only=True):
    """Alertmanager's GET /api/v2/alerts, filtered by alertname; [] if down."""
    try:
        with urllib.request.urlopen(base + "/api/v2/alerts", timeout=5) as r:
            alerts = json.loads(r.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    out = []
    for a in alerts:
        if alertname and a["labels"].get("alertname") != alertname:
            continue
        if active_only and a["status"]["state"] != "active":
            continue
        out.append(a)
    return out


def metric_values(text, name):
    """Every sample of metric `name` in Prometheus text format: {labels_str: value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name):]
        if rest and rest[0] not in " {":
            continue
        key, _, val = rest.rpartition(" ")
        out[key.strip()] = float(val)
    return out
