// A Link's start: the TLS handshake, then the mutual authentication (docs/PROTOCOL.md §11).
#include "link_state.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace portal::node {

// ---- Start and TLS ----

void Link::State::begin() {
  if (phase == Phase::closed) return;  // closed before it started
  handshake_timer.expires_after(opts.handshake_timeout);
  handshake_timer.async_wait([self = self()](const boost::system::error_code& ec) {
    if (!ec && self->s_->phase != Phase::up) self->s_->close("handshake timeout");
  });
  if (!stream.lowest_layer().is_open()) return close("not connected");
  if (owner.role_ == Role::client && !configure_client_tls()) return close("cannot set the TLS peer name");
  const auto type = owner.role_ == Role::client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  stream.async_handshake(type, on_strand([self = self()](const boost::system::error_code& ec) {
    self->s_->on_tls(ec);
  }));
}

// SNI for a DNS name; with verification on, the certificate must match verify_host.
bool Link::State::configure_client_tls() {
  if (opts.verify_host.empty()) return true;
  SSL* ssl = stream.native_handle();
  const bool verify = (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0;
  boost::system::error_code ec;
  asio::ip::make_address(opts.verify_host, ec);
  const char* host = opts.verify_host.c_str();
  if (!ec) return !verify || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
  if (SSL_set_tlsext_host_name(ssl, host) != 1) return false;
  return !verify || SSL_set1_host(ssl, host) == 1;
}

void Link::State::on_tls(const boost::system::error_code& ec) {
  if (phase == Phase::closed) return;
  if (ec) return close("TLS handshake failed: " + ec.message());
  exporter = tls_exporter(stream.native_handle());
  if (exporter.empty()) return close("TLS session cannot export a channel binding");
  if (owner.role_ == Role::server) {
    server_name = opts.local_name;
    server_nonce = std::string(bytes_of(random_nonce()));
    pb::AuthChallenge challenge;
    challenge.set_nonce(server_nonce);
    challenge.set_node(server_name);
    phase = Phase::await_auth_response;
    if (!enqueue(FrameType::auth_challenge, challenge)) return close("local node name too long");
  } else {
    client_name = opts.local_name;
    phase = Phase::await_challenge;
  }
  start_read();
}

// ---- Authentication ----

Proof Link::State::proof_for(Role r) const {
  return proof(opts.key, r, Transcript{client_nonce, server_nonce, client_name, server_name, exporter});
}

void Link::State::on_challenge(const Frame& f) {
  pb::AuthChallenge challenge;
  if (f.type != FrameType::auth_challenge || !challenge.ParseFromString(f.body))
    return close("authentication failed: no challenge");
  if (challenge.nonce().size() != std::tuple_size_v<Nonce> || !valid_node_name(challenge.node()))
    return close("authentication failed: malformed challenge");
  if (!expected_peer.empty() && challenge.node() != expected_peer)
    return close("authentication failed: the server calls itself '" + challenge.node() + "', expected '" +
                 expected_peer + "'");
  server_nonce = challenge.nonce();
  server_name = challenge.node();
  client_nonce = std::string(bytes_of(random_nonce()));
  const Proof p = proof_for(Role::client);
  pb::AuthResponse response;
  response.set_nonce(client_nonce);
  response.set_node(client_name);
  response.set_proof(std::string(bytes_of(p)));
  phase = Phase::await_server_proof;
  if (!enqueue(FrameType::auth_response, response)) close("local node name too long");
}

void Link::State::on_server_proof(const Frame& f) {
  pb::Response answer;
  if (f.type != FrameType::response || !answer.ParseFromString(f.body) || answer.id() != 0)
    return close("authentication failed: unexpected frame from the server");
  if (answer.status() == status::unauthorized) return close("authentication refused by peer");
  if (answer.status() != status::ok || !equal_ct(answer.body(), bytes_of(proof_for(Role::server))))
    return close("authentication failed: the server's proof is wrong");
  become_up();
}

void Link::State::on_auth_response(const Frame& f) {
  if (std::string failure = check_auth_response(f); !failure.empty()) {
    // One answer for every reason, so a prober learns nothing; the reason goes to the log.
    enqueue(FrameType::response, make_response(0, status::unauthorized, kAuthFailed));
    return close("authentication failed: " + failure);
  }
  if (!enqueue(FrameType::response, make_response(0, status::ok, std::string(bytes_of(proof_for(Role::server))))))
    return close("cannot send the server proof");
  become_up();
}

// Empty when the client proved it holds the key in this TLS session; otherwise the reason.
std::string Link::State::check_auth_response(const Frame& f) {
  pb::AuthResponse r;
  if (f.type != FrameType::auth_response) return "unexpected frame type";
  if (!r.ParseFromString(f.body)) return "malformed response";
  if (r.nonce().size() != std::tuple_size_v<Nonce>) return "bad nonce size";
  if (r.nonce() == server_nonce) return "client nonce equals the server nonce (reflection)";
  if (!valid_node_name(r.node())) return "invalid node name";
  client_nonce = r.nonce();
  client_name = r.node();
  if (!equal_ct(r.proof(), bytes_of(proof_for(Role::client)))) return "wrong proof from '" + client_name + "'";
  return {};
}

void Link::State::become_up() {
  phase = Phase::up;
  parser.set_max_body(opts.max_frame);
  handshake_timer.cancel();
  last_frame = Clock::now();
  {
    std::lock_guard lock(mu);
    peer = owner.role_ == Role::client ? server_name : client_name;
    stats.up_since = last_frame;
  }
  owner.up_ = true;
  arm_ping();
  arm_dead_check();
  if (cb.up) cb.up(self());
}

}  // namespace portal::node
