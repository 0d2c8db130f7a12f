// The supervisor <-> router control socket: SOCK_SEQPACKET, one pb::Control per datagram,
// file descriptors as SCM_RIGHTS.
#pragma once

#include <vector>

#include "ipc/channel.h"
#include "portal.pb.h"

namespace portal::ipc {

inline constexpr std::size_t kMaxControlBytes = 16u << 20;
inline constexpr std::size_t kMaxControlFds = 8;

// Blocking send (the socket may be non-blocking: EAGAIN is waited out with poll).
Status send_control(int sock, const pb::Control& msg, const std::vector<int>& fds = {});

enum class ControlRead { message, again, closed, error };
// Non-blocking receive of one datagram. Received fds are owned by `fds`.
ControlRead recv_control(int sock, pb::Control& msg, std::vector<UniqueFd>& fds, std::string* why);

}  // namespace portal::ipc
