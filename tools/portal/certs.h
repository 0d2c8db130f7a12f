// A self-signed TLS certificate for a new instance, made with the OpenSSL API (no
// `openssl` command is run): an EC P-256 key, SHA-256 signature, ten years, CN
// portal-<name>, subjectAltName localhost and 127.0.0.1.
#pragma once

#include <string>

#include "portal/result.h"

namespace portal::instance {

struct CertFiles {
  std::string cert_pem;
  std::string key_pem;
};

Result<CertFiles> make_self_signed(const std::string& common_name);

}  // namespace portal::instance
