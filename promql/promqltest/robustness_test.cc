// Evaluates every query of the PromQL conformance suite against all of the
// suite's data at once, as instant queries at odd times and as range
// queries, and checks that each evaluation returns (a value or an error)
// without crashing. The suite lives outside the repository; the test is
// skipped when it cannot be found.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "promql/engine.h"
#include "promql/promqltest/script.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace vigil::promql::promqltest {
namespace {

std::string SuiteDir() {
  const char* env = std::getenv("VIGIL_CONFORMANCE_DIR");
  return env != nullptr ? env : "/work/shared/conformance/promql";
}

TEST(Robustness, EveryConformanceQueryEvaluatesWithoutCrashing) {
  std::error_code ec;
  if (!std::filesystem::is_directory(SuiteDir(), ec)) {
    GTEST_SKIP() << "conformance suite not found at " << SuiteDir();
  }
  storage::Head head(storage::HeadOptions{}, Clock::Real());
  std::vector<std::string> exprs;
  for (const auto& e : std::filesystem::directory_iterator(SuiteDir(), ec)) {
    if (e.path().extension() != ".test") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    auto cmds = ParseScript(ss.str());
    ASSERT_TRUE(cmds.ok()) << e.path() << ": " << cmds.status();
    for (const Command& c : *cmds) {
      if (c.kind == Command::kEval) exprs.push_back(c.eval.expr);
      if (c.kind != Command::kLoad) continue;
      for (const SeriesSpec& s : c.load.series) {
        std::vector<storage::Sample> samples;
        for (size_t k = 0; k < s.points.size(); ++k) {
          if (s.points[k].kind == Point::kFloat) {
            samples.push_back(
                {static_cast<int64_t>(k) * c.load.interval_ms, s.points[k].v});
          }
        }
        storage::SeriesSamples batch{&s.labels, samples};
        (void)head.Append(absl::MakeConstSpan(&batch, 1));
      }
    }
  }
  ASSERT_GT(exprs.size(), 1000u);
  EngineOptions opts;
  opts.max_samples = 5'000'000;
  Engine engine(opts);
  int evaluated = 0;
  for (const std::string& e : exprs) {
    auto q = engine.Prepare(e);
    if (!q.ok()) continue;
    for (int64_t t : {-7000LL, 0LL, 61001LL, 3000000LL}) {
      auto r = (*q)->EvalInstant(head, t);
      evaluated += r.ok();
    }
    auto r = (*q)->EvalRange(head, -60000, 3600000, 97000);
    evaluated += r.ok();
  }
  EXPECT_GT(evaluated, 1000);
}

}  // namespace
}  // namespace vigil::promql::promqltest
