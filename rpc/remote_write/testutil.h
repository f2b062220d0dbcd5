// Test helpers: build remote-write bodies the way a Prometheus sender does
// (protobuf WriteRequest, snappy block format) and the golden requests kept in
// testdata/remote_write/.
#ifndef VIGIL_RPC_REMOTE_WRITE_TESTUTIL_H_
#define VIGIL_RPC_REMOTE_WRITE_TESTUTIL_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "rpc/proto/remote.pb.h"

namespace vigil::rpc::remote_write {

struct TestSeries {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<int64_t, double>> samples;  // (t, v)
};

prompb::WriteRequest MakeWriteRequest(const std::vector<TestSeries>& series);
// Serialized and snappy-compressed.
std::string EncodeBody(const prompb::WriteRequest& request);
std::string Compress(const std::string& raw);

// The golden requests: name (file stem under testdata/remote_write/) and
// message. Stable across runs.
std::vector<std::pair<std::string, prompb::WriteRequest>> GoldenRequests();

}  // namespace vigil::rpc::remote_write

#endif  // VIGIL_RPC_REMOTE_WRITE_TESTUTIL_H_
