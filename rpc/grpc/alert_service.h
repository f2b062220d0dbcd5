// vigil's gRPC side: the Vigil service (list rules and alerts, watch alert
// state changes as a stream), the hub that fans state changes out to
// watchers, and an outbound sink that pushes alert batches to a receiver
// implementing AlertReceiver. Definitions in rpc/proto/alerts.proto.
#ifndef VIGIL_RPC_GRPC_ALERT_SERVICE_H_
#define VIGIL_RPC_GRPC_ALERT_SERVICE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/alert_sink.h"
#include "rpc/proto/alerts.grpc.pb.h"

namespace grpc {
class Server;
}

namespace vigil::engine {
class Manager;
}

namespace vigil::rpc {

// engine::Alert -> wire form.
void ToProto(const engine::Alert& alert, rpcpb::Alert* out);

// Fans alert state changes out to any number of watchers. Each watcher has a
// bounded queue; a watcher that falls behind by more than that is cut off
// (its next read reports overflow) instead of slowing evaluation down.
// Thread-safe.
class AlertWatchHub final : public engine::AlertSink {
 public:
  explicit AlertWatchHub(size_t max_queued_per_watcher = 4096)
      : max_queued_(max_queued_per_watcher) {}

  // Delivery of due alerts is the notifier's job; watchers get transitions.
  void Send(std::vector<engine::Alert> alerts) override { (void)alerts; }
  void OnStateChanges(
      const std::vector<engine::AlertStateChange>& changes) override;

  class Subscription {
   public:
    enum class Result { kEvent, kTimeout, kClosed, kOverflow };
    // Waits up to `timeout` for the next event.
    Result Next(rpcpb::AlertEvent* event, absl::Duration timeout);

   private:
    friend class AlertWatchHub;
    absl::Mutex mu_;
    std::deque<rpcpb::AlertEvent> queue_ ABSL_GUARDED_BY(mu_);
    bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
  };

  std::shared_ptr<Subscription> Subscribe();
  void Unsubscribe(const std::shared_ptr<Subscription>& s);
  // Ends every subscription (their reads return kClosed once drained).
  void Shutdown();
  size_t watchers() const;
  // Watchers cut off for being too slow, since start.
  int64_t overflows() const;

 private:
  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subs_ ABSL_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t overflows_ ABSL_GUARDED_BY(mu_) = 0;
};

// The Vigil gRPC service. Borrows the manager (may be null: no rules) and
// the hub; both must outlive it.
class VigilServiceImpl final : public rpcpb::Vigil::Service {
 public:
  VigilServiceImpl(const engine::Manager* manager, AlertWatchHub* hub)
      : manager_(manager), hub_(hub) {}

  grpc::Status ListRules(grpc::ServerContext* context,
                         const rpcpb::ListRulesRequest* request,
                         rpcpb::ListRulesResponse* response) override;
  grpc::Status ListAlerts(grpc::ServerContext* context,
                          const rpcpb::ListAlertsRequest* request,
                          rpcpb::ListAlertsResponse* response) override;
  grpc::Status WatchAlerts(
      grpc::ServerContext* context, const rpcpb::WatchAlertsRequest* request,
      grpc::ServerWriter<rpcpb::AlertEvent>* writer) override;

 private:
  const engine::Manager* const manager_;
  AlertWatchHub* const hub_;
};

// A running gRPC server (insecure transport; put TLS in front as with
// Prometheus' own web listener). Stop() or the destructor shuts it down.
class GrpcServer {
 public:
  // `address` as "host:port" (port 0 picks one). Unavailable when it cannot
  // bind. The services are borrowed and must outlive the server.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const std::string& address, std::vector<grpc::Service*> services);
  ~GrpcServer();
  int port() const { return port_; }
  void Stop();

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port);
  std::unique_ptr<grpc::Server> server_;
  int port_;
};

struct GrpcPushOptions {
  std::string target;  // host:port of an AlertReceiver
  absl::Duration timeout = absl::Seconds(10);
  size_t queue_capacity = 10000;
  size_t max_batch_size = 256;
  int max_attempts = 3;
  std::string sender;  // external URL, copied into every batch
};

// Outbound gRPC sink: queues alerts due for sending and pushes them in
// batches to an AlertReceiver from its own thread. Send never blocks; when
// the queue is full the oldest alerts are dropped and counted. Thread-safe.
class GrpcPushSink final : public engine::AlertSink {
 public:
  explicit GrpcPushSink(GrpcPushOptions options);
  ~GrpcPushSink() override;  // Stops.

  void Send(std::vector<engine::Alert> alerts) override;
  // Stops the sender thread after one last attempt to drain the queue.
  void Stop();

  int64_t sent() const;
  int64_t dropped() const;
  int64_t errors() const;

 private:
  void Loop();

  const GrpcPushOptions options_;
  std::unique_ptr<rpcpb::AlertReceiver::Stub> stub_;
  mutable absl::Mutex mu_;
  std::deque<rpcpb::Alert> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace vigil::rpc

#endif  // VIGIL_RPC_GRPC_ALERT_SERVICE_H_
