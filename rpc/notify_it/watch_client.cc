// watch_client: test client of vigil's gRPC WatchAlerts stream. Prints one
// line per event ("<sequence> <KIND> <alertname> <at_ms>") and exits 0 after
// a RESOLVED event of --alertname, 1 when the stream ends or the deadline
// passes first.
//
//   watch_client ADDR ALERTNAME DEADLINE_S
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "rpc/proto/alerts.grpc.pb.h"

namespace {

std::string Label(const vigil::rpcpb::Alert& a, const std::string& name) {
  for (const auto& l : a.labels()) {
    if (l.name() == name) return l.value();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: watch_client ADDR ALERTNAME DEADLINE_S\n");
    return 2;
  }
  const std::string want = argv[2];
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto stub = vigil::rpcpb::Vigil::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(std::atoi(argv[3])));
  vigil::rpcpb::WatchAlertsRequest req;
  auto reader = stub->WatchAlerts(&ctx, req);
  std::printf("watching\n");
  std::fflush(stdout);
  vigil::rpcpb::AlertEvent e;
  while (reader->Read(&e)) {
    const std::string name = Label(e.alert(), "alertname");
    std::printf("%llu %s %s %lld\n", static_cast<unsigned long long>(e.sequence()),
                vigil::rpcpb::AlertEvent::Kind_Name(e.kind()).c_str(), name.c_str(),
                static_cast<long long>(e.at_ms()));
    std::fflush(stdout);
    if (name == want && e.kind() == vigil::rpcpb::AlertEvent::RESOLVED) {
      ctx.TryCancel();
      return 0;
    }
  }
  const grpc::Status st = reader->Finish();
  std::fprintf(stderr, "stream ended before RESOLVED: %d %s\n", st.error_code(),
               st.error_message().c_str());
  return 1;
}
