#include "host/loader.h"

#include <dlfcn.h>

namespace portal::host {

Result<std::unique_ptr<ModuleLibrary>> ModuleLibrary::open(const std::string& path) {
  std::unique_ptr<ModuleLibrary> lib(new ModuleLibrary);
  lib->handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle_) {
    const char* e = ::dlerror();
    return make_error(500, std::string("cannot load module: ") + (e ? e : path));
  }
  lib->info_ = static_cast<const ModuleInfo*>(::dlsym(lib->handle_, kModuleInfoSymbol));
  if (!lib->info_) return make_error(500, path + ": no " + kModuleInfoSymbol + " (not a Portal module)");
  if (lib->info_->api_major != kApiMajor)
    return make_error(500, path + ": built for SDK API " + std::to_string(lib->info_->api_major) +
                               ".x, this host speaks " + std::to_string(kApiMajor) + ".x");
  if (!lib->info_->name || !*lib->info_->name || !lib->info_->create)
    return make_error(500, path + ": module info without a name or factory");
  return lib;
}

ModuleLibrary::~ModuleLibrary() {
  if (handle_) ::dlclose(handle_);
}

}  // namespace portal::host
