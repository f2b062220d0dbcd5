#include "rpc/grpc/alert_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace vigil::rpc {
namespace {

engine::AlertStateChange Change(engine::AlertTransition t, std::string name,
                                int64_t at_s) {
  engine::AlertStateChange c;
  c.transition = t;
  c.alert.labels = storage::Labels::FromSorted(
      {{"alertname", name}, {"severity", "critical"}});
  c.alert.state = t == engine::AlertTransition::kFiring
                      ? engine::AlertState::kFiring
                      : engine::AlertState::kPending;
  c.alert.value = 42;
  c.alert.active_at = absl::FromUnixSeconds(at_s);
  c.at = absl::FromUnixSeconds(at_s);
  return c;
}

TEST(AlertWatchHub, DeliversInOrderWithSequenceNumbers) {
  AlertWatchHub hub(16);
  auto sub = hub.Subscribe();
  hub.OnStateChanges({Change(engine::AlertTransition::kPending, "A", 10),
                      Change(engine::AlertTransition::kFiring, "A", 70)});
  hub.OnStateChanges({Change(engine::AlertTransition::kResolved, "A", 130)});
  rpcpb::AlertEvent e;
  std::vector<rpcpb::AlertEvent::Kind> kinds;
  std::vector<uint64_t> seqs;
  while (sub->Next(&e, absl::ZeroDuration()) ==
         AlertWatchHub::Subscription::Result::kEvent) {
    kinds.push_back(e.kind());
    seqs.push_back(e.sequence());
  }
  EXPECT_EQ(kinds, (std::vector<rpcpb::AlertEvent::Kind>{
                       rpcpb::AlertEvent::PENDING, rpcpb::AlertEvent::FIRING,
                       rpcpb::AlertEvent::RESOLVED}));
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3}));
}

TEST(AlertWatchHub, SlowWatcherIsCutOffOthersUnaffected) {
  AlertWatchHub hub(2);
  auto slow = hub.Subscribe();
  auto fast = hub.Subscribe();
  rpcpb::AlertEvent e;
  for (int i = 0; i < 5; ++i) {
    hub.OnStateChanges({Change(engine::AlertTransition::kPending, "A", i)});
    ASSERT_EQ(fast->Next(&e, absl::ZeroDuration()),
              AlertWatchHub::Subscription::Result::kEvent);
    EXPECT_EQ(e.sequence(), static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(slow->Next(&e, absl::ZeroDuration()),
            AlertWatchHub::Subscription::Result::kOverflow);
  EXPECT_EQ(hub.overflows(), 1);
}

TEST(AlertWatchHub, ShutdownClosesSubscriptions) {
  AlertWatchHub hub;
  auto sub = hub.Subscribe();
  EXPECT_EQ(hub.watchers(), 1u);
  hub.Shutdown();
  rpcpb::AlertEvent e;
  EXPECT_EQ(sub->Next(&e, absl::ZeroDuration()),
            AlertWatchHub::Subscription::Result::kClosed);
  EXPECT_EQ(hub.watchers(), 0u);
}

// A real gRPC round trip on loopback: a client watches, the hub publishes,
// the client sees every change in order.
TEST(VigilService, WatchStreamsStateChangesOverGrpc) {
  AlertWatchHub hub(64);
  VigilServiceImpl service(nullptr, &hub);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start("127.0.0.1:0", {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = rpcpb::Vigil::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*server)->port()),
      grpc::InsecureChannelCredentials()));

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  rpcpb::WatchAlertsRequest req;
  auto reader = stub->WatchAlerts(&ctx, req);
  // Publish only once the server side has subscribed (bounded wait).
  for (int i = 0; i < 3000 && hub.watchers() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(hub.watchers(), 1u);
  hub.OnStateChanges({Change(engine::AlertTransition::kPending, "Disk", 10),
                      Change(engine::AlertTransition::kFiring, "Disk", 70),
                      Change(engine::AlertTransition::kResolved, "Disk", 130)});
  rpcpb::AlertEvent e;
  std::vector<std::string> seen;
  while (seen.size() < 3 && reader->Read(&e)) {
    seen.push_back(rpcpb::AlertEvent::Kind_Name(e.kind()) + "@" +
                   std::to_string(e.at_ms()) + "#" + std::to_string(e.sequence()));
    EXPECT_EQ(e.alert().labels(0).value(), "Disk");
    EXPECT_EQ(e.alert().value(), 42);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"PENDING@10000#1", "FIRING@70000#2",
                                            "RESOLVED@130000#3"}));
  ctx.TryCancel();
  (*server)->Stop();
}

TEST(VigilService, ListRulesRejectsUnknownType) {
  AlertWatchHub hub;
  VigilServiceImpl service(nullptr, &hub);
  rpcpb::ListRulesRequest req;
  req.set_type("bogus");
  rpcpb::ListRulesResponse resp;
  grpc::Status s = service.ListRules(nullptr, &req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("bogus"), std::string::npos);
}

// Receives pushed batches, for the outbound sink test.
class RecordingReceiver final : public rpcpb::AlertReceiver::Service {
 public:
  grpc::Status Push(grpc::ServerContext*, const rpcpb::AlertBatch* batch,
                    rpcpb::PushResponse*) override {
    absl::MutexLock lock(&mu_);
    for (const rpcpb::Alert& a : batch->alerts()) {
      names_.push_back(a.labels(0).value());
    }
    sender_ = batch->sender();
    return grpc::Status::OK;
  }
  std::vector<std::string> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return names_.size() >= n;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return names_;
  }
  std::string sender() {
    absl::MutexLock lock(&mu_);
    return sender_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::string sender_ ABSL_GUARDED_BY(mu_);
};

TEST(GrpcPushSink, PushesBatchesToReceiver) {
  RecordingReceiver receiver;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start("127.0.0.1:0", {&receiver});
  ASSERT_TRUE(server.ok()) << server.status();
  GrpcPushOptions opts;
  opts.target = "127.0.0.1:" + std::to_string((*server)->port());
  opts.sender = "http://vigil.example:9096";
  GrpcPushSink sink(opts);
  std::vector<engine::Alert> alerts;
  for (const char* name : {"A", "B", "C"}) {
    alerts.push_back(Change(engine::AlertTransition::kFiring, name, 1).alert);
  }
  sink.Send(alerts);
  EXPECT_EQ(receiver.WaitFor(3), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(receiver.sender(), "http://vigil.example:9096");
  sink.Stop();
  EXPECT_EQ(sink.sent(), 3);
  EXPECT_EQ(sink.dropped(), 0);
}

TEST(GrpcPushSink, FullQueueDropsOldestAndCounts) {
  GrpcPushOptions opts;
  opts.target = "127.0.0.1:1";  // nothing listens: sends fail fast
  opts.queue_capacity = 2;
  opts.timeout = absl::Milliseconds(200);
  opts.max_attempts = 1;
  GrpcPushSink sink(opts);
  sink.Stop();  // no sender thread: the queue only fills
  std::vector<engine::Alert> alerts;
  for (int i = 0; i < 5; ++i) {
    alerts.push_back(Change(engine::AlertTransition::kFiring, "X", i).alert);
  }
  sink.Send(alerts);  // ignored after Stop: nothing queued, nothing counted
  EXPECT_EQ(sink.dropped(), 0);
  GrpcPushSink live(opts);
  live.Send(alerts);
  live.Stop();
  // Capacity 2 of 5: at least 3 dropped on enqueue; the rest failed to send.
  EXPECT_EQ(live.sent(), 0);
  EXPECT_EQ(live.dropped(), 5);
}

}  // namespace
}  // namespace vigil::rpc
