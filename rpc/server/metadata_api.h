// The Prometheus HTTP API's metadata endpoints over vigil's store
// (/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values) and
// VictoriaMetrics' raw export (/api/v1/export, JSON lines), which the ingest
// tests use to read samples back exactly.
#ifndef VIGIL_RPC_SERVER_METADATA_API_H_
#define VIGIL_RPC_SERVER_METADATA_API_H_

#include "rpc/http/http.h"
#include "storage/storage.h"

namespace vigil::rpc::server {

// Borrows the store, which must outlive it. Thread-safe.
class MetadataApi {
 public:
  explicit MetadataApi(const storage::Queryable* store) : store_(store) {}

  // GET and POST for each endpoint (POST takes form-encoded parameters).
  void Register(http::Router* router) const;

  http::Response Series(const http::Request& request) const;
  http::Response LabelNames(const http::Request& request) const;
  // REQUIRES: request.path_suffix is "<name>/values".
  http::Response LabelValues(const http::Request& request) const;
  http::Response Export(const http::Request& request) const;

 private:
  const storage::Queryable* const store_;
};

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_METADATA_API_H_
