// make_optimizer: every name builds its class, every key reaches its field
// (or fails as the class's constructor fails), profiles, the error messages,
// and steps bitwise equal to those of the optimizer constructed directly.

#include "support.hpp"
#include "variants.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/descent.hpp>
#include <descent/detail/enum_text.hpp>

using support::require_message;

namespace {

using Text = std::map<std::string, std::string>;

/// Every option of o as (name, value as a checkpoint stores it).
template <typename Opt>
std::vector<std::pair<std::string, double>> fields(const typename Opt::Options& o) {
  std::vector<std::pair<std::string, double>> v;
  Opt::for_each_option(o, [&v](const char* name, const auto& field) {
    v.emplace_back(name, descent::detail::to_field(field));
  });
  return v;
}

/// The Options of the optimizer that make_optimizer built, which must be an Opt.
template <typename Opt>
typename Opt::Options options_of(
    const std::unique_ptr<descent::Optimizer<typename Opt::Scalar>>& p) {
  REQUIRE(p != nullptr);
  const auto* typed = dynamic_cast<const Opt*>(p.get());
  REQUIRE(typed != nullptr);
  return typed->options();
}

/// "profile, " and Opt's option names, as make_optimizer lists its keys.
template <typename Opt>
std::string keys_of() {
  std::string keys = "profile";
  typename Opt::Options o{};
  Opt::for_each_option(
      o, [&keys](const char* name, const auto&) { keys += std::string(", ") + name; });
  return keys;
}

/// How many options Opt has.
template <typename Opt>
int option_count() {
  int n = 0;
  typename Opt::Options o{};
  Opt::for_each_option(o, [&n](const char*, const auto&) { ++n; });
  return n;
}

/// A value other than current, as text and as the field's type.
template <typename T>
std::pair<std::string, T> another_value(T current) {
  if constexpr (std::is_enum<T>::value) {
    constexpr auto names = descent::detail::enum_names<T>();
    for (std::size_t k = 0; k < names.size(); ++k) {
      if (names[k].value == current) {
        const auto& next = names[(k + 1) % names.size()];
        return {std::string(next.snake), next.value};
      }
    }
    FAIL("value outside the enum");
    return {};
  } else if constexpr (std::is_same<T, bool>::value) {
    return {current ? "false" : "true", !current};
  } else if constexpr (std::is_integral<T>::value) {
    const T other = current == T(3) ? T(4) : T(3);
    return {std::to_string(other), other};
  } else {
    return {"0.375", T(0.375)};
  }
}

/// For every option of Opt: make_optimizer(name, {option: another value})
/// builds exactly the Options with that field changed, or throws what the
/// constructor throws for them. Returns how many were built.
template <typename Opt>
int check_every_key(const char* name) {
  using Options = typename Opt::Options;
  using S = typename Opt::Scalar;
  std::vector<std::string> keys;
  Options defaults{};
  Opt::for_each_option(defaults, [&keys](const char* key, const auto&) { keys.emplace_back(key); });
  int built = 0;
  for (const std::string& key : keys) {
    INFO(name << ": " << key);
    Options expected{};
    std::string text;
    Opt::for_each_option(expected, [&](const char* k, auto& field) {
      if (key != k) return;
      auto [t, v] = another_value(field);
      text = t;
      field = v;
    });
    std::string direct_error;
    try {
      Opt direct(expected);
    } catch (const std::invalid_argument& e) {
      direct_error = e.what();
    }
    if (!direct_error.empty()) {
      require_message([&] { descent::make_optimizer<S>(name, {{key, text}}); }, direct_error);
      continue;
    }
    const auto made = descent::make_optimizer<S>(name, {{key, text}});
    CHECK(fields<Opt>(options_of<Opt>(made)) == fields<Opt>(expected));
    CHECK(fields<Opt>(expected) != fields<Opt>(defaults));
    ++built;
  }
  return built;
}

/// n steps of a and b on the same problem; true if every iterate is bitwise equal.
template <typename S>
bool same_steps(descent::Optimizer<S>& a, descent::Optimizer<S>& b, int n) {
  const support::Bowl<S> bowl(9);
  support::Vec<S> x = bowl.start(), y = bowl.start();
  for (int t = 0; t < n; ++t) {
    a.step(x, bowl.grad(x));
    b.step(y, bowl.grad(y));
    if (!support::bitwise_equal(x, y)) return false;
  }
  return x != bowl.start();
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("make_optimizer: every name builds its class with its defaults",
                        "[factory]", support::AllOptimizers) {
  using Opt = TestType;
  using S = typename Opt::Scalar;
  std::string name, alias;
  descent::detail::for_each_optimizer<S>([&](const auto& entry, auto tag) {
    if (std::is_same<typename decltype(tag)::type, Opt>::value) {
      name = std::string(entry.name);
      alias = std::string(entry.alias);
    }
  });
  REQUIRE(!name.empty());
  std::string upper = name;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  std::vector<std::string> spellings{name, upper, std::string(Opt::kName)};
  if (!alias.empty()) spellings.push_back(alias);
  for (const std::string& spelling : spellings) {
    INFO(spelling);
    const auto made = descent::make_optimizer<S>(spelling);
    REQUIRE(dynamic_cast<const Opt*>(made.get()) != nullptr);
    CHECK(fields<Opt>(options_of<Opt>(made)) == fields<Opt>(typename Opt::Options{}));
  }
  // optimizer_names() lists it once, in snake_case.
  const auto names = descent::optimizer_names();
  CHECK(std::count(names.begin(), names.end(), name) == 1);
  CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);

  // Every key: make_optimizer builds exactly the Options with that field
  // changed, or refuses as the constructor refuses them alone (SGD's
  // nesterov without momentum, eps_hat outside Adam, …), which few do.
  CHECK(check_every_key<Opt>(name.c_str()) >= option_count<Opt>() - 3);
}

TEMPLATE_TEST_CASE("make_optimizer: names in any case, aliases", "[factory]", float, double) {
  using S = TestType;
  using namespace descent;
  for (const auto& [name, cls] :
       std::vector<std::pair<std::string, std::string_view>>{{"ADAM", "Adam"},
                                                             {"RmsProp", "RMSprop"},
                                                             {"GD", "GradientDescent"},
                                                             {"AdamW", "AdamW"}}) {
    INFO(name);
    CHECK(make_optimizer<S>(name)->name() == cls);
  }
}

TEMPLATE_TEST_CASE("make_optimizer: several keys at once, every spelling", "[factory]", float,
                   double) {
  using S = TestType;
  using namespace descent;
  // Several at once, and every spelling of the values.
  const auto sgd = options_of<SGD<S>>(make_optimizer<S>("sgd", {{"lr", "+0.5"},
                                                                {"momentum", "0.9"},
                                                                {"NESTEROV", "1"},
                                                                {"momentum_form", "PyTorch"},
                                                                {"maximize", "TRUE"},
                                                                {"nonfinite", "throw"}}));
  CHECK(sgd.lr == S(0.5));
  CHECK(sgd.momentum == S(0.9));
  CHECK(sgd.nesterov);
  CHECK(sgd.momentum_form == MomentumForm::PyTorch);
  CHECK(sgd.maximize);
  CHECK(sgd.nonfinite == NonFinite::Throw);
  const auto rms = options_of<RMSprop<S>>(make_optimizer<S>(
      "rmsprop", {{"eps_placement", "OutsideSqrt"}, {"centered", "0"}, {"nonfinite", "Skip"}}));
  CHECK(rms.eps_placement == EpsPlacement::OutsideSqrt);
  CHECK(!rms.centered);
  CHECK(rms.nonfinite == NonFinite::Skip);
  const auto adam = options_of<Adam<S>>(
      make_optimizer<S>("adam", {{"eps_placement", "EPS_HAT"}, {"eps", "1e-7"}, {"lr", "3e-4"}}));
  CHECK(adam.eps_placement == EpsPlacement::EpsHat);
  CHECK(adam.eps == S(1e-7));  // read straight into S: the nearest S to 1e-7
  CHECK(adam.lr == S(3e-4));
}

TEMPLATE_TEST_CASE("make_optimizer: profiles, then the other keys", "[factory]", float, double) {
  using S = TestType;
  using namespace descent;
  CHECK(fields<Adam<S>>(options_of<Adam<S>>(make_optimizer<S>("adam", {{"profile", "keras"}}))) ==
        fields<Adam<S>>(Adam<S>::Options::keras()));
  CHECK(fields<RMSprop<S>>(
            options_of<RMSprop<S>>(make_optimizer<S>("rmsprop", {{"profile", "PyTorch"}}))) ==
        fields<RMSprop<S>>(RMSprop<S>::Options::pytorch()));
  CHECK(fields<AdamW<S>>(options_of<AdamW<S>>(make_optimizer<S>(
            "adamw", {{"profile", "lecture"}}))) == fields<AdamW<S>>(AdamW<S>::Options::lecture()));

  // The keys apply on top of the profile, whatever their order in the map.
  auto expected = Adam<S>::Options::pytorch();
  expected.amsgrad = true;
  expected.lr = S(0.02);
  CHECK(fields<Adam<S>>(options_of<Adam<S>>(make_optimizer<S>(
            "adam", {{"amsgrad", "true"}, {"lr", "0.02"}, {"profile", "pytorch"}}))) ==
        fields<Adam<S>>(expected));
  auto keras = AdaGrad<S>::Options::keras();
  keras.eps = S(1e-3);
  CHECK(fields<AdaGrad<S>>(options_of<AdaGrad<S>>(make_optimizer<S>(
            "adagrad", {{"profile", "keras"}, {"eps", "1e-3"}}))) == fields<AdaGrad<S>>(keras));

  // optax's, for the classes that have it.
  CHECK(fields<Lion<S>>(options_of<Lion<S>>(make_optimizer<S>("lion", {{"profile", "Optax"}}))) ==
        fields<Lion<S>>(Lion<S>::Options::optax()));
  CHECK(fields<AdaBelief<S>>(
            options_of<AdaBelief<S>>(make_optimizer<S>("adabelief", {{"profile", "optax"}}))) ==
        fields<AdaBelief<S>>(AdaBelief<S>::Options::optax()));
  require_message(
      [] {
        make_optimizer<S>("lion", {{"profile", "pytorch"}});
      },
      "descent::make_optimizer: Lion has no profile 'pytorch'; its profiles: keras, optax");
  require_message(
      [] {
        make_optimizer<S>("adam", {{"profile", "optax"}});
      },
      "descent::make_optimizer: Adam has no profile 'optax'; its profiles: lecture, pytorch, "
      "keras");

  // Momentum and Nesterov have only the lecture's.
  CHECK(make_optimizer<S>("momentum", {{"profile", "lecture"}})->name() == "Momentum");
  require_message(
      [] {
        make_optimizer<S>("momentum", {{"profile", "pytorch"}});
      },
      "descent::make_optimizer: Momentum has no profile 'pytorch'; its profiles: "
      "lecture");
  require_message(
      [] {
        make_optimizer<S>("nesterov", {{"profile", "Keras"}});
      },
      "descent::make_optimizer: Nesterov has no profile 'Keras'; its profiles: "
      "lecture");
  require_message(
      [] {
        make_optimizer<S>("adam", {{"profile", "tensorflow"}});
      },
      "descent::make_optimizer: Adam option profile='tensorflow' is not a profile; "
      "valid values: lecture, pytorch, keras");
  require_message(
      [] {
        make_optimizer<S>("adam", {{"profile", "keras"}, {"PROFILE", "keras"}});
      },
      "descent::make_optimizer: Adam option 'profile' is given twice, as 'PROFILE' "
      "and 'profile'");
}

TEMPLATE_TEST_CASE("make_optimizer: error messages", "[factory]", float, double) {
  using S = TestType;
  using descent::make_optimizer;
  const std::string prefix = "descent::make_optimizer: ";
  const std::string real = std::is_same<S, float>::value ? "float" : "double";
  // The valid names, from the registry: "gradient_descent (or gd), sgd, …".
  std::string valid;
  descent::detail::for_each_optimizer<S>([&valid](const auto& entry, auto) {
    valid += (valid.empty() ? "" : ", ") + std::string(entry.name);
    if (!entry.alias.empty()) valid += " (or " + std::string(entry.alias) + ")";
  });
  CHECK_THAT(valid, Catch::Matchers::StartsWith("gradient_descent (or gd), sgd, momentum, "));
  require_message([] { make_optimizer<S>("adamx"); },
                  prefix + "unknown optimizer 'adamx'; valid names: " + valid);
  require_message([] { make_optimizer<S>(""); },
                  prefix + "unknown optimizer ''; valid names: " + valid);
  require_message(
      [] {
        make_optimizer<S>("adam", {{"lrr", "0.1"}});
      },
      prefix + "Adam has no option 'lrr'; its keys: " + keys_of<descent::Adam<S>>());
  CHECK_THAT(keys_of<descent::Adam<S>>(),
             Catch::StartsWith("profile, lr, beta1, beta2, eps, eps_placement, amsgrad"));
  require_message(
      [] {
        make_optimizer<S>("momentum", {{"momentum", "0.9"}});
      },
      prefix + "Momentum has no option 'momentum'; its keys: " + keys_of<descent::Momentum<S>>());
  const std::string not_a_number =
      "' is not a number (" + real + "); valid values: decimal numbers such as 0.001 or 1e-8";
  for (const char* bad :
       {"abc", "0.1x", "", " 0.1", "0.1 ", "1,5", "0x1p-3", "--1", "+-1", "++1", "+", "1e", "."}) {
    require_message(
        [bad] {
          make_optimizer<S>("adam", {{"lr", bad}});
        },
        prefix + "Adam option lr='" + bad + not_a_number);
  }
  require_message(
      [] {
        make_optimizer<S>("sgd", {{"momentum", "1e400"}});
      },
      prefix + "SGD option momentum='1e400' is out of the range of " + real);
  require_message(
      [] {
        make_optimizer<S>("adam", {{"amsgrad", "maybe"}});
      },
      prefix +
          "Adam option amsgrad='maybe' is not a bool; valid values: true, "
          "false, 1, 0");
  require_message(
      [] {
        make_optimizer<S>("adam", {{"amsgrad", "2"}});
      },
      prefix +
          "Adam option amsgrad='2' is not a bool; valid values: true, "
          "false, 1, 0");
  require_message(
      [] {
        make_optimizer<S>("adam", {{"eps_placement", "sideways"}});
      },
      prefix +
          "Adam option eps_placement='sideways' is not an EpsPlacement; valid "
          "values: inside_sqrt, outside_sqrt, eps_hat");
  require_message(
      [] {
        make_optimizer<S>("sgd", {{"momentum_form", "tf"}});
      },
      prefix +
          "SGD option momentum_form='tf' is not a MomentumForm; valid values: "
          "keras, pytorch");
  require_message(
      [] {
        make_optimizer<S>("rmsprop", {{"nonfinite", "ignore"}});
      },
      prefix +
          "RMSprop option nonfinite='ignore' is not a NonFinite; valid values: "
          "propagate, throw, skip");
  require_message(
      [] {
        make_optimizer<S>("adam", {{"lr", "0.1"}, {"LR", "0.2"}});
      },
      prefix + "Adam option 'lr' is given twice, as 'LR' and 'lr'");

  // Ranges stay the constructor's.
  require_message(
      [] {
        make_optimizer<S>("adam", {{"lr", "-1"}});
      },
      "descent::Adam: lr must be finite and >= 0, got -1");
  require_message(
      [] {
        make_optimizer<S>("adam", {{"beta1", "1.5"}});
      },
      "descent::Adam: beta1 must be in [0, 1), got 1.5");
  require_message(
      [] {
        make_optimizer<S>("rmsprop", {{"eps", "nan"}});
      },
      "descent::RMSprop: eps must be finite and >= 0, got nan");
  require_message(
      [] {
        make_optimizer<S>("gd", {{"lr", "inf"}});
      },
      "descent::GradientDescent: lr must be finite and >= 0, got inf");
}

TEMPLATE_TEST_CASE("make_optimizer: steps equal the directly constructed optimizer's", "[factory]",
                   float, double) {
  using S = TestType;
  using namespace descent;
  {
    auto made =
        make_optimizer<S>("adam", {{"profile", "pytorch"}, {"amsgrad", "true"}, {"lr", "0.05"}});
    auto o = Adam<S>::Options::pytorch();
    o.amsgrad = true;
    o.lr = S(0.05);
    Adam<S> direct(o);
    CHECK(same_steps<S>(*made, direct, 20));
  }
  {
    auto made = make_optimizer<S>(
        "sgd",
        {{"lr", "0.02"}, {"momentum", "0.9"}, {"nesterov", "true"}, {"weight_decay", "0.01"}});
    typename SGD<S>::Options o;
    o.lr = S(0.02);
    o.momentum = S(0.9);
    o.nesterov = true;
    o.weight_decay = S(0.01);
    SGD<S> direct(o);
    CHECK(same_steps<S>(*made, direct, 20));
  }
  {
    auto made = make_optimizer<S>("rmsprop", {{"profile", "keras"}, {"centered", "true"}});
    auto o = RMSprop<S>::Options::keras();
    o.centered = true;
    RMSprop<S> direct(o);
    CHECK(same_steps<S>(*made, direct, 20));
  }
  {
    auto made = make_optimizer<S>("nesterov", {{"beta", "0.8"}, {"lr", "0.1"}});
    typename Nesterov<S>::Options o;
    o.beta = S(0.8);
    o.lr = S(0.1);
    Nesterov<S> direct(o);
    CHECK(same_steps<S>(*made, direct, 20));
  }
  for (const std::string& name : optimizer_names()) {
    INFO(name);
    auto a = make_optimizer<S>(name, {{"lr", "0.01"}});
    auto b = make_optimizer<S>(name, {{"lr", "0.01"}});
    CHECK(same_steps<S>(*a, *b, 5));
  }
  {
    auto made = make_optimizer<S>("adagrad", {{"profile", "keras"}});
    AdaGrad<S> direct(AdaGrad<S>::Options::keras());
    CHECK(same_steps<S>(*made, direct, 20));
  }
  {
    auto made = make_optimizer<S>("adamw", {{"weight_decay", "0.1"}});
    typename AdamW<S>::Options o;
    o.weight_decay = S(0.1);
    AdamW<S> direct(o);
    CHECK(same_steps<S>(*made, direct, 20));
  }
}
