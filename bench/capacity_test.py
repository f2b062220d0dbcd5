"""Unit tests of the capacity harness' offline parts: argument validation,
rule-engine accounting, the met/not-met checks, the Markdown report, the
SVG writer and --report on a canned result file (bench/testdata). No
network, no targets started; bounded (a few seconds)."""

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import capacity  # noqa: E402
import harness_lib as hl  # noqa: E402

CANNED = os.path.join(HERE, "testdata", "capacity_canned.json")
SVG_NS = "{http://www.w3.org/2000/svg}"


def parse(argv):
    return capacity.validate(capacity.parser().parse_args(argv))


class ValidateTest(unittest.TestCase):
    def refused(self, argv, param):
        with self.assertRaises(capacity.UsageError) as cm:
            parse(argv)
        self.assertIn(param, str(cm.exception))

    def test_defaults(self):
        a = parse([])
        self.assertEqual(a.target_list, ["vigil"])
        self.assertEqual(a.series_list, [100000])
        self.assertEqual(a.rounds_list, [24])  # 6 min of 15 s scrapes
        self.assertEqual(a.eval_s, 15)

    def test_auto_rounds_follow_scrape_interval(self):
        a = parse(["--scrape-interval", "1m", "--series", "10,20"])
        self.assertEqual(a.rounds_list, [6, 6])

    def test_bad_parameters_are_named(self):
        self.refused(["--targets", "vigil,thanos"], "unknown target 'thanos'")
        self.refused(["--targets", ","], "--targets")
        self.refused(["--series", "10,x"], "--series")
        self.refused(["--series", "0"], "--series")
        self.refused(["--scrape-interval", "15"], "--scrape-interval")
        self.refused(["--eval-interval", "0s"], "--eval-interval")
        self.refused(["--series", "10,20,30", "--rounds", "5,6"], "--rounds")
        self.refused(["--rounds", "1"], "--rounds")
        self.refused(["--rules", "5", "--groups", "6"], "--groups")
        self.refused(["--rules", "0"], "--rules")
        self.refused(["--cycles", "0"], "--cycles")
        self.refused(["--series", "100,10", "--ramp"], "increasing")
        self.refused(["--eval-timeout", "0"], "--eval-timeout")

    def test_main_exits_2_on_bad_parameter(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(capacity.main(["--series", "abc"]), 2)
        self.assertIn("--series", err.getvalue())

    def test_churn_is_converted_to_rounds(self):
        self.assertEqual(capacity.churn_per_round(600, 15), 150)
        self.assertEqual(capacity.churn_per_round(0, 15), 0)


class RuleWatcherTest(unittest.TestCase):
    def test_groups_map_counts_new_evaluations_and_overruns(self):
        snap = lambda g: {"groups": g, "count": None, "sum": None, "missed": None}  # noqa: E731
        w = capacity.RuleWatcher(snap({"a": ("t0", 0.1), "b": ("t0", 0.2)}), 15)
        w.add(snap({"a": ("t0", 0.1), "b": ("t0", 0.2)}))  # nothing new
        w.add(snap({"a": ("t1", 0.3), "b": ("t0", 0.2)}))
        w.add(snap({"a": ("t2", 16.0), "b": ("t1", 0.5)}))
        r = w.result()
        self.assertEqual(r["group_iterations"], 3)
        self.assertAlmostEqual(r["group_duration_mean_s"], (0.3 + 16.0 + 0.5) / 3)
        self.assertEqual(r["group_duration_max_s"], 16.0)
        self.assertEqual(r["evaluations_over_interval"], 1)
        self.assertIsNone(r["missed_iterations"])

    def test_counters_give_deltas(self):
        w = capacity.RuleWatcher({"groups": None, "count": 10, "sum": 2.0, "missed": 1,
                                  "max": 0.3}, 15)
        w.add({"groups": None, "count": 30, "sum": 6.0, "missed": 4, "max": 0.9})
        r = w.result()
        self.assertEqual(r["group_iterations"], 20)
        self.assertAlmostEqual(r["group_duration_mean_s"], 0.2)
        self.assertEqual(r["group_duration_max_s"], 0.9)
        self.assertEqual(r["missed_iterations"], 3)
        self.assertIsNone(r["evaluations_over_interval"])


class ReportTest(unittest.TestCase):
    def setUp(self):
        with open(CANNED) as f:
            self.doc = json.load(f)
        self.tmp = tempfile.mkdtemp(prefix="capacity-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_checks(self):
        cs = {(c["series"], c["what"].split(" >=")[0].split(" <")[0]): c
              for c in capacity.checks(self.doc)}
        # vigil 1e6/2 = 500k samples/CPU s vs Prometheus 1e6/9: 4.5x -> met.
        ing = cs[(10000, "ingest samples per CPU s")]
        self.assertTrue(ing["met"])
        c = [c for c in capacity.checks(self.doc) if c["series"] == 100000]
        by = {x["what"]: x for x in c}
        # 12 / 4 CPU s per 1M: exactly the 3x bound, which counts as met.
        self.assertTrue(by["ingest samples per CPU s >= 3.0x Prometheus"]["met"])
        self.assertAlmostEqual(by["ingest samples per CPU s >= 3.0x Prometheus"]["value"], 3.0)
        self.assertFalse(by["ingest samples per CPU s >= 1.5x VictoriaMetrics"]["met"])  # 0.9x
        self.assertTrue(by["RSS per active series <= 1/3 of Prometheus"]["met"])  # 10x
        self.assertFalse(by["rule-cycle CPU >= 10x less than Prometheus"]["met"])  # 2.4x
        lat = [x for x in capacity.checks(self.doc) if x["series"] is None]
        self.assertEqual(len(lat), 1)
        self.assertTrue(lat[0]["met"])  # 990 < 1050

    def test_ramp_summary(self):
        r = capacity.ramp_summary(self.doc)
        self.assertEqual(r["vigil"], {"largest_passing_series": 10000,
                                      "first_failing_series": 100000})
        self.assertEqual(r["prometheus"]["largest_passing_series"], 100000)
        self.assertEqual(r["victoriametrics"]["first_failing_series"], 100000)

    def test_markdown_has_side_by_side_tables_and_verdicts(self):
        md = capacity.markdown(self.doc, [("Ingest", "x-ingest.svg")])
        self.assertIn("| | vigil | Prometheus 2.42 | VictoriaMetrics 1.79 + vmalert |", md)
        self.assertIn("## 100,000 active series x 24 rounds", md)
        self.assertIn("| CPU s / 1M samples | 4.00 | 12.00 | 3.60 |", md)
        self.assertIn("| evaluation fits interval | **no** | yes | failed: vmalert exited", md)
        self.assertIn("NOT MET: rule-cycle CPU >= 10x less than Prometheus at 100,000", md)
        self.assertIn("MET: alert latency p99 < 1050 ms", md)
        self.assertIn("vigil: largest passing 10,000 series; first failing 100,000", md)
        self.assertIn("![Ingest](x-ingest.svg)", md)
        self.assertIn("load average 3.10 at start", md)
        self.assertIn("| vigil | 100,000 | 120,000 | 4.00 | 450 | 2.50 | 0.30 / 16.00 | "
                      "2 over interval | 500 / 990 |", md)
        self.assertIn("| Prometheus 2.42 | 10,000 | 150,000 | 9.00 | 4,000 | 0.80 | "
                      "0.07 / 0.20 | 0 | 480 / 1001 |", md)

    def test_profiles_are_shown_when_a_target_is_not_met(self):
        self.doc["steps"][1]["ingest"]["profile"] = {
            "seconds": 20, "top": [{"percent": 17.0, "dso": "vigil",
                                    "symbol": "vigil::storage::DecodeXorChunk     "}]}
        self.doc["steps"][1]["rules"]["profile"] = {"error": "perf: permission denied"}
        md = capacity.markdown(self.doc, [])
        self.assertIn("## Where vigil's ingest time goes (perf, top symbols)", md)
        self.assertIn("| 17.0 | vigil | `vigil::storage::DecodeXorChunk` |", md)
        self.assertIn("100,000 series: perf failed: perf: permission denied", md)

    def test_no_finished_cycle_gives_a_lower_bound(self):
        r = self.doc["steps"][3]["rules"]  # Prometheus at 100k
        r.update({"cycles": 0.0, "cpu_seconds_per_cycle": None,
                  "cpu_seconds_per_cycle_at_least": 30.0, "window_seconds": 420.0})
        md = capacity.markdown(self.doc, [])
        self.assertIn("> 30 (no cycle done in 420 s)", md)
        c = [c for c in capacity.checks(self.doc)
             if c["series"] == 100000 and c["what"].startswith("rule-cycle")][0]
        self.assertTrue(c["met"])  # > 30 / 2.5 = 12x
        self.assertIn("no Prometheus cycle finished", c["detail"])
        r["cpu_seconds_per_cycle_at_least"] = 5.0  # > 2x says nothing
        c = [c for c in capacity.checks(self.doc)
             if c["series"] == 100000 and c["what"].startswith("rule-cycle")][0]
        self.assertIsNone(c["met"])

    def test_failed_and_partial_steps_are_said(self):
        self.doc["steps"][3]["ingest"]["partial"] = True
        self.doc["steps"][3]["rules"] = {"skipped": "ingest did not finish"}
        self.doc["steps"][0] = {"target": "vigil", "series": 10000, "rounds": 24,
                                "ok": False, "error": "vigil exited with 1"}
        md = capacity.markdown(self.doc, [])
        self.assertIn("20,000 (partial)", md)
        self.assertIn("| rule-cycle CPU s | failed: vigil exited with 1 |", md)
        self.assertIn("prometheus: ingest stopped at --run-timeout", md)
        self.assertIn("skipped", md)

    def test_svg_is_well_formed_with_a_line_per_target(self):
        lines = {"vigil": [(10000, 5.0), (100000, 7.0), (1000000, None)],
                 "prometheus": [(10000, 9.0), (100000, 12.0)],
                 "victoriametrics": [(10000, 3.0)]}
        svg = capacity.svg_line_chart("Ingest cost", "CPU s / 1M", lines)
        root = ET.fromstring(svg)
        self.assertEqual(len(root.findall(f"{SVG_NS}polyline")), 2)  # VM has one point
        self.assertEqual(len(root.findall(f"{SVG_NS}circle")), 5)
        texts = [t.text for t in root.iter(f"{SVG_NS}text")]
        self.assertIn("active series (log scale)", texts)
        self.assertIn("Prometheus 2.42", texts)
        self.assertIn("Ingest cost", texts)
        # Every point inside the plot area.
        for c in root.findall(f"{SVG_NS}circle"):
            self.assertTrue(70 <= float(c.get("cx")) <= 410, c.get("cx"))
            self.assertTrue(40 <= float(c.get("cy")) <= 290, c.get("cy"))

    def test_svg_without_data(self):
        root = ET.fromstring(capacity.svg_line_chart("t", "y", {"vigil": []}))
        self.assertIn("no data", [t.text for t in root.iter(f"{SVG_NS}text")])

    def test_report_mode_merges_files_and_writes_everything(self):
        other = json.loads(json.dumps(self.doc))
        # One new step, and a re-run of Prometheus at 10k replacing the old.
        rerun = dict(self.doc["steps"][2], note="re-run")
        other["steps"] = [dict(self.doc["steps"][0], series=1000000), rerun]
        other["command"] = "second run"
        second = os.path.join(self.tmp, "b.json")
        with open(second, "w") as f:
            json.dump(other, f)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = capacity.main(["--report", CANNED, second, "--out-dir", self.tmp])
        self.assertEqual(rc, 0)
        files = sorted(os.listdir(self.tmp))
        md = [f for f in files if f.endswith(".md")]
        self.assertEqual(len(md), 1)
        stem = md[0][:-3]
        for key, _, _, _ in capacity.PLOTS:
            self.assertIn(f"{stem}-{key}.svg", files)
            ET.parse(os.path.join(self.tmp, f"{stem}-{key}.svg"))
        with open(os.path.join(self.tmp, stem + ".json")) as f:
            merged = json.load(f)
        self.assertEqual(len(merged["steps"]), 7)
        self.assertEqual([s.get("note") for s in merged["steps"]
                          if s["target"] == "prometheus" and s["series"] == 10000], ["re-run"])
        self.assertEqual(merged["merged_from"], ["capacity_canned.json", "b.json"])
        self.assertIn("## 1,000,000 active series", out.getvalue())

    def test_report_mode_merges_latency_per_target(self):
        first = {"params": {"targets": ["vigil", "prometheus"]}, "steps": [],
                 "machine": {}, "command": "a",
                 "latency": {"results": [{"target": "vigil", "p99_ms": 990},
                                         {"target": "prometheus", "p99_ms": 980}]}}
        second = {"params": {"targets": ["vigil"]}, "steps": [], "machine": {},
                  "command": "b",
                  "latency": {"results": [{"target": "vigil", "p99_ms": 900}]}}
        paths = []
        for name, doc in (("a.json", first), ("b.json", second)):
            paths.append(os.path.join(self.tmp, name))
            with open(paths[-1], "w") as f:
                json.dump(doc, f)
        merged = capacity.merge_docs(paths)
        got = {r["target"]: r["p99_ms"] for r in merged["latency"]["results"]}
        # The later vigil run replaces the earlier; Prometheus' stays.
        self.assertEqual(got, {"vigil": 900, "prometheus": 980})

    def test_report_mode_refuses_unreadable_input(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = capacity.main(["--report", os.path.join(self.tmp, "missing.json")])
        self.assertEqual(rc, 2)
        self.assertIn("--report", err.getvalue())


class RulesAndMetricsTest(unittest.TestCase):
    def test_write_rules_uses_rulegen(self):
        tmp = tempfile.mkdtemp(prefix="capacity-test-")
        try:
            a = parse(["--rules", "30", "--groups", "3"])
            path = os.path.join(tmp, "r.yml")
            header = capacity.write_rules(a, path)
            self.assertIn("rules=30 groups=3 interval=15s seed=1", header[0])
            with open(path) as f:
                text = f.read()
            self.assertEqual(text.count("  - name: bench_"), 3)
            a.mix = "bogus=1"
            with self.assertRaises(capacity.UsageError) as cm:
                capacity.write_rules(a, path)
            self.assertIn("bogus", str(cm.exception))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_perf_symbol_padding_is_dropped(self):
        self.assertEqual(capacity.clean_symbol(" vigil::storage::DecodeXorChunk      x "),
                         "vigil::storage::DecodeXorChunk")
        self.assertEqual(len(capacity.clean_symbol("a" * 300)), 120)

    def test_metrics_parsing(self):
        m = hl.parse_metrics(
            '# HELP x\n'
            'prometheus_rule_group_last_duration_seconds{rule_group="/r.yml;a"} 0.25\n'
            'prometheus_rule_group_last_duration_seconds{rule_group="/r.yml;b"} 1.5\n'
            'up 1 1700000000000\n')
        self.assertEqual(hl.metric_by_label(
            m, "prometheus_rule_group_last_duration_seconds", "rule_group"),
            {"/r.yml;a": 0.25, "/r.yml;b": 1.5})
        self.assertEqual(hl.metric_sum(m, "prometheus_rule_group_last_duration_seconds"), 1.75)
        self.assertEqual(hl.metric_sum(m, "up"), 1.0)
        self.assertIsNone(hl.metric_sum(m, "absent_metric"))


if __name__ == "__main__":
    unittest.main()
