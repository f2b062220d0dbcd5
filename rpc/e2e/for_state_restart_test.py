#!/usr/bin/env python3
"""A restart does not reset pending alerts: the real vigil binary keeps the
"for" state in --rules.alert.for-state-file and restores it as Prometheus
restores from ALERTS_FOR_STATE (the time spent pending before the outage
counts; the outage itself does not).

1. vigil #1 gets samples that keep `x > 0` true; alert Slow (for: 20s) goes
   pending at A1. After ~8 s it is stopped with SIGTERM (state written at
   shutdown).
2. vigil #2 starts on the same state file, gets the same samples, and must
   show Slow with activeAt well before its own start (restored, not reset),
   then fire at activeAt + 20s, not later. It is SIGKILLed after a periodic
   state write.
3. vigil #3 restores from what #2 wrote periodically, and the alert fires.
4. A corrupt state file: vigil #4 still starts and serves, and its log names
   the file and the reason.

usage: for_state_restart_test.py VIGIL_BIN RW_SEND_BIN
"""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

FOR_S = 20
RULES = """
groups:
  - name: restart
    interval: 1s
    rules:
      - alert: Slow
        expr: x > 0
        for: %ds
""" % FOR_S


def slow_alert(base):
    status, body = u.http_get(base + "/api/v1/alerts")
    if status != 200:
        return None
    for a in json.loads(body)["data"]["alerts"]:
        if a["labels"].get("alertname") == "Slow":
            return a["state"], u.parse_time(a["activeAt"])
    return None


def main():
    vigil_bin, rw_send = sys.argv[1], sys.argv[2]
    with u.Procs() as procs:
        rules = procs.write("rules.yml", RULES)
        config = "rule_files:\n  - %s\n" % rules
        state = os.path.join(procs.tmp, "for-state.jsonl")
        flags = ["--rules.alert.for-state-file=" + state,
                 "--rules.alert.for-state-write-interval=1s",
                 # Prometheus restores only alerts whose `for` exceeds the
                 # grace period (default 10m); keep the test short.
                 "--rules.alert.for-grace-period=2s"]
        now = int(time.time())
        data = os.path.join(procs.tmp, "data.jsonl")
        u.write_jsonl(data, [({"__name__": "x", "instance": "i"},
                              [[(now + s) * 1000, 1.0] for s in range(-10, 120)])])

        def start(name):
            base = u.start_vigil(procs, vigil_bin, config, name=name, extra=flags)
            u.rw_send(procs, rw_send, [base + "/api/v1/write"], data, name=name)
            return base

        # 1. Pending in #1, then a clean stop.
        v1 = start("vigil1")
        state1, active1 = u.wait_for("Slow pending in vigil1", lambda: slow_alert(v1), 15)
        if state1 != "pending":
            sys.exit("vigil1: Slow is %s, want pending" % state1)
        time.sleep(8)
        procs.stop("vigil1")
        with open(state) as f:
            saved = f.read()
        if '"alertname":"Slow"' not in saved:
            sys.exit("state file after SIGTERM lacks Slow:\n" + saved)
        print("vigil1: Slow pending since %.3f, stopped after %.1fs pending" %
              (active1, time.time() - active1))

        # 2. Restored in #2: activeAt moves by the outage only.
        started2 = time.time()
        v2 = start("vigil2")
        # The restore runs after the group's second evaluation (1s interval);
        # until then the alert shows as new, as in Prometheus.
        time.sleep(3)
        state2, active2 = u.wait_for("Slow in vigil2", lambda: slow_alert(v2), 15)
        pending_before = started2 - active2
        print("vigil2: started %.3f, Slow %s since %.3f (%.1fs of pending carried over)" %
              (started2, state2, active2, pending_before))
        if pending_before < 4:
            sys.exit("vigil2 reset the pending alert: activeAt %.3f is only %.1fs "
                     "before its start (want >= 4s of the 8s carried over)\n%s" %
                     (active2, pending_before, procs.log("vigil2")))
        fired = u.wait_for("Slow firing in vigil2",
                         lambda: (slow_alert(v2) or ("", 0))[0] == "firing" and time.time(),
                         FOR_S + 10)
        late = fired - (active2 + FOR_S)
        print("vigil2: firing %.1fs after activeAt+for" % late)
        if late > 2.5:
            sys.exit("vigil2 fired %.1fs after activeAt + for" % late)

        # 3. SIGKILL after a periodic write: #3 still restores.
        time.sleep(2.5)
        for n, p in procs.procs:
            if n == "vigil2":
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        started3 = time.time()
        v3 = start("vigil3")
        time.sleep(3)
        state3, active3 = u.wait_for("Slow in vigil3", lambda: slow_alert(v3), 15)
        print("vigil3: Slow %s since %.3f (%.1fs before its start)" %
              (state3, active3, started3 - active3))
        if started3 - active3 < FOR_S:
            sys.exit("vigil3 did not restore the firing alert's for state: "
                     "activeAt only %.1fs before its start" % (started3 - active3))
        u.wait_for("Slow firing in vigil3",
                 lambda: (slow_alert(v3) or ("", 0))[0] == "firing", 10)
        procs.stop("vigil3")

        # 4. Corrupt file: vigil starts anyway and says why.
        with open(state, "w") as f:
            f.write("{this is not json\n")
        v4 = u.start_vigil(procs, vigil_bin, config, name="vigil4", extra=flags)
        status, _ = u.http_get(v4 + "/-/healthy")
        log4 = procs.log("vigil4")
        if status != 200 or "for-state.jsonl:1: not a JSON object" not in log4:
            sys.exit("vigil4: healthy=%s, log lacks the file and reason:\n%s" % (status, log4))
        print("PASS: for state survives SIGTERM and SIGKILL restarts; a corrupt file is reported and ignored")


if __name__ == "__main__":
    main()
