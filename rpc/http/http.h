// The request/response types and router of vigil's HTTP server: plain structs
// with no Boost in sight, so handlers compile without Beast's cost.
#ifndef VIGIL_RPC_HTTP_HTTP_H_
#define VIGIL_RPC_HTTP_HTTP_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace vigil::rpc::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // The first value of `name`, or "" when absent. The view lives as long as
  // this object is unchanged.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const {
    return fields_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // raw request target, e.g. "/api/v1/series?match[]=up"
  std::string path;    // percent-decoded path, no query
  // For prefix routes, the (decoded) part of `path` after the prefix.
  std::string path_suffix;
  // Query parameters and, for POST/PUT/PATCH with a form-encoded body, the
  // form fields, decoded, body fields first (as Go's Request.ParseForm
  // orders r.Form). Repeated names (match[]) keep every value.
  std::vector<std::pair<std::string, std::string>> params;
  Headers headers;
  std::string body;
  std::string remote_address;  // "ip:port" of the peer

  // First value of parameter `name`, or "" when absent.
  std::string_view Param(std::string_view name) const;
  bool HasParam(std::string_view name) const;
  // Every value of `name`, in order.
  std::vector<std::string> Params(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);
  // 204 with no body.
  static Response NoContent();
};

using Handler = std::function<Response(const Request&)>;

struct RouteOptions {
  // Bodies larger than this are refused with 413 while being read (never
  // buffered). 0 means the server's default.
  size_t max_body_bytes = 0;
};

// Maps method + path to a handler: exact paths first, then the longest
// matching prefix. Build it before starting the server; immutable after, so
// lookups are thread-safe.
class Router {
 public:
  struct Route {
    Handler handler;
    RouteOptions options;
  };

  // `method` is "GET", "POST", ...; "*" matches any method.
  void Handle(std::string method, std::string path, Handler handler,
              RouteOptions options = {});
  // Serves every path that starts with `prefix` (which should end in '/').
  void HandlePrefix(std::string method, std::string prefix, Handler handler,
                    RouteOptions options = {});

  enum class Match { kFound, kNotFound, kMethodNotAllowed };
  // On kFound, `*route` points into this router and `*suffix` holds the part
  // of `path` after a prefix ("" for exact routes).
  Match Find(std::string_view method, std::string_view path,
             const Route** route, std::string* suffix) const;

 private:
  struct Prefix {
    std::string method;
    std::string prefix;
    Route route;
  };
  // path -> method -> route.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Route>>
      exact_;
  std::vector<Prefix> prefixes_;  // longest prefix first
};

// Percent-decodes `s`; with `plus_as_space` (query strings, forms) '+' is a
// space. InvalidArgument on a bad escape.
absl::StatusOr<std::string> PercentDecode(std::string_view s,
                                          bool plus_as_space);
// Parses "a=1&b=2&a=3" into `out` (appending). InvalidArgument naming the
// bad pair.
absl::Status ParseQuery(std::string_view query,
                        std::vector<std::pair<std::string, std::string>>* out);
// Percent-encodes for a query value.
std::string QueryEscape(std::string_view s);

// The standard reason phrase for `status` ("Not Found"), "" if unknown.
std::string_view StatusText(int status);

}  // namespace vigil::rpc::http

#endif  // VIGIL_RPC_HTTP_HTTP_H_
