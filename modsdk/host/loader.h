// Loading a module library (dlopen) and checking its declared API version.
#pragma once

#include <memory>
#include <string>

#include "portal/module.h"

namespace portal::host {

class ModuleLibrary {
 public:
  // Opens `path`, finds portal_module_info, refuses another major API version.
  static Result<std::unique_ptr<ModuleLibrary>> open(const std::string& path);
  ~ModuleLibrary();
  ModuleLibrary(const ModuleLibrary&) = delete;
  ModuleLibrary& operator=(const ModuleLibrary&) = delete;

  const ModuleInfo& info() const { return *info_; }
  std::unique_ptr<Module> create() const { return std::unique_ptr<Module>(info_->create()); }

 private:
  ModuleLibrary() = default;
  void* handle_ = nullptr;
  const ModuleInfo* info_ = nullptr;
};

}  // namespace portal::host
