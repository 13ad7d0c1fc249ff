#pragma once
/// \file
/// The option enums as text: each value's snake_case name ("inside_sqrt")
/// and enumerator spelling ("InsideSqrt"), for printing options and reading
/// them back (make_optimizer).

#include "../eps_placement.hpp"
#include "../momentum_form.hpp"
#include "../nonfinite.hpp"
#include "../state_storage.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace descent::detail {

/// One enumerator: its value, its snake_case name, its C++ spelling.
template <typename E>
struct EnumName {
  E value;
  std::string_view snake;
  std::string_view enumerator;
};

/// enum_names<E>(): every value of E, in declaration order.
template <typename E>
constexpr auto enum_names();

template <>
constexpr auto enum_names<EpsPlacement>() {
  return std::array<EnumName<EpsPlacement>, 3>{{
      {EpsPlacement::InsideSqrt, "inside_sqrt", "InsideSqrt"},
      {EpsPlacement::OutsideSqrt, "outside_sqrt", "OutsideSqrt"},
      {EpsPlacement::EpsHat, "eps_hat", "EpsHat"},
  }};
}

template <>
constexpr auto enum_names<MomentumForm>() {
  return std::array<EnumName<MomentumForm>, 2>{{
      {MomentumForm::Keras, "keras", "Keras"},
      {MomentumForm::PyTorch, "pytorch", "PyTorch"},
  }};
}

template <>
constexpr auto enum_names<NonFinite>() {
  return std::array<EnumName<NonFinite>, 3>{{
      {NonFinite::Propagate, "propagate", "Propagate"},
      {NonFinite::Throw, "throw", "Throw"},
      {NonFinite::Skip, "skip", "Skip"},
  }};
}

template <>
constexpr auto enum_names<StateStorage>() {
  return std::array<EnumName<StateStorage>, 2>{{
      {StateStorage::Same, "same", "Same"},
      {StateStorage::BFloat16, "bf16", "BFloat16"},
  }};
}

/// The enum's own name, e.g. "EpsPlacement".
template <typename E>
constexpr std::string_view enum_type_name();
template <>
constexpr std::string_view enum_type_name<EpsPlacement>() {
  return "EpsPlacement";
}
template <>
constexpr std::string_view enum_type_name<MomentumForm>() {
  return "MomentumForm";
}
template <>
constexpr std::string_view enum_type_name<NonFinite>() {
  return "NonFinite";
}

template <>
constexpr std::string_view enum_type_name<StateStorage>() {
  return "StateStorage";
}

/// True if a and b are equal but for the case of ASCII letters.
constexpr bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// The snake_case name of value ("inside_sqrt"); "?" for a value outside
/// the enum.
template <typename E>
constexpr std::string_view to_snake(E value) {
  for (const auto& n : enum_names<E>()) {
    if (n.value == value) return n.snake;
  }
  return "?";
}

/// Reads text as a value of E: its snake_case name or its enumerator
/// spelling, either in any case. False, leaving out unchanged, otherwise.
template <typename E>
constexpr bool parse_enum(std::string_view text, E& out) {
  for (const auto& n : enum_names<E>()) {
    if (equal_ignoring_case(text, n.snake) || equal_ignoring_case(text, n.enumerator)) {
      out = n.value;
      return true;
    }
  }
  return false;
}

/// The snake_case names of E, e.g. "inside_sqrt, outside_sqrt, eps_hat".
template <typename E>
std::string enum_snake_list() {
  std::string list;
  for (const auto& n : enum_names<E>()) {
    if (!list.empty()) list += ", ";
    list += n.snake;
  }
  return list;
}

}  // namespace descent::detail
