#include <openssl/err.h>
#include <openssl/ssl.h>

#include <map>
#include <mutex>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "link.h"
#include "portal/message.h"

namespace portal::node {

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

// Accept errors (EMFILE, ENFILE, ENOBUFS) are retried after this pause instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{100};

std::string openssl_error(const boost::system::error_code& ec) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return ec.message();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<std::shared_ptr<ssl::context>> make_context(ssl::context::method method, const TlsFiles& files, bool server) {
  auto ctx = std::make_shared<ssl::context>(method);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
  // TLS 1.3 is the highest version on both sides and so the one negotiated; 1.2 is the floor.
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
    return make_error(kFatalConfig, "cannot require TLS 1.2 (OpenSSL)");
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return make_error(kFatalConfig, "cannot load certificate '" + files.cert_file + "': " + openssl_error(ec));
  ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return make_error(kFatalConfig, "cannot load key '" + files.key_file + "': " + openssl_error(ec));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    ERR_clear_error();
    return make_error(kFatalConfig, "key '" + files.key_file + "' does not match certificate '" + files.cert_file + "'");
  }
  if (files.ca_file.empty()) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  ctx->load_verify_file(files.ca_file, ec);
  if (ec) return make_error(kFatalConfig, "cannot load CA file '" + files.ca_file + "': " + openssl_error(ec));
  ctx->set_verify_mode(server ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert : ssl::verify_peer);
  return ctx;
}

}  // namespace

Result<TlsContexts> make_tls_contexts(const TlsFiles& files) {
  auto server = make_context(ssl::context::tls_server, files, true);
  if (!server) return server.error();
  auto client = make_context(ssl::context::tls_client, files, false);
  if (!client) return client.error();
  return TlsContexts{std::move(*server), std::move(*client)};
}

struct Listener::State : std::enable_shared_from_this<Listener::State> {
  State(asio::io_context& io, std::shared_ptr<ssl::context> tls, Options o, LinkOptions lo,
        std::function<Link::Callbacks()> make)
      : io(io),
        acceptor(asio::make_strand(io)),
        retry_timer(acceptor.get_executor()),
        tls(std::move(tls)),
        options(std::move(o)),
        link_options(std::move(lo)),
        make_callbacks(std::move(make)) {}

  Status listen();
  void accept_next();
  void on_accept(const boost::system::error_code& ec, Tcp::socket socket);
  void admit(Tcp::socket socket);
  bool take_slot(const asio::ip::address& addr);
  void release_slot(const asio::ip::address& addr);
  void shutdown();

  asio::io_context& io;
  // The acceptor and its timer run on a strand, so stop() is safe on a loop with several
  // threads; accepted sockets get the plain executor and each link makes its own strand.
  Tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::shared_ptr<ssl::context> tls;
  Options options;
  LinkOptions link_options;
  std::function<Link::Callbacks()> make_callbacks;
  std::uint16_t port = 0;
  std::atomic<bool> stopped{false};
  std::atomic<std::uint64_t> refused{0};

  // Links call back from their own strands: the pending counts have their own lock.
  std::mutex mu;
  std::size_t pending = 0;
  std::map<asio::ip::address, std::size_t> pending_by_address;
  std::vector<std::weak_ptr<Link>> handshaking;  // closed by stop(); pruned as they finish
};

// A pending slot is given back exactly once: when the link comes up or when it goes down
// without coming up.
class PendingSlot {
 public:
  explicit PendingSlot(std::function<void()> give_back) : give_back_(std::move(give_back)) {}
  void release() {
    if (!released_.exchange(true)) give_back_();
  }

 private:
  std::function<void()> give_back_;
  std::atomic<bool> released_{false};
};

Status Listener::State::listen() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.bind, ec);
  if (ec) return make_error(kFatalConfig, "invalid bind address '" + options.bind + "'");
  const Tcp::endpoint ep(address, options.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(Tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port = acceptor.local_endpoint(ec).port();
  if (ec)
    return make_error(status::unavailable,
                      "cannot listen on " + options.bind + " port " + std::to_string(options.port) + ": " + ec.message());
  return {};
}

void Listener::State::accept_next() {
  if (stopped) return;
  acceptor.async_accept(io.get_executor(), [self = shared_from_this()](const boost::system::error_code& ec, Tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void Listener::State::on_accept(const boost::system::error_code& ec, Tcp::socket socket) {
  if (stopped || ec == asio::error::operation_aborted) return;
  if (ec) {
    retry_timer.expires_after(kAcceptRetry);
    retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->accept_next();
    });
    return;
  }
  admit(std::move(socket));
  accept_next();
}

void Listener::State::admit(Tcp::socket socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  if (!take_slot(remote.address())) {
    ++refused;
    socket.close(ec);
    return;
  }
  Link::Callbacks user = make_callbacks();
  // Links may outlive the listener: the slot holds it weakly.
  auto slot = std::make_shared<PendingSlot>([listener = weak_from_this(), addr = remote.address()] {
    if (auto s = listener.lock()) s->release_slot(addr);
  });
  Link::Callbacks cb;
  cb.up = [slot, up = std::move(user.up)](const std::shared_ptr<Link>& link) {
    slot->release();
    if (up) up(link);
  };
  cb.request = std::move(user.request);
  cb.event = std::move(user.event);
  cb.down = [slot, down = std::move(user.down)](const std::shared_ptr<Link>& link, const std::string& why) {
    slot->release();
    if (down) down(link, why);
  };
  auto link = Link::start(Role::server, TlsStream(std::move(socket), *tls), link_options, "", std::move(cb));
  std::lock_guard lock(mu);
  std::erase_if(handshaking, [](const std::weak_ptr<Link>& l) {
    auto p = l.lock();
    return !p || p->is_up();
  });
  handshaking.push_back(link);
}

bool Listener::State::take_slot(const asio::ip::address& addr) {
  std::lock_guard lock(mu);
  auto& n = pending_by_address[addr];
  if (pending >= options.max_pending || n >= options.max_pending_per_address) {
    if (n == 0) pending_by_address.erase(addr);
    return false;
  }
  ++pending;
  ++n;
  return true;
}

void Listener::State::release_slot(const asio::ip::address& addr) {
  std::lock_guard lock(mu);
  --pending;
  if (auto it = pending_by_address.find(addr); it != pending_by_address.end() && --it->second == 0)
    pending_by_address.erase(it);
}

void Listener::State::shutdown() {
  boost::system::error_code ignored;
  acceptor.close(ignored);
  retry_timer.cancel();
  std::vector<std::weak_ptr<Link>> links;
  {
    std::lock_guard lock(mu);
    links.swap(handshaking);
  }
  for (auto& l : links)
    if (auto link = l.lock(); link && !link->is_up()) link->close("listener stopped");
}

Result<std::shared_ptr<Listener>> Listener::start(asio::io_context& io, std::shared_ptr<ssl::context> server_tls,
                                                   Options options, LinkOptions link_options,
                                                   std::function<Link::Callbacks()> make_callbacks) {
  if (!server_tls) return make_error(kFatalConfig, "the listener needs a TLS context");
  auto state = std::make_shared<State>(io, std::move(server_tls), std::move(options), std::move(link_options),
                                       std::move(make_callbacks));
  if (Status st = state->listen(); !st) return st.error();
  asio::post(state->acceptor.get_executor(), [state] { state->accept_next(); });
  return std::shared_ptr<Listener>(new Listener(std::move(state)));
}

Listener::Listener(std::shared_ptr<State> s) : s_(std::move(s)) {}

Listener::~Listener() { stop(); }

std::uint16_t Listener::port() const { return s_->port; }

// The acceptor belongs to the event loop: it is closed there (at once when called on it).
void Listener::stop() {
  if (s_->stopped.exchange(true)) return;
  asio::dispatch(s_->acceptor.get_executor(), [s = s_] { s->shutdown(); });
}

std::uint64_t Listener::refused() const { return s_->refused; }

std::size_t Listener::pending() const {
  std::lock_guard lock(s_->mu);
  return s_->pending;
}

}  // namespace portal::node
