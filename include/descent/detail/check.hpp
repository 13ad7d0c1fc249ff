#pragma once
/// \file
/// Argument checks shared by the optimizers and schedulers: each throws
/// std::invalid_argument with a message "descent::<Class>: <field> must be
/// <range>, got <value>", so a bad setting is refused where it is made.

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>

namespace descent::detail {

/// The shortest text that reads back as value ("0.1", "1e-08", "nan").
template <typename T>
std::string to_text(T value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

/// Throws "descent::<cls>: <field> must be <range>, got <value>".
template <typename T>
[[noreturn]] void throw_invalid(std::string_view cls, std::string_view field,
                                std::string_view range, T value) {
  std::string message = "descent::";
  message.append(cls).append(": ").append(field).append(" must be ").append(range);
  message.append(", got ").append(to_text(value));
  throw std::invalid_argument(message);
}

/// Throws "descent::<cls>: <what>" for a combination of options that is refused.
[[noreturn]] inline void throw_invalid_combination(std::string_view cls, std::string_view what) {
  std::string message = "descent::";
  message.append(cls).append(": ").append(what);
  throw std::invalid_argument(message);
}

/// EpsHat folds Adam's bias corrections into its step size; the other
/// adaptive methods have none, so they refuse it.
template <typename E>
void check_not_eps_hat(std::string_view cls, E placement) {
  if (placement == E::EpsHat) {
    throw_invalid_combination(cls,
                              "eps_placement must be InsideSqrt or OutsideSqrt, got EpsHat "
                              "(Adam's form, which folds in its bias corrections)");
  }
}

/// value >= 0 and finite.
template <typename T>
void check_nonnegative(std::string_view cls, std::string_view field, T value) {
  if (!(value >= T(0)) || !std::isfinite(value)) {
    throw_invalid(cls, field, "finite and >= 0", value);
  }
}

/// value in [0, 1).
template <typename T>
void check_unit_interval(std::string_view cls, std::string_view field, T value) {
  if (!(value >= T(0) && value < T(1))) throw_invalid(cls, field, "in [0, 1)", value);
}

/// value > 0 and finite.
template <typename T>
void check_positive(std::string_view cls, std::string_view field, T value) {
  if (!(value > T(0)) || !std::isfinite(value)) {
    throw_invalid(cls, field, "finite and > 0", value);
  }
}

/// An integer count >= lowest.
inline void check_at_least(std::string_view cls, std::string_view field, long value, long lowest) {
  if (value < lowest) throw_invalid(cls, field, ">= " + std::to_string(lowest), value);
}

}  // namespace descent::detail
