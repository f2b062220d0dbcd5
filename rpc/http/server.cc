// Beast/Asio stays inside this file. Each connection is one C++20 coroutine on
// its own strand: read header, pick the route (and its body limit), read the
// body bounded by that limit, run the handler, write, repeat while kept alive.
#include "rpc/http/server.h"

#include <atomic>
#include <charconv>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "storage/base/logfmt.h"

namespace vigil::rpc::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

std::string ToStd(beast::string_view s) { return std::string(s.data(), s.size()); }

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The media type of a Content-Type value, lower-cased, without parameters.
std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  std::string out;
  for (char c : t) {
    if (c != ' ' && c != '\t') out.push_back(absl::ascii_tolower(c));
  }
  return out;
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, Router router)
      : options_(std::move(options)),
        router_(std::move(router)),
        ioc_(std::max(1, options_.num_threads)),
        acceptor_(asio::make_strand(ioc_)) {}

  ~Impl() { Stop(); }

  absl::Status Listen();
  void Run();
  void Stop();
  int port() const { return port_; }

 private:
  // One connection's state. `idle` is only touched on the connection's strand.
  struct Conn {
    explicit Conn(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    bool idle = false;
    // Set after an error answer sent before the request was fully read.
    bool linger = false;
  };

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(std::shared_ptr<Conn> conn);
  // Writes a short error answer; the caller then closes the connection.
  asio::awaitable<void> WriteError(Conn& conn, unsigned version, int status,
                                   std::string text);
  Response Dispatch(const Router::Route& route, Request& request);

  bool Register(const std::shared_ptr<Conn>& conn) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    conns_[conn.get()] = conn;
    return true;
  }
  void Unregister(Conn* conn) {
    absl::MutexLock lock(&mu_);
    conns_.erase(conn);
  }

  const ServerOptions options_;
  const Router router_;
  int port_ = 0;

  // Declared before ioc_ so that they outlive the coroutine frames ioc_
  // destroys.
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<Conn*, std::shared_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stopping_fast_{false};  // mirror of stopping_ for reads

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
};

absl::Status Server::Impl::Listen() {
  boost::system::error_code ec;
  std::string host = options_.host.empty() ? "0.0.0.0" : options_.host;
  tcp::endpoint endpoint;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(addr, static_cast<unsigned short>(options_.port));
  } else {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(host, std::to_string(options_.port),
                                    tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "listen tcp ", host, ":", options_.port, ": lookup: ", ec.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  auto fail = [&](std::string_view what) {
    return absl::UnavailableError(absl::StrCat("listen tcp ", host, ":",
                                               options_.port, ": ", AV(what),
                                               ": ", ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("socket");
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  port_ = acceptor_.local_endpoint(ec).port();
  return absl::OkStatus();
}

void Server::Impl::Run() {
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), asio::detached);
  int n = std::max(1, options_.num_threads);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor_.async_accept(asio::make_strand(ioc_), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
        co_return;
      }
      // EMFILE and friends: keep serving the connections we have.
      log::Warn("HTTP accept failed", {{"err", ec.message()}});
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Conn>(std::move(socket));
    if (!Register(conn)) co_return;
    auto executor = conn->stream.get_executor();
    asio::co_spawn(executor, Serve(std::move(conn)), asio::detached);
  }
}

asio::awaitable<void> Server::Impl::WriteError(Conn& conn, unsigned version,
                                               int status, std::string text) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status),
                                          version};
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(text);
  res.body().push_back('\n');
  res.keep_alive(false);
  res.prepare_payload();
  conn.linger = true;
  conn.stream.expires_after(std::chrono::seconds(10));
  co_await bhttp::async_write(conn.stream, res, kTuple);
}

Response Server::Impl::Dispatch(const Router::Route& route, Request& request) {
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    log::Error("HTTP handler threw", {{"path", request.path}, {"err", e.what()}});
    return Response::Text(500, absl::StrCat("internal error: ", e.what(), "\n"));
  } catch (...) {
    log::Error("HTTP handler threw", {{"path", request.path}});
    return Response::Text(500, "internal error\n");
  }
}

asio::awaitable<void> Server::Impl::Serve(std::shared_ptr<Conn> conn) {
  struct Unreg {
    Impl* impl;
    Conn* conn;
    ~Unreg() { impl->Unregister(conn); }
  } unreg{this, conn.get()};

  std::string remote;
  {
    boost::system::error_code ec;
    auto ep = conn->stream.socket().remote_endpoint(ec);
    if (!ec) remote = absl::StrCat(ep.address().to_string(), ":", ep.port());
  }
  const auto idle_timeout = absl::ToChronoMilliseconds(options_.idle_timeout);
  const auto read_timeout = absl::ToChronoMilliseconds(options_.read_timeout);
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // The real limit depends on the route, known only after the header; until
    // then don't let the parser judge Content-Length.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (stopping_fast_.load()) break;
    conn->idle = true;
    conn->stream.expires_after(idle_timeout);
    auto [ec, n] =
        co_await bhttp::async_read_header(conn->stream, buffer, parser, kTuple);
    conn->idle = false;
    if (ec) {
      if (ec == bhttp::error::body_limit) {
        co_await WriteError(*conn, 11, 413, "request body too large");
      } else if (ec == bhttp::error::header_limit) {
        co_await WriteError(*conn, 11, 431, "request header too large");
      } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
                 ec != bhttp::error::end_of_stream &&
                 ec != bhttp::error::partial_message) {
        co_await WriteError(*conn, 11, 400,
                            absl::StrCat("malformed HTTP request: ", ec.message()));
      }
      break;
    }

    auto& header = parser.get();
    const unsigned version = header.version();
    Request request;
    request.method = ToStd(header.method_string());
    request.target = ToStd(header.target());
    request.remote_address = remote;
    std::string_view target = request.target;
    size_t q = target.find('?');
    std::string_view raw_path = target.substr(0, q);
    std::string_view raw_query =
        q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    auto path = PercentDecode(raw_path, /*plus_as_space=*/false);
    if (!path.ok()) {
      co_await WriteError(*conn, version, 400,
                          absl::StrCat("bad request path: ", path.status().message()));
      break;
    }
    request.path = *std::move(path);

    const Router::Route* route = nullptr;
    Router::Match match = router_.Find(request.method, request.path, &route,
                                       &request.path_suffix);
    size_t limit = options_.max_body_bytes;
    if (match == Router::Match::kFound && route->options.max_body_bytes > 0) {
      limit = route->options.max_body_bytes;
    }
    if (parser.content_length() && *parser.content_length() > limit) {
      co_await WriteError(
          *conn, version, 413,
          absl::StrCat("request body of ", *parser.content_length(),
                       " bytes exceeds the limit of ", limit, " bytes"));
      break;
    }
    parser.body_limit(limit);
    if (!parser.is_done()) {
      if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_,
                                                version};
        auto [wec, wn] = co_await bhttp::async_write(conn->stream, cont, kTuple);
        if (wec) break;
      }
      conn->stream.expires_after(read_timeout);
      auto [bec, bn] =
          co_await bhttp::async_read(conn->stream, buffer, parser, kTuple);
      if (bec) {
        if (bec == bhttp::error::body_limit) {
          co_await WriteError(
              *conn, version, 413,
              absl::StrCat("request body exceeds the limit of ", limit, " bytes"));
        } else if (bec != beast::error::timeout &&
                   bec != bhttp::error::end_of_stream &&
                   bec != bhttp::error::partial_message &&
                   bec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
          co_await WriteError(*conn, version, 400,
                              absl::StrCat("malformed HTTP request body: ", bec.message()));
        }
        break;
      }
    }
    bhttp::request<bhttp::string_body> req = parser.release();
    const bool keep_alive = req.keep_alive();
    for (const auto& field : req) {
      request.headers.Add(ToStd(field.name_string()), ToStd(field.value()));
    }
    request.body = std::move(req.body());

    Response response;
    absl::Status qs = ParseQuery(raw_query, &request.params);
    if (!qs.ok()) {
      response = Response::Text(400, absl::StrCat("bad query string: ", qs.message(), "\n"));
    } else if (match == Router::Match::kNotFound) {
      response = Response::Text(404, "404 page not found\n");
    } else if (match == Router::Match::kMethodNotAllowed) {
      response = Response::Text(405, "method not allowed\n");
    } else {
      if ((request.method == "POST" || request.method == "PUT" ||
           request.method == "PATCH") &&
          MediaType(request.headers.Get("Content-Type")) ==
              "application/x-www-form-urlencoded") {
        std::vector<std::pair<std::string, std::string>> form;
        qs = ParseQuery(request.body, &form);
        if (!qs.ok()) {
          response = Response::Text(400, absl::StrCat("bad form body: ", qs.message(), "\n"));
        } else {
          form.insert(form.end(), std::make_move_iterator(request.params.begin()),
                      std::make_move_iterator(request.params.end()));
          request.params = std::move(form);
        }
      }
      if (qs.ok()) response = Dispatch(*route, request);
    }

    bhttp::response<bhttp::string_body> res{
        static_cast<bhttp::status>(response.status), version};
    if (!response.content_type.empty()) {
      res.set(bhttp::field::content_type, response.content_type);
    }
    for (const auto& [name, value] : response.headers) {
      res.insert(beast::string_view(name.data(), name.size()), value);
    }
    if (response.status == 204 || response.status == 304 ||
        response.status < 200) {
      response.body.clear();
    }
    res.body() = std::move(response.body);
    const bool keep = keep_alive && !stopping_fast_.load();
    res.keep_alive(keep);
    res.prepare_payload();
    // HEAD: the GET answer's headers (Content-Length included), no body.
    if (request.method == "HEAD") res.body().clear();
    conn->stream.expires_after(read_timeout);
    auto [wec, wn] = co_await bhttp::async_write(conn->stream, res, kTuple);
    if (wec || !keep) break;
  }
  boost::system::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (conn->linger && !stopping_fast_.load()) {
    // The client may still be sending the body we refused; closing with
    // unread data makes the kernel send RST, which can destroy our answer
    // before the client reads it (and a remote-write sender would retry a
    // 413 forever). Read and drop a bounded amount first, as Go's server does.
    char sink[16384];
    size_t drained = 0;
    conn->stream.expires_after(std::chrono::seconds(2));
    while (drained < (size_t{1} << 20)) {
      auto [ec, n] = co_await conn->stream.async_read_some(
          asio::buffer(sink, sizeof(sink)), kTuple);
      if (ec) break;
      drained += n;
    }
  }
  conn->stream.socket().close(ignored);
}

void Server::Impl::Stop() {
  std::vector<std::shared_ptr<Conn>> conns;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    stopping_fast_.store(true);
    for (auto& [p, c] : conns_) conns.push_back(c);
  }
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  // Idle connections are cut now; busy ones finish their request and close.
  for (auto& c : conns) {
    asio::post(c->stream.get_executor(), [c] {
      if (c->idle) c->stream.cancel();
    });
  }
  conns.clear();
  {
    absl::MutexLock lock(&mu_);
    auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return conns_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&none), options_.shutdown_grace);
  }
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // The close posted above may not have run before stop(); with no thread
  // left, closing here is safe, and frees the port for whoever binds next.
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      Router router) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(router));
  absl::Status st = impl->Listen();
  if (!st.ok()) return st;
  impl->Run();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port(); }

void Server::Stop() {
  if (impl_) impl_->Stop();
}

absl::Status SplitHostPort(std::string_view address, std::string* host,
                           int* port) {
  std::string_view h, p;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("address ", AV(address), ": want [host]:port"));
    }
    h = address.substr(1, close - 1);
    p = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("address ", AV(address), ": missing port"));
    }
    h = address.substr(0, colon);
    p = address.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address ", AV(address), ": too many colons (use [host]:port)"));
    }
  }
  int value = -1;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() ||
      value < 0 || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", AV(address), ": invalid port \"", AV(p), "\""));
  }
  *host = h.empty() ? "0.0.0.0" : std::string(h);
  *port = value;
  return absl::OkStatus();
}

}  // namespace vigil::rpc::http
