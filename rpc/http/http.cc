#include "rpc/http/http.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vigil::rpc::http {
namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AV(a), AV(b));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

bool Headers::Has(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return true;
  }
  return false;
}

std::string_view Request::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

bool Request::HasParam(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return true;
  }
  return false;
}

std::vector<std::string> Request::Params(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : params) {
    if (k == name) out.push_back(v);
  }
  return out;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

Response Response::NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

void Router::Handle(std::string method, std::string path, Handler handler,
                    RouteOptions options) {
  exact_[std::move(path)][std::move(method)] =
      Route{std::move(handler), options};
}

void Router::HandlePrefix(std::string method, std::string prefix,
                          Handler handler, RouteOptions options) {
  prefixes_.push_back(
      Prefix{std::move(method), std::move(prefix),
             Route{std::move(handler), options}});
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [](const Prefix& a, const Prefix& b) {
                     return a.prefix.size() > b.prefix.size();
                   });
}

Router::Match Router::Find(std::string_view method, std::string_view path,
                           const Route** route, std::string* suffix) const {
  bool path_known = false;
  auto it = exact_.find(AV(path));
  if (it != exact_.end()) {
    path_known = true;
    auto m = it->second.find(AV(method));
    if (m == it->second.end()) m = it->second.find("*");
    if (m != it->second.end()) {
      *route = &m->second;
      suffix->clear();
      return Match::kFound;
    }
  }
  for (const Prefix& p : prefixes_) {
    if (path.size() < p.prefix.size() ||
        path.substr(0, p.prefix.size()) != p.prefix) {
      continue;
    }
    path_known = true;
    if (p.method == method || p.method == "*") {
      *route = &p.route;
      suffix->assign(path.substr(p.prefix.size()));
      return Match::kFound;
    }
  }
  return path_known ? Match::kMethodNotAllowed : Match::kNotFound;
}

absl::StatusOr<std::string> PercentDecode(std::string_view s,
                                          bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid URL escape \"",
                         AV(s.substr(i, std::min<size_t>(3, s.size() - i))),
                         "\""));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status ParseQuery(std::string_view query,
                        std::vector<std::pair<std::string, std::string>>* out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto key = PercentDecode(k, true);
    if (!key.ok()) return key.status();
    auto value = PercentDecode(v, true);
    if (!value.ok()) return value.status();
    out->emplace_back(*std::move(key), *std::move(value));
  }
  return absl::OkStatus();
}

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

}  // namespace vigil::rpc::http
