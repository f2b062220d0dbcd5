#include "storage/base/json_string.h"

#include <string>

#include "gtest/gtest.h"

namespace vigil {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(Utf8SequenceLength, AcceptsWellFormedRejectsTheRest) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9", 0), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xE6\x97\xA5", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xC0\xAF", 0), 0u);          // overlong
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80", 0), 0u);      // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80", 0), 0u);  // > U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xE6\x97", 0), 0u);          // truncated
  EXPECT_EQ(Utf8SequenceLength("\xFF", 0), 0u);
}

TEST(AppendJsonString, WritesWhatGoWrites) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("\n\r\t\b\f\x01"), "\"\\n\\r\\t\\b\\f\\u0001\"");
  EXPECT_EQ(Json("<&>"), "\"\\u003c\\u0026\\u003e\"");
  EXPECT_EQ(Json("h\xC3\xA9"), "\"h\xC3\xA9\"");
  EXPECT_EQ(Json("bad\xFFx"), "\"bad\xEF\xBF\xBDx\"");
  EXPECT_EQ(Json("\xE2\x80\xA8\xE2\x80\xA9"), "\"\\u2028\\u2029\"");
}

// The plain fast path and the escaping loop meet at the first special byte:
// nothing before or after it may be lost, doubled or left unquoted.
TEST(AppendJsonString, PlainRunsAroundSpecialBytes) {
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json(std::string_view("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(Json("abc\"def"), "\"abc\\\"def\"");
  EXPECT_EQ(Json("\"abc"), "\"\\\"abc\"");
  EXPECT_EQ(Json("abc\x7f"), "\"abc\x7f\"");  // DEL is printable for Go's JSON
  EXPECT_EQ(Json("x\xC3\xA9y<z"), "\"x\xC3\xA9y\\u003cz\"");
  std::string out = "[";
  AppendJsonString("a", &out);
  out.push_back(',');
  AppendJsonString("b&", &out);
  EXPECT_EQ(out, "[\"a\",\"b\\u0026\"");
}

}  // namespace
}  // namespace vigil
