#include "support.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace portal::node::test {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// ---- Certificates ----

TempDir::TempDir() {
  char tmpl[] = "/tmp/portal-node-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

namespace {

bool add_ext(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  const bool ok = ext && X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool write_pem(const std::string& file, const std::function<int(FILE*)>& write) {
  FILE* f = std::fopen(file.c_str(), "w");
  if (!f) return false;
  const bool ok = write(f) == 1;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

TlsFiles make_cert(const std::string& dir, const std::string& name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  bool ok = key && cert;
  ok = ok && X509_set_version(cert, 2) == 1;
  ok = ok && ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) == 1;
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -60) && X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  ok = ok && X509_set_pubkey(cert, key) == 1;
  X509_NAME* subject = ok ? X509_get_subject_name(cert) : nullptr;
  ok = ok && X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0) == 1;
  ok = ok && X509_set_issuer_name(cert, subject) == 1;
  // CA:TRUE lets the certificate stand in its own CA file.
  ok = ok && add_ext(cert, NID_basic_constraints, "critical,CA:TRUE");
  ok = ok && add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign");
  ok = ok && add_ext(cert, NID_ext_key_usage, "serverAuth,clientAuth");
  ok = ok && add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
  TlsFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key", ""};
  ok = ok && write_pem(files.cert_file, [&](FILE* f) { return PEM_write_X509(f, cert); });
  ok = ok && write_pem(files.key_file,
                       [&](FILE* f) { return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok) std::abort();
  return files;
}

TlsContexts make_contexts(const TlsFiles& files) {
  auto contexts = make_tls_contexts(files);
  if (!contexts) std::abort();
  return *contexts;
}

Key test_key(char fill) { return *derive_key(std::string(32, fill)); }

// ---- Loop and waiting ----

IoThread::IoThread() : guard_(asio::make_work_guard(io)), thread_([this] { io.run(); }) {}

IoThread::~IoThread() { stop(); }

void IoThread::stop() {
  if (!thread_.joinable()) return;
  guard_.reset();
  io.stop();
  thread_.join();
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// ---- Recorder ----

Link::Callbacks Recorder::callbacks() {
  Link::Callbacks cb;
  cb.up = [this](const std::shared_ptr<Link>& link) {
    {
      std::lock_guard lock(mu_);
      links_.push_back(link);
    }
    if (on_up) on_up(link);
  };
  cb.request = [this](const std::shared_ptr<Link>& link, pb::Request&& req) {
    if (on_request) return on_request(link, std::move(req));
    pb::Response resp;
    resp.set_id(req.id());
    resp.set_status(200);
    resp.set_body("answer:" + req.path());
    link->respond(std::move(resp));
  };
  cb.event = [this](const std::shared_ptr<Link>&, pb::Event&& ev) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(ev));
  };
  cb.down = [this](const std::shared_ptr<Link>&, const std::string& why) {
    {
      std::lock_guard lock(mu_);
      downs_.push_back(why);
    }
    if (on_down) on_down(why);
  };
  return cb;
}

std::size_t Recorder::ups() const {
  std::lock_guard lock(mu_);
  return links_.size();
}

std::size_t Recorder::downs() const {
  std::lock_guard lock(mu_);
  return downs_.size();
}

std::vector<std::string> Recorder::down_reasons() const {
  std::lock_guard lock(mu_);
  return downs_;
}

std::shared_ptr<Link> Recorder::link(std::size_t i) const {
  std::lock_guard lock(mu_);
  return i < links_.size() ? links_[i] : nullptr;
}

std::vector<pb::Event> Recorder::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

void Recorder::clear() {
  std::lock_guard lock(mu_);
  links_.clear();
  downs_.clear();
  events_.clear();
}

LinkOptions link_options(const std::string& name, const Key& key) {
  LinkOptions o;
  o.local_name = name;
  o.key = key;
  return o;
}

std::shared_ptr<Link> dial(asio::io_context& io, std::uint16_t port, ssl::context& tls, LinkOptions opts,
                           Recorder& rec, const std::string& expected_peer, const std::string& source) {
  Tcp::socket sock(io);
  sock.open(Tcp::v4());
  if (!source.empty()) sock.bind({asio::ip::make_address(source), 0});
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  return Link::start(Role::client, TlsStream(std::move(sock), tls), std::move(opts), expected_peer,
                     rec.callbacks());
}

// ---- Raw peer ----

RawPeer::RawPeer() = default;

RawPeer::~RawPeer() {
  boost::system::error_code ignored;
  if (tls_) tls_->lowest_layer().close(ignored);
  if (tcp_) tcp_->close(ignored);
}

// Runs one asynchronous operation on the private loop; cancels it at the deadline.
template <class Op>
std::optional<boost::system::error_code> RawPeer::run_op(Op&& op, std::chrono::milliseconds timeout) {
  std::optional<boost::system::error_code> result;
  io_.restart();
  op([&](const boost::system::error_code& ec, auto&&...) { result = ec; });
  io_.run_for(timeout);
  if (!result) {
    boost::system::error_code ignored;
    (tls_ ? tls_->lowest_layer() : *tcp_).cancel(ignored);
    io_.restart();
    io_.run();
    return std::nullopt;
  }
  return result;
}

std::unique_ptr<RawPeer> RawPeer::connect_tls(std::uint16_t port, ssl::context& tls) {
  std::unique_ptr<RawPeer> p(new RawPeer);
  Tcp::socket sock(p->io_);
  boost::system::error_code ec;
  sock.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return nullptr;
  sock.set_option(Tcp::no_delay(true), ec);
  p->tls_ = std::make_unique<TlsStream>(std::move(sock), tls);
  if (!p->run([&](auto h) { p->tls_->async_handshake(ssl::stream_base::client, h); }, 3s)) return nullptr;
  return p;
}

std::unique_ptr<RawPeer> RawPeer::connect_tcp(std::uint16_t port) {
  std::unique_ptr<RawPeer> p(new RawPeer);
  p->tcp_ = std::make_unique<Tcp::socket>(p->io_);
  boost::system::error_code ec;
  p->tcp_->connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return nullptr;
  return p;
}

bool RawPeer::write(std::string_view bytes) {
  auto buf = asio::buffer(bytes.data(), bytes.size());
  if (tls_) return run([&](auto h) { asio::async_write(*tls_, buf, h); }, 3s);
  return run([&](auto h) { asio::async_write(*tcp_, buf, h); }, 3s);
}

bool RawPeer::write_frame(FrameType type, const google::protobuf::MessageLite& body) {
  std::string out;
  append_frame(out, type, body.SerializeAsString());
  return write(out);
}

bool RawPeer::read_some(std::chrono::milliseconds timeout) {
  char buf[16384];
  std::size_t got = 0;
  auto read = [&](auto done) {
    auto counted = [&got, done](const boost::system::error_code& ec, std::size_t n) mutable {
      got = n;
      done(ec);
    };
    if (tls_)
      tls_->async_read_some(asio::buffer(buf), std::move(counted));
    else
      tcp_->async_read_some(asio::buffer(buf), std::move(counted));
  };
  auto result = run_op(read, timeout);
  if (!result) return false;  // nothing in time
  if (*result) {
    closed_ = true;
    return false;
  }
  parser_.feed({buf, got});
  return true;
}

std::optional<Frame> RawPeer::read_frame(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto f = parser_.next()) return f;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (closed_ || left.count() <= 0 || !read_some(left)) return std::nullopt;
  }
}

bool RawPeer::wait_closed(std::chrono::milliseconds timeout, std::vector<Frame>* extra) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    while (auto f = parser_.next())
      if (extra) extra->push_back(std::move(*f));
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!read_some(left) && !closed_) return false;
  }
  while (auto f = parser_.next())
    if (extra) extra->push_back(std::move(*f));
  return true;
}

std::string RawPeer::exporter() { return tls_ ? tls_exporter(tls_->native_handle()) : std::string(); }

std::string RawPeer::protocol() { return tls_ ? SSL_get_version(tls_->native_handle()) : "tcp"; }

RawServer::RawServer(ssl::context& tls) : tls_(tls), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
  port_ = acceptor_.local_endpoint().port();
}

std::unique_ptr<RawPeer> RawServer::accept(std::chrono::milliseconds timeout) {
  std::unique_ptr<RawPeer> p(new RawPeer);
  Tcp::socket sock(p->io_);
  boost::system::error_code ec;
  // The client connected already (the kernel completed it); accept does not block long.
  acceptor_.accept(sock, ec);
  if (ec) return nullptr;
  p->tls_ = std::make_unique<TlsStream>(std::move(sock), tls_);
  if (!p->run([&](auto h) { p->tls_->async_handshake(ssl::stream_base::server, h); }, timeout)) return nullptr;
  return p;
}

// ---- Hand-made authentication ----

std::optional<pb::AuthChallenge> read_challenge(RawPeer& peer) {
  return read_message<pb::AuthChallenge>(peer, FrameType::auth_challenge);
}

std::string auth_response_frame(RawPeer& peer, const pb::AuthChallenge& challenge, const ClientAuth& how) {
  std::string nonce;
  if (how.echo_server_nonce)
    nonce = challenge.nonce();
  else if (how.nonce)
    nonce = *how.nonce;
  else {
    const Nonce n = random_nonce();
    nonce.assign(reinterpret_cast<const char*>(n.data()), n.size());
  }
  const std::string exporter = peer.exporter();
  const Proof p = proof(how.key, Role::client, Transcript{nonce, challenge.nonce(), how.name, challenge.node(), exporter});
  pb::AuthResponse r;
  r.set_nonce(nonce);
  r.set_node(how.name);
  r.set_proof(std::string(reinterpret_cast<const char*>(p.data()), p.size()));
  std::string out;
  append_frame(out, FrameType::auth_response, r.SerializeAsString());
  return out;
}

std::optional<pb::Response> read_response(RawPeer& peer) { return read_message<pb::Response>(peer, FrameType::response); }

std::optional<pb::Response> authenticate(RawPeer& peer, const ClientAuth& how) {
  auto challenge = read_challenge(peer);
  if (!challenge || !peer.write(auth_response_frame(peer, *challenge, how))) return std::nullopt;
  return read_response(peer);
}

// ---- Man in the middle ----

namespace {

// Copies plaintext from one TLS session into the other until either side ends; then both end.
struct Bridge : std::enable_shared_from_this<Bridge> {
  Bridge(std::shared_ptr<TlsStream> a, std::shared_ptr<TlsStream> b) : a(std::move(a)), b(std::move(b)) {}
  void start() {
    pump(*a, *b, buf_ab);
    pump(*b, *a, buf_ba);
  }
  void pump(TlsStream& from, TlsStream& to, std::array<char, 16384>& buf) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                                                const boost::system::error_code& ec, std::size_t n) {
      if (ec) return self->stop();
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, &from, &to, &buf](const boost::system::error_code& ec2, std::size_t) {
                          if (ec2) return self->stop();
                          self->pump(from, to, buf);
                        });
    });
  }
  void stop() {
    boost::system::error_code ignored;
    a->lowest_layer().close(ignored);
    b->lowest_layer().close(ignored);
  }
  std::shared_ptr<TlsStream> a, b;
  std::array<char, 16384> buf_ab{}, buf_ba{};
};

}  // namespace

TlsProxy::TlsProxy(std::uint16_t target_port, TlsContexts contexts)
    : contexts_(std::move(contexts)),
      target_port_(target_port),
      acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
  port_ = acceptor_.local_endpoint().port();
  accept_next();
  thread_ = std::thread([this] { io_.run(); });
}

TlsProxy::~TlsProxy() {
  io_.stop();
  thread_.join();
}

void TlsProxy::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, Tcp::socket sock) {
    if (ec) return;
    accept_next();
    auto down = std::make_shared<TlsStream>(std::move(sock), *contexts_.server);
    down->async_handshake(ssl::stream_base::server, [this, down](const boost::system::error_code& ec2) {
      if (ec2) return;
      Tcp::socket upstream(io_);
      boost::system::error_code ec3;
      upstream.connect({asio::ip::make_address("127.0.0.1"), target_port_}, ec3);
      if (ec3) return;
      auto up = std::make_shared<TlsStream>(std::move(upstream), *contexts_.client);
      up->async_handshake(ssl::stream_base::client, [this, down, up](const boost::system::error_code& ec4) {
        if (ec4) return;
        ++sessions_;
        std::make_shared<Bridge>(down, up)->start();
      });
    });
  });
}

namespace {
std::unique_ptr<TempDir> g_dir;
std::unique_ptr<TlsFiles> g_files;
std::unique_ptr<TlsContexts> g_tls;
}  // namespace

void LinkFixture::SetUpTestSuite() {
  g_dir = std::make_unique<TempDir>();
  g_files = std::make_unique<TlsFiles>(make_cert(g_dir->path(), "node"));
  g_tls = std::make_unique<TlsContexts>(make_contexts(*g_files));
}

void LinkFixture::TearDownTestSuite() {
  g_tls.reset();
  g_files.reset();
  g_dir.reset();
}

TlsFiles& LinkFixture::files() { return *g_files; }
TlsContexts& LinkFixture::tls() { return *g_tls; }

void LinkFixture::listen(LinkOptions opts, Listener::Options options) {
  options.bind = "127.0.0.1";
  options.port = 0;
  auto l = Listener::start(io_.io, tls().server, options, std::move(opts), [this] { return server_.callbacks(); });
  ASSERT_TRUE(l) << l.error().message;
  listener_ = *l;
}

std::shared_ptr<Link> LinkFixture::connect(LinkOptions opts) {
  const std::size_t before = server_.ups();
  auto link = dial(io_.io, listener_->port(), *tls().client, std::move(opts), client_);
  EXPECT_TRUE(wait_until([&] { return link->is_up() && server_.ups() > before; }));
  return link;
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace portal::node::test
