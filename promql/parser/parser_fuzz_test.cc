// Deterministic mutation fuzzing of the parser: random edits of real
// queries must never crash, and every accepted query must print to a form
// that parses back to the same text.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "promql/parser/parser.h"
#include "promql/parser/printer.h"

namespace vigil::promql::parser {
namespace {

const char* const kCorpus[] = {
    "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by "
    "(job) "
    "(rate(http_requests_total[5m])) > 0.05",
    "histogram_quantile(0.99, sum by (le, service) "
    "(rate(request_duration_seconds_bucket[5m])))",
    "absent(up{job=\"node\"} == 1)",
    "up == 0",
    "label_replace(up, \"host\", \"$1\", \"instance\", \"(.*):.*\")",
    "100 * (1 - avg by (instance) "
    "(rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))",
    "predict_linear(node_filesystem_free_bytes[6h], 4 * 3600) < 0",
    "foo * on(a, b) group_left(c) bar offset 5m",
    "max_over_time(rate(foo[1m])[1h:5m] @ end())",
    "topk(5, count_values(\"v\", foo)) without (x)",
    "-2 ^ 2 + +foo % 3 atan2 bar",
    "foo[5m+1m] offset (1h*2)",
    "{__name__=~\"a.*\", \"b.c\"=\"d\"} unless on() bar",
    "time() - timestamp(foo @ 1000 offset -5m) >= bool 3600",
    "quantile_over_time(0.5, foo[10m:30s])",
    "sort_by_label(foo, \"a\", 'b', `c`)",
    "(foo{a!=\"b\"} or bar{c!~\"d|e\"}) and baz",
    "count(up) by (job) - count(up == 1) by (job)",
    "\"str\\n\\x41\\u00e9\"",
    "0x1F + 1e3 - .5 * Inf / NaN",
};

// Fragments spliced in by the mutator.
const char* const kFragments[] = {
    "(",      ")",         "[",          "]",        "{",     "}",
    ",",      ":",         "@",          "offset",   "by",    "without",
    "on",     "ignoring",  "group_left", "bool",     "and",   "or",
    "unless", "+",         "-",          "*",        "/",     "%",
    "^",      "==",        "!=",         "=~",       "!~",    "<=",
    ">",      "5m",        "1h30m",      "0x",       "1e",    "Inf",
    "\"",     "'",         "`",          "\\",       "sum",   "rate",
    "foo",    "{a=\"b\"}", "[5m:]",      "start()",  "end()", "#",
    "\n",     " ",         "\xff",       "\xc3\xa9", "0",
};

std::string Mutate(std::string s, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0:  // delete a run
        if (!s.empty() && pos < s.size()) {
          s.erase(pos, 1 + rng() % 4);
        }
        break;
      case 1:  // insert a fragment
        s.insert(pos, kFragments[rng() % std::size(kFragments)]);
        break;
      case 2:  // replace a byte with a random printable one
        if (pos < s.size()) {
          s[pos] = static_cast<char>(32 + rng() % 95);
        }
        break;
      case 3:  // duplicate a slice
        if (pos < s.size()) {
          s.insert(pos, s.substr(pos, 1 + rng() % 8));
        }
        break;
      default:  // splice in part of another corpus entry
      {
        std::string other = kCorpus[rng() % std::size(kCorpus)];
        size_t from = rng() % other.size();
        s.insert(pos, other.substr(from, 1 + rng() % 12));
        break;
      }
    }
  }
  return s;
}

TEST(ParserFuzzTest, MutationsNeverCrashAndRoundTrip) {
  std::mt19937_64 rng(20240611);
  int accepted = 0;
  int rejected = 0;
  for (int iter = 0; iter < 50000; ++iter) {
    const std::string input = Mutate(kCorpus[iter % std::size(kCorpus)], rng);
    auto e = ParseExpr(input);
    if (!e.ok()) {
      ++rejected;
      ASSERT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << input;
      ASSERT_NE(std::string(e.status().message()).find("parse error: "),
                std::string::npos)
          << input;
      continue;
    }
    ++accepted;
    const std::string printed = Format(**e);
    auto again = ParseExpr(printed);
    ASSERT_TRUE(again.ok()) << "input: " << input << "\nprinted: " << printed
                            << "\nerror: " << again.status();
    ASSERT_EQ(Format(**again), printed) << "input: " << input;
  }
  // The mutator must exercise both paths to mean anything.
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(rejected, 1000);
}

TEST(ParserFuzzTest, CorpusParses) {
  for (const char* q : kCorpus) {
    auto e = ParseExpr(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status();
  }
}

TEST(ParserFuzzTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) {
      c = static_cast<char>(rng() % 256);
    }
    auto e = ParseExpr(s);
    if (e.ok()) {
      auto again = ParseExpr(Format(**e));
      ASSERT_TRUE(again.ok());
    }
    (void)ParseMetricSelector(s);
  }
}

}  // namespace
}  // namespace vigil::promql::parser
