#pragma once
/// \file
/// The one list of descent's optimizer classes. make_optimizer's names, the
/// generic tests (checkpoints, threads, non-finite policies, errors, strict
/// warnings), the fuzzer and its seed corpus derive theirs from it: an
/// optimizer is its header and one line here.
///
/// It lists the first-order optimizers, those that derive from
/// Optimizer<S> and take step(params, grad). LBFGS (lbfgs.hpp) is not one:
/// its step evaluates the function through a closure, so it is tested,
/// fuzzed and benchmarked on its own (tests/test_lbfgs.cpp,
/// fuzz/checkpoint_targets.hpp, bench/lbfgs_bench.cpp), and make_optimizer
/// refuses its name with a message that says so.

#include "../adabelief.hpp"
#include "../adadelta.hpp"
#include "../adafactor.hpp"
#include "../adagrad.hpp"
#include "../adam.hpp"
#include "../adamax.hpp"
#include "../adamw.hpp"
#include "../asgd.hpp"
#include "../gradient_descent.hpp"
#include "../lamb.hpp"
#include "../lars.hpp"
#include "../lion.hpp"
#include "../momentum.hpp"
#include "../muon.hpp"
#include "../nadam.hpp"
#include "../nesterov.hpp"
#include "../radam.hpp"
#include "../rmsprop.hpp"
#include "../rprop.hpp"
#include "../sgd.hpp"
#include "../sparse_adam.hpp"

#include <string_view>
#include <tuple>
#include <type_traits>

namespace descent::detail {

/// An optimizer class template and the names make_optimizer knows it by
/// (besides its class name).
template <template <typename> class Opt>
struct Registered {
  template <typename S>
  using Type = Opt<S>;
  std::string_view name;        ///< snake_case, as optimizer_names() lists it
  std::string_view alias = {};  ///< a short name, or empty
};

/// Every optimizer, in the order optimizer_names() lists them.
inline constexpr std::tuple kOptimizers{
    Registered<GradientDescent>{"gradient_descent", "gd"},
    Registered<SGD>{"sgd"},
    Registered<Momentum>{"momentum"},
    Registered<Nesterov>{"nesterov"},
    Registered<AdaGrad>{"adagrad"},
    Registered<RMSprop>{"rmsprop"},
    Registered<Adam>{"adam"},
    Registered<AdamW>{"adamw"},
    Registered<Adamax>{"adamax"},
    Registered<NAdam>{"nadam"},
    Registered<RAdam>{"radam"},
    Registered<Adadelta>{"adadelta"},
    Registered<Rprop>{"rprop"},
    Registered<ASGD>{"asgd"},
    Registered<Lion>{"lion"},
    Registered<AdaBelief>{"adabelief"},
    Registered<SparseAdam>{"sparse_adam"},
    Registered<Muon>{"muon"},
    Registered<Adafactor>{"adafactor"},
    Registered<LAMB>{"lamb"},
    Registered<LARS>{"lars"},
};

template <typename S, typename... R>
std::tuple<typename R::template Type<S>...> optimizer_types_of(const std::tuple<R...>&);

/// Every optimizer class for Scalar S, as a std::tuple type.
template <typename S>
using OptimizerTypes = decltype(optimizer_types_of<S>(kOptimizers));

/// Carries a type to a generic lambda.
template <typename T>
struct Tag {
  using type = T;
};

/// Calls f(entry, Tag<Opt<S>>{}) for every registered optimizer, in order.
template <typename S, typename F>
constexpr void for_each_optimizer(F&& f) {
  std::apply(
      [&f](const auto&... entry) {
        (f(entry, Tag<typename std::decay_t<decltype(entry)>::template Type<S>>{}), ...);
      },
      kOptimizers);
}

}  // namespace descent::detail
