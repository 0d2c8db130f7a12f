// Errors are values at every boundary (STYLE.md 5): a status code and a message.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace portal {

struct Error {
  int code = 500;  // a Portal status code (portal/message.h) or kFatalConfig
  std::string message;
};

// Status code a module returns from load() when its configuration can never work;
// the worker exits with kExitFatalConfig and the supervisor does not respawn it.
inline constexpr int kFatalConfig = 1000;
inline constexpr int kExitFatalConfig = 78;  // EX_CONFIG

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;

inline Error make_error(int code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace portal
