#pragma once
/// \file
/// Argument checks shared by the optimizers and schedulers: each throws
/// std::invalid_argument with a message "descent::<Class>: <field> must be
/// <range>, got <value>", so a bad setting is refused where it is made.

#include "enum_text.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

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

/// value in [0, 1].
template <typename T>
void check_closed_unit_interval(std::string_view cls, std::string_view field, T value) {
  if (!(value >= T(0) && value <= T(1))) throw_invalid(cls, field, "in [0, 1]", value);
}

/// value > 0 and finite.
template <typename T>
void check_positive(std::string_view cls, std::string_view field, T value) {
  if (!(value > T(0)) || !std::isfinite(value)) {
    throw_invalid(cls, field, "finite and > 0", value);
  }
}

/// An integer count >= lowest.
inline void check_at_least(std::string_view cls, std::string_view field, std::int64_t value,
                           std::int64_t lowest) {
  if (value < lowest) throw_invalid(cls, field, ">= " + std::to_string(lowest), value);
}

/// The number an enum value (or an integer read from a checkpoint) stands for.
template <typename T>
long long enum_number(T value) {
  if constexpr (std::is_enum<T>::value) {
    return static_cast<long long>(static_cast<std::underlying_type_t<T>>(value));
  } else {
    return static_cast<long long>(value);
  }
}

/// Throws "<field> must be a (0), b (1) or c (2), got <v>" unless
/// 0 <= v < count; names[k] is value k's name.
template <typename Names>
void check_enum_number(std::string_view cls, std::string_view field, long long v,
                       const Names& names, std::size_t count) {
  if (v >= 0 && static_cast<unsigned long long>(v) < count) return;
  std::string range;
  std::size_t k = 0;
  for (const std::string_view name : names) {
    if (k == count) break;
    if (k > 0) range += k + 1 == count ? " or " : ", ";
    range.append(name).append(" (").append(std::to_string(k)).append(")");
    ++k;
  }
  throw_invalid(cls, field, range, v);
}

/// An enum option, or the number that stands for one in a checkpoint: one of
/// names, which are the values 0, 1, … in order. A cast such as
/// static_cast<Mode>(7) compiles, and would otherwise act as some other
/// value.
template <typename T>
void check_enum(std::string_view cls, std::string_view field, T value,
                std::initializer_list<std::string_view> names) {
  check_enum_number(cls, field, enum_number(value), names, names.size());
}

/// One of the first `count` values (all by default) of a library enum
/// (EpsPlacement, MomentumForm, NonFinite), named by their enumerators:
/// "eps_placement must be InsideSqrt (0), OutsideSqrt (1) or EpsHat (2), got 7".
template <typename E>
void check_enum(std::string_view cls, std::string_view field, E value,
                std::size_t count = enum_names<E>().size()) {
  constexpr auto all = enum_names<E>();
  std::array<std::string_view, all.size()> names{};
  for (std::size_t k = 0; k < all.size(); ++k) names[k] = all[k].enumerator;
  check_enum_number(cls, field, enum_number(value), names, count < all.size() ? count : all.size());
}

template <typename O, typename = void>
struct has_storage_options : std::false_type {};
template <typename O>
struct has_storage_options<O, std::void_t<decltype(std::declval<O&>().state_storage)>>
    : std::true_type {};

/// Calls f(name, field) for the options every optimizer shares, which close
/// every optimizer's for_each_option in this order, the order declared:
/// weight_decay, decoupled_weight_decay, maximize, then, where the Options
/// have them, the storage options state_storage, stochastic_rounding and
/// rounding_seed, then nonfinite.
template <typename O, typename F>
void for_each_common_option(O& o, F&& f) {
  f("weight_decay", o.weight_decay);
  f("decoupled_weight_decay", o.decoupled_weight_decay);
  f("maximize", o.maximize);
  if constexpr (has_storage_options<std::remove_const_t<O>>::value) {
    f("state_storage", o.state_storage);
    f("stochastic_rounding", o.stochastic_rounding);
    f("rounding_seed", o.rounding_seed);
  }
  f("nonfinite", o.nonfinite);
}

/// The options every optimizer shares besides lr: weight_decay (finite and
/// >= 0) and the non-finite policy. maximize and decoupled_weight_decay are
/// bools, whose every value is valid.
template <typename Options>
void check_common_options(std::string_view cls, const Options& o) {
  check_nonnegative(cls, "weight_decay", o.weight_decay);
  check_enum(cls, "nonfinite", o.nonfinite);
}

}  // namespace descent::detail
