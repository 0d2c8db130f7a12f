#include "federation.h"

#include <algorithm>
#include <utility>

namespace portal::cli {

namespace {

// The node module is not loaded, or has no such peer: the path is a local one.
bool not_remote(const Response &r) { return r.status == status::not_found || r.status == status::unavailable; }

// The router's line for a child that has children (router/core_paths.cc).
std::string directory_line(const std::string &name) {
  std::string line = "  " + name;
  if (name.size() < 30) line.append(30 - name.size(), ' ');
  return line + "/\n";
}

void list_local(Session &s, const std::string &path, Session::Then then) {
  s.request(Method::get, "/core/ls", {{"prefix", path}}, [path, then](Session &s2, const Response &r) {
    if (path != kNodeRoot || !r.ok()) return then(s2, r);
    s2.request(Method::get, std::string(kPeersPath), {}, [listing = r, then](Session &s3, const Response &peers) {
      if (!peers.ok()) return then(s3, listing);
      Response merged = listing;
      merged.body = listing_with_peers(listing.body, parse_peer_names(peers.body));
      then(s3, merged);
    });
  });
}

void resolve_local(Session &s, const std::string &path, Session::Then then) {
  s.request(Method::get, "/core/resolve", {{"cwd", s.cwd()}, {"target", path}}, std::move(then));
}

}  // namespace

std::optional<RemotePath> split_remote(std::string_view path) {
  const std::string root = std::string(kNodeRoot) + "/";
  if (!path.starts_with(root) || path.size() == root.size()) return std::nullopt;
  std::string_view rest = path.substr(root.size());
  std::size_t slash = rest.find('/');
  RemotePath r{std::string(rest.substr(0, slash)), "/"};
  if (slash != std::string_view::npos) r.path = std::string(rest.substr(slash));
  return r;
}

std::string peer_core_path(const std::string &peer, std::string_view core_path) {
  return std::string(kNodeRoot) + "/" + peer + std::string(core_path);
}

std::string local_path_of(const RemotePath &remote) {
  std::string out = std::string(kNodeRoot) + "/" + remote.peer;
  return remote.path == "/" ? out : out + remote.path;
}

std::vector<std::string> parse_peer_names(std::string_view body) {
  std::vector<std::string> names;
  for (const std::string &line : split_lines(body)) {
    if (!line.starts_with("  ")) continue;  // the "Connected peers:" title
    std::vector<std::string> words = split_words(line);
    if (!words.empty() && !words[0].starts_with('(')) names.push_back(words[0]);
  }
  return names;
}

std::string listing_with_peers(std::string_view listing, const std::vector<std::string> &peers) {
  std::vector<std::pair<std::string, std::string>> rows;  // (name, line)
  for (const std::string &line : split_lines(listing)) {
    std::vector<std::string> words = split_words(line);
    if (!words.empty() && words[0] != "(empty)") rows.emplace_back(words[0], line + "\n");
  }
  for (const std::string &peer : peers) {
    std::string line = directory_line(peer);
    if (std::find(rows.begin(), rows.end(), std::pair{peer, line}) == rows.end()) rows.emplace_back(peer, line);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
  std::string out;
  for (const auto &row : rows) out += row.second;
  return out.empty() ? "  (empty)\n" : out;
}

void list_path(Session &s, const std::string &path, Session::Then then) {
  std::optional<RemotePath> remote = split_remote(path);
  if (!remote) return list_local(s, path, std::move(then));
  s.request(Method::get, peer_core_path(remote->peer, "/core/ls"), {{"prefix", remote->path}},
            [path, then](Session &s2, const Response &r) {
              if (not_remote(r)) return list_local(s2, path, then);
              then(s2, r);
            });
}

void resolve_path(Session &s, const std::string &path, Session::Then then) {
  std::optional<RemotePath> remote = split_remote(path);
  if (!remote) return resolve_local(s, path, std::move(then));
  // The target is absolute on the peer: the peer's cwd does not matter.
  s.request(Method::get, peer_core_path(remote->peer, "/core/resolve"), {{"cwd", "/"}, {"target", remote->path}},
            [path, peer = remote->peer, then](Session &s2, const Response &r) {
              if (not_remote(r)) return resolve_local(s2, path, then);
              Response local = r;
              // Normalised: whatever the peer answers stays under /node/<peer>.
              if (r.ok()) local.body = local_path_of({peer, join_path("/", trimmed(r.body))});
              then(s2, local);
            });
}

}  // namespace portal::cli
