// A temporary folder holding a self-signed certificate (server.crt) and its key (server.key),
// made with the OpenSSL code of tools/portal, for the suites that start TLS listeners.
#pragma once

#include <stdlib.h>

#include <fstream>
#include <string>

#include "certs.h"

namespace portal::itest {

// The folder, or an empty string when the certificate could not be made.
inline std::string make_cert_dir(const std::string& common_name) {
  char tmpl[] = "/tmp/portal-itest-certs-XXXXXX";
  if (!::mkdtemp(tmpl)) return {};
  auto cert = instance::make_self_signed(common_name);
  if (!cert) return {};
  const std::string dir = tmpl;
  std::ofstream(dir + "/server.crt") << cert->cert_pem;
  std::ofstream(dir + "/server.key") << cert->key_pem;
  return dir;
}

}  // namespace portal::itest
