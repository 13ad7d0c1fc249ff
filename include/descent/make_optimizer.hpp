#pragma once
/// \file
/// make_optimizer: an optimizer chosen by name at run time, its options given
/// as text (a command line, a configuration file).

#include "detail/enum_text.hpp"
#include "detail/optimizer_base.hpp"
#include "detail/registry.hpp"
#include "optimizer.hpp"

#include <array>
#include <charconv>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <vector>

namespace descent {
namespace detail {

// The enum tables cover what checkpoints accept, value for value.
static_assert(enum_names<EpsPlacement>().size() == std::size_t(enum_count<EpsPlacement>()));
static_assert(enum_names<MomentumForm>().size() == std::size_t(enum_count<MomentumForm>()));
static_assert(enum_names<NonFinite>().size() == std::size_t(enum_count<NonFinite>()));
static_assert(enum_names<StateStorage>().size() == std::size_t(enum_count<StateStorage>()));

using OptionText = std::map<std::string, std::string>;

[[noreturn]] inline void throw_factory(const std::string& what) {
  throw std::invalid_argument("descent::make_optimizer: " + what);
}

template <typename O, typename = void>
struct has_lecture : std::false_type {};
template <typename O>
struct has_lecture<O, std::void_t<decltype(O::lecture())>> : std::true_type {};
template <typename O, typename = void>
struct has_pytorch : std::false_type {};
template <typename O>
struct has_pytorch<O, std::void_t<decltype(O::pytorch())>> : std::true_type {};
template <typename O, typename = void>
struct has_keras : std::false_type {};
template <typename O>
struct has_keras<O, std::void_t<decltype(O::keras())>> : std::true_type {};
template <typename O, typename = void>
struct has_optax : std::false_type {};
template <typename O>
struct has_optax<O, std::void_t<decltype(O::optax())>> : std::true_type {};

/// The Options of a profile: lecture, pytorch, keras or optax, in any case.
template <typename Options>
Options profile_options(std::string_view cls, const std::string& profile) {
  const bool lecture = equal_ignoring_case(profile, "lecture");
  const bool pytorch = equal_ignoring_case(profile, "pytorch");
  const bool keras = equal_ignoring_case(profile, "keras");
  const bool optax = equal_ignoring_case(profile, "optax");
  if constexpr (has_lecture<Options>::value) {
    if (lecture) return Options::lecture();
  }
  if constexpr (has_pytorch<Options>::value) {
    if (pytorch) return Options::pytorch();
  }
  if constexpr (has_keras<Options>::value) {
    if (keras) return Options::keras();
  }
  if constexpr (has_optax<Options>::value) {
    if (optax) return Options::optax();
  }
  std::string available;
  const auto add = [&available](bool has, const char* name) {
    if (!has) return;
    if (!available.empty()) available += ", ";
    available += name;
  };
  add(has_lecture<Options>::value, "lecture");
  add(has_pytorch<Options>::value, "pytorch");
  add(has_keras<Options>::value, "keras");
  add(has_optax<Options>::value, "optax");
  if (lecture || pytorch || keras || optax) {
    throw_factory(std::string(cls) + " has no profile '" + profile +
                  "'; its profiles: " + available);
  }
  throw_factory(std::string(cls) + " option profile='" + profile +
                "' is not a profile; valid values: " + available);
}

enum class ParseResult { Ok, NotAValue, OutOfRange };

/// Reads text as a field of type T: a number read whole (std::from_chars: no
/// locale, no leading space, an optional leading '+'), true/false/1/0, or an
/// enumerator's name (enum_text.hpp). out is unchanged unless Ok.
template <typename T>
ParseResult parse_field(std::string_view text, T& out) {
  if constexpr (std::is_enum<T>::value) {
    return parse_enum(text, out) ? ParseResult::Ok : ParseResult::NotAValue;
  } else if constexpr (std::is_same<T, bool>::value) {
    if (equal_ignoring_case(text, "true") || text == "1") {
      out = true;
    } else if (equal_ignoring_case(text, "false") || text == "0") {
      out = false;
    } else {
      return ParseResult::NotAValue;
    }
    return ParseResult::Ok;
  } else if constexpr (std::is_integral<T>::value) {
    if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
    T value{};
    const char* end = text.data() + text.size();
    const auto result = std::from_chars(text.data(), end, value);
    if (result.ptr != end || text.empty()) return ParseResult::NotAValue;
    if (result.ec == std::errc::result_out_of_range) return ParseResult::OutOfRange;
    if (result.ec != std::errc()) return ParseResult::NotAValue;
    out = value;
    return ParseResult::Ok;
  } else {
    static_assert(std::is_floating_point<T>::value,
                  "an option is a number, an integer, a bool or an enum");
    if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
    T value{};
    const char* end = text.data() + text.size();
    const auto result = std::from_chars(text.data(), end, value);
    if (result.ptr != end || text.empty()) return ParseResult::NotAValue;
    if (result.ec == std::errc::result_out_of_range) return ParseResult::OutOfRange;
    if (result.ec != std::errc()) return ParseResult::NotAValue;
    out = value;
    return ParseResult::Ok;
  }
}

/// What a field of type T accepts, for messages.
template <typename T>
std::string expected_text() {
  if constexpr (std::is_enum<T>::value) {
    const std::string_view type = enum_type_name<T>();
    const bool vowel = std::string_view("AEIOU").find(type.front()) != std::string_view::npos;
    return std::string(vowel ? "an " : "a ") + std::string(type) +
           "; valid values: " + enum_snake_list<T>();
  } else if constexpr (std::is_same<T, bool>::value) {
    return "a bool; valid values: true, false, 1, 0";
  } else if constexpr (std::is_integral<T>::value) {
    return "an integer; valid values: whole decimal numbers such as 5";
  } else {
    return std::string("a number (") + (sizeof(T) == sizeof(float) ? "float" : "double") +
           "); valid values: decimal numbers such as 0.001 or 1e-8";
  }
}

/// Opt with its default Options (or a profile's), then every key of given
/// set; the constructor checks the ranges.
template <typename Opt>
std::unique_ptr<Optimizer<typename Opt::Scalar>> build_optimizer(const OptionText& given) {
  using Options = typename Opt::Options;
  const std::string cls(Opt::kName);
  Options options{};

  std::string keys = "profile";
  Opt::for_each_option(options, [&keys](const char* name, const auto&) {
    keys += ", ";
    keys += name;
  });

  // Keys are matched in any case, so two given keys may name one option.
  std::map<std::string, std::string> matched;  // option name → the key given
  const auto claim = [&](const std::string& name, const std::string& key) {
    const auto [it, added] = matched.emplace(name, key);
    if (!added) {
      throw_factory(cls + " option '" + name + "' is given twice, as '" + it->second + "' and '" +
                    key + "'");
    }
  };

  for (const auto& [key, value] : given) {
    if (!equal_ignoring_case(key, "profile")) continue;
    claim("profile", key);
    options = profile_options<Options>(cls, value);
  }
  for (const auto& entry : given) {
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    if (equal_ignoring_case(key, "profile")) continue;
    bool found = false;
    Opt::for_each_option(options, [&](const char* name, auto& field) {
      if (found || !equal_ignoring_case(key, name)) return;
      found = true;
      claim(name, key);
      using Field = std::remove_reference_t<decltype(field)>;
      const ParseResult result = parse_field(value, field);
      if (result == ParseResult::OutOfRange) {
        throw_factory(cls + " option " + name + "='" + value + "' is out of the range of " +
                      (sizeof(Field) == sizeof(float) ? "float" : "double"));
      }
      if (result != ParseResult::Ok) {
        throw_factory(cls + " option " + name + "='" + value + "' is not " +
                      expected_text<Field>());
      }
    });
    if (!found) throw_factory(cls + " has no option '" + key + "'; its keys: " + keys);
  }
  return std::make_unique<Opt>(options);
}

/// One optimizer make_optimizer knows: its name, another name it answers to
/// (or empty), and how to build it.
template <typename S>
struct OptimizerEntry {
  std::string_view name;
  std::string_view alias;
  std::string_view class_name;
  std::unique_ptr<Optimizer<S>> (*build)(const OptionText&);
};

/// make_optimizer's table, one entry per class of the registry.
template <typename S>
inline constexpr auto kOptimizerTable = std::apply(
    [](const auto&... registered) {
      return std::array<OptimizerEntry<S>, sizeof...(registered)>{
          {{registered.name, registered.alias,
            std::decay_t<decltype(registered)>::template Type<S>::kName,
            build_optimizer<typename std::decay_t<decltype(registered)>::template Type<S>>}...}};
    },
    kOptimizers);

}  // namespace detail

/// \brief The names make_optimizer knows, one per optimizer class, in the
/// registry's order (detail/registry.hpp): gradient_descent, sgd, momentum,
/// nesterov, adagrad, rmsprop, adam, adamw, ….
inline std::vector<std::string> optimizer_names() {
  // From the registry itself, not make_optimizer's table, whose builders
  // would compile every optimizer into each file that includes this one.
  std::vector<std::string> names;
  std::apply([&names](const auto&... r) { (names.emplace_back(r.name), ...); },
             detail::kOptimizers);
  return names;
}

/// \brief Builds the optimizer called name, with options given as text.
///
/// \tparam S float or double.
/// \param name one of optimizer_names(), a short alias (gd for
///   gradient_descent), or the class name (GradientDescent, AdaGrad, …); in
///   any case.
/// \param options key → value. The keys are the option names of the class's
///   Options (those its for_each_option visits: lr, beta1, eps_placement, …),
///   in any case, plus "profile" = lecture | pytorch | keras | optax, which
///   starts from Options::lecture(), pytorch(), keras() or optax() before the
///   other keys are
///   applied; without it the start is the default Options. Values: numbers
///   as C++ reads them with std::from_chars (no locale: "0.001", "1e-8",
///   "inf"; an optional leading '+'; nothing may follow), bools as true,
///   false, 1 or 0, enums by their snake_case names (eps_placement:
///   inside_sqrt, outside_sqrt, eps_hat; momentum_form: keras, pytorch;
///   nonfinite: propagate, throw, skip) or enumerator spellings
///   (InsideSqrt); words in any case.
/// \returns the optimizer, e.g. an `Adam<S>` for "adam"; dynamic_cast it to
///   reach its options().
/// \throws std::invalid_argument, with a message that names the optimizer,
///   the key and what is valid, for an unknown name (for "lbfgs": that
///   LBFGS takes the function, not a gradient, and is built directly), an unknown key, a key
///   given twice (in two cases), a profile the class does not have (Momentum
///   and Nesterov have only lecture) or a value that does not read as its
///   field's type; and, from the class's constructor, for a value out of
///   the option's range ("descent::Adam: beta1 must be in [0, 1), got 1.5").
///
///     auto opt = descent::make_optimizer<float>(
///         "adam", {{"profile", "pytorch"}, {"lr", "3e-4"}, {"amsgrad", "true"}});
template <typename S>
std::unique_ptr<Optimizer<S>> make_optimizer(
    std::string_view name, const std::map<std::string, std::string>& options = {}) {
  for (const auto& entry : detail::kOptimizerTable<S>) {
    if (detail::equal_ignoring_case(name, entry.name) ||
        (!entry.alias.empty() && detail::equal_ignoring_case(name, entry.alias)) ||
        detail::equal_ignoring_case(name, entry.class_name)) {
      return entry.build(options);
    }
  }
  if (detail::equal_ignoring_case(name, "lbfgs")) {
    detail::throw_factory(
        "LBFGS is not a first-order Optimizer: its step(params, f) evaluates the function "
        "itself, so it cannot run step(params, grad); construct descent::LBFGS<S> (lbfgs.hpp) "
        "directly");
  }
  std::string valid;
  for (const auto& entry : detail::kOptimizerTable<S>) {
    if (!valid.empty()) valid += ", ";
    valid.append(entry.name);
    if (!entry.alias.empty()) valid.append(" (or ").append(entry.alias).append(")");
  }
  detail::throw_factory("unknown optimizer '" + std::string(name) + "'; valid names: " + valid);
}

}  // namespace descent
