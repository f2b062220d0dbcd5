#include "rpc/grpc/alert_service.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "engine/alerting_rule.h"
#include "engine/group.h"
#include "engine/manager.h"
#include "engine/rule.h"

namespace vigil::rpc {
namespace {

int64_t ToMillis(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return 0;
  return absl::ToUnixMillis(t);
}

void AddLabels(const storage::Labels& labels,
               google::protobuf::RepeatedPtrField<rpcpb::Label>* out) {
  for (const storage::Label& l : labels) {
    rpcpb::Label* p = out->Add();
    p->set_name(l.name);
    p->set_value(l.value);
  }
}

void AddSpecLabels(const std::vector<storage::Label>& labels,
                   google::protobuf::RepeatedPtrField<rpcpb::Label>* out) {
  for (const storage::Label& l : labels) {
    rpcpb::Label* p = out->Add();
    p->set_name(l.name);
    p->set_value(l.value);
  }
}

rpcpb::AlertEvent::Kind KindOf(engine::AlertTransition t) {
  switch (t) {
    case engine::AlertTransition::kPending:
      return rpcpb::AlertEvent::PENDING;
    case engine::AlertTransition::kFiring:
      return rpcpb::AlertEvent::FIRING;
    case engine::AlertTransition::kResolved:
      return rpcpb::AlertEvent::RESOLVED;
  }
  return rpcpb::AlertEvent::PENDING;
}

}  // namespace

void ToProto(const engine::Alert& alert, rpcpb::Alert* out) {
  AddLabels(alert.labels, out->mutable_labels());
  AddLabels(alert.annotations, out->mutable_annotations());
  out->set_state(engine::AlertStateName(alert.state));
  out->set_value(alert.value);
  out->set_active_at_ms(ToMillis(alert.active_at));
  out->set_fired_at_ms(ToMillis(alert.fired_at));
  out->set_resolved_at_ms(ToMillis(alert.resolved_at));
  out->set_starts_at_ms(ToMillis(alert.starts_at));
  out->set_ends_at_ms(ToMillis(alert.ends_at));
  out->set_generator_url(alert.generator_url);
  out->set_group(alert.group_name);
  out->set_rule(alert.rule_name);
}

// ---------------------------------------------------------------------------
// AlertWatchHub

void AlertWatchHub::OnStateChanges(
    const std::vector<engine::AlertStateChange>& changes) {
  if (changes.empty()) return;
  absl::MutexLock lock(&mu_);
  for (const engine::AlertStateChange& change : changes) {
    rpcpb::AlertEvent event;
    event.set_kind(KindOf(change.transition));
    ToProto(change.alert, event.mutable_alert());
    event.set_at_ms(ToMillis(change.at));
    event.set_sequence(++sequence_);
    for (const std::shared_ptr<Subscription>& sub : subs_) {
      absl::MutexLock sub_lock(&sub->mu_);
      if (sub->overflowed_ || sub->closed_) continue;
      if (sub->queue_.size() >= max_queued_) {
        // Cut the slow watcher off rather than queue without bound or block
        // the evaluation that produced the change.
        sub->overflowed_ = true;
        sub->queue_.clear();
        ++overflows_;
        continue;
      }
      sub->queue_.push_back(event);
    }
  }
}

std::shared_ptr<AlertWatchHub::Subscription> AlertWatchHub::Subscribe() {
  auto sub = std::make_shared<Subscription>();
  absl::MutexLock lock(&mu_);
  subs_.push_back(sub);
  return sub;
}

void AlertWatchHub::Unsubscribe(const std::shared_ptr<Subscription>& s) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < subs_.size(); ++i) {
    if (subs_[i] == s) {
      subs_.erase(subs_.begin() + i);
      return;
    }
  }
}

void AlertWatchHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<Subscription>& sub : subs_) {
    absl::MutexLock sub_lock(&sub->mu_);
    sub->closed_ = true;
  }
  subs_.clear();
}

size_t AlertWatchHub::watchers() const {
  absl::MutexLock lock(&mu_);
  return subs_.size();
}

int64_t AlertWatchHub::overflows() const {
  absl::MutexLock lock(&mu_);
  return overflows_;
}

AlertWatchHub::Subscription::Result AlertWatchHub::Subscription::Next(
    rpcpb::AlertEvent* event, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return overflowed_ || closed_ || !queue_.empty();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (overflowed_) return Result::kOverflow;
  if (!queue_.empty()) {
    *event = std::move(queue_.front());
    queue_.pop_front();
    return Result::kEvent;
  }
  return closed_ ? Result::kClosed : Result::kTimeout;
}

// ---------------------------------------------------------------------------
// VigilServiceImpl

grpc::Status VigilServiceImpl::ListRules(grpc::ServerContext*,
                                         const rpcpb::ListRulesRequest* request,
                                         rpcpb::ListRulesResponse* response) {
  const std::string& type = request->type();
  if (!type.empty() && type != "alert" && type != "record") {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "type must be \"\", \"alert\" or \"record\", got \"" +
                            type + "\"");
  }
  if (manager_ == nullptr) return grpc::Status::OK;
  for (const std::shared_ptr<engine::Group>& group : manager_->Groups()) {
    rpcpb::RuleGroup* g = response->add_groups();
    g->set_name(group->name());
    g->set_file(group->file());
    g->set_interval_seconds(absl::ToDoubleSeconds(group->interval()));
    for (const std::unique_ptr<engine::Rule>& rule : group->rules()) {
      if (rule->is_alerting() ? type == "record" : type == "alert") continue;
      rpcpb::Rule* r = g->add_rules();
      const engine::RuleEvalStatus st = rule->status();
      r->set_name(rule->name());
      r->set_query(rule->spec().expr);
      r->set_type(rule->is_alerting() ? "alerting" : "recording");
      r->set_health(engine::RuleHealthName(st.health));
      r->set_last_error(st.last_error);
      AddSpecLabels(rule->spec().labels, r->mutable_labels());
      if (rule->is_alerting()) {
        const auto* alerting =
            static_cast<const engine::AlertingRule*>(rule.get());
        r->set_state(engine::AlertStateName(alerting->State()));
        r->set_for_seconds(absl::ToDoubleSeconds(alerting->hold_duration()));
        r->set_keep_firing_for_seconds(
            absl::ToDoubleSeconds(alerting->keep_firing_for()));
        AddSpecLabels(rule->spec().annotations, r->mutable_annotations());
        for (const engine::Alert& a : alerting->ActiveAlerts()) {
          ToProto(a, r->add_alerts());
        }
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status VigilServiceImpl::ListAlerts(grpc::ServerContext*,
                                          const rpcpb::ListAlertsRequest*,
                                          rpcpb::ListAlertsResponse* response) {
  if (manager_ == nullptr) return grpc::Status::OK;
  for (const engine::Alert& a : manager_->ActiveAlerts()) {
    ToProto(a, response->add_alerts());
  }
  return grpc::Status::OK;
}

grpc::Status VigilServiceImpl::WatchAlerts(
    grpc::ServerContext* context, const rpcpb::WatchAlertsRequest* request,
    grpc::ServerWriter<rpcpb::AlertEvent>* writer) {
  std::shared_ptr<AlertWatchHub::Subscription> sub = hub_->Subscribe();
  struct Unsubscribe {
    AlertWatchHub* hub;
    std::shared_ptr<AlertWatchHub::Subscription> sub;
    ~Unsubscribe() { hub->Unsubscribe(sub); }
  } unsubscribe{hub_, sub};

  if (request->initial_state() && manager_ != nullptr) {
    for (const engine::Alert& a : manager_->ActiveAlerts()) {
      rpcpb::AlertEvent event;
      event.set_kind(a.state == engine::AlertState::kFiring
                         ? rpcpb::AlertEvent::FIRING
                         : rpcpb::AlertEvent::PENDING);
      ToProto(a, event.mutable_alert());
      event.set_at_ms(ToMillis(a.active_at));
      if (!writer->Write(event)) return grpc::Status::CANCELLED;
    }
  }
  rpcpb::AlertEvent event;
  while (!context->IsCancelled()) {
    switch (sub->Next(&event, absl::Milliseconds(500))) {
      case AlertWatchHub::Subscription::Result::kEvent:
        if (!writer->Write(event)) return grpc::Status::CANCELLED;
        break;
      case AlertWatchHub::Subscription::Result::kTimeout:
        break;
      case AlertWatchHub::Subscription::Result::kClosed:
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "vigil is shutting down");
      case AlertWatchHub::Subscription::Result::kOverflow:
        return grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            "watcher fell too far behind the alert state changes and was "
            "cut off; reconnect with initial_state=true to resynchronise");
    }
  }
  return grpc::Status::CANCELLED;
}

// ---------------------------------------------------------------------------
// GrpcServer

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const std::string& address, std::vector<grpc::Service*> services) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError("cannot listen for gRPC on \"" + address +
                                  "\"");
  }
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(server), port));
}

GrpcServer::GrpcServer(std::unique_ptr<grpc::Server> server, int port)
    : server_(std::move(server)), port_(port) {}

GrpcServer::~GrpcServer() { Stop(); }

void GrpcServer::Stop() {
  if (server_ != nullptr) {
    // Streams poll for cancellation, so a short deadline ends them cleanly.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(2));
    server_.reset();
  }
}

// ---------------------------------------------------------------------------
// GrpcPushSink

GrpcPushSink::GrpcPushSink(GrpcPushOptions options)
    : options_(std::move(options)) {
  stub_ = rpcpb::AlertReceiver::NewStub(grpc::CreateChannel(
      options_.target, grpc::InsecureChannelCredentials()));
  thread_ = std::thread([this] { Loop(); });
}

GrpcPushSink::~GrpcPushSink() { Stop(); }

void GrpcPushSink::Send(std::vector<engine::Alert> alerts) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  for (const engine::Alert& a : alerts) {
    if (queue_.size() >= options_.queue_capacity) {
      queue_.pop_front();
      ++dropped_;
    }
    ToProto(a, &queue_.emplace_back());
  }
}

void GrpcPushSink::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void GrpcPushSink::Loop() {
  for (;;) {
    rpcpb::AlertBatch batch;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stop_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      stopping = stop_;
      while (!queue_.empty() &&
             static_cast<size_t>(batch.alerts_size()) < options_.max_batch_size) {
        *batch.add_alerts() = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    if (batch.alerts_size() > 0) {
      batch.set_sender(options_.sender);
      bool ok = false;
      for (int attempt = 0; attempt < options_.max_attempts && !ok; ++attempt) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(options_.timeout));
        rpcpb::PushResponse resp;
        ok = stub_->Push(&ctx, batch, &resp).ok();
        if (!ok) {
          absl::MutexLock lock(&mu_);
          ++errors_;
          if (stop_) break;
        }
      }
      absl::MutexLock lock(&mu_);
      if (ok) {
        sent_ += batch.alerts_size();
      } else {
        dropped_ += batch.alerts_size();
      }
    }
    if (stopping) {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) return;
    }
  }
}

int64_t GrpcPushSink::sent() const {
  absl::MutexLock lock(&mu_);
  return sent_;
}
int64_t GrpcPushSink::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}
int64_t GrpcPushSink::errors() const {
  absl::MutexLock lock(&mu_);
  return errors_;
}

}  // namespace vigil::rpc
