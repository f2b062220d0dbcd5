#include <string>

#include "gtest/gtest.h"
#include "rpc/proto/remote.pb.h"

namespace vigil::prompb {
namespace {

// Field numbers must match Prometheus' prompb so real senders interoperate:
// this is the encoding of {__name__="up"} 1 @ 1000 as Prometheus writes it.
TEST(RemoteProto, WireCompatibleWithPrompb) {
  WriteRequest req;
  TimeSeries* ts = req.add_timeseries();
  Label* l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("up");
  Sample* s = ts->add_samples();
  s->set_value(1.0);
  s->set_timestamp(1000);
  std::string bytes;
  ASSERT_TRUE(req.SerializeToString(&bytes));
  const std::string expected(
      "\x0a\x1e"                                  // timeseries, len 30
      "\x0a\x0e"                                  // labels, len 14
      "\x0a\x08__name__"                          // name
      "\x12\x02up"                                // value
      "\x12\x0c"                                  // samples, len 12
      "\x09\x00\x00\x00\x00\x00\x00\xf0\x3f"      // value 1.0 (fixed64)
      "\x10\xe8\x07",                             // timestamp 1000 (varint)
      32);
  EXPECT_EQ(bytes, expected);
}

}  // namespace
}  // namespace vigil::prompb
