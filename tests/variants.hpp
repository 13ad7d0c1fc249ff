#pragma once
// Every optimizer class and a set of its option variants, derived from
// descent's registry (detail/registry.hpp), as PyTorch's tests iterate its
// optim_db: the generic tests (checkpoints, threads, non-finite policies,
// errors) run over these, so a new optimizer is covered by its registry
// line alone.

#include "instantiations.hpp"

#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <descent/detail/registry.hpp>
#include <descent/make_optimizer.hpp>

namespace support {

/// Every optimizer class, float then double, as a std::tuple type for
/// Catch2's TEMPLATE_LIST_TEST_CASE (float only where
/// DESCENT_TESTS_FLOAT_ONLY is defined: the sanitizer presets, whose generic
/// tests look for memory errors and races in kernels that are the same
/// templates in either type; the suite's tests written in double run there
/// as everywhere).
#ifdef DESCENT_TESTS_FLOAT_ONLY
using AllOptimizers = descent::detail::OptimizerTypes<float>;
#else
using AllOptimizers =
    decltype(std::tuple_cat(std::declval<descent::detail::OptimizerTypes<float>>(),
                            std::declval<descent::detail::OptimizerTypes<double>>()));
#endif

/// Every option of o as a checkpoint stores it, in order.
template <typename Opt>
std::vector<double> fields_of(const typename Opt::Options& o) {
  std::vector<double> v;
  Opt::for_each_option(
      o, [&v](const char*, const auto& field) { v.push_back(descent::detail::to_field(field)); });
  return v;
}

/// "Adam{lr=0.001, beta1=0.9, …}", for messages.
template <typename Opt>
std::string describe(const typename Opt::Options& o) {
  std::ostringstream os;
  os << Opt::kName << (sizeof(typename Opt::Scalar) == 4 ? "<float>{" : "<double>{");
  const char* separator = "";
  Opt::for_each_option(o, [&](const char* name, const auto& field) {
    os << separator << name << "=" << descent::detail::to_field(field);
    separator = ", ";
  });
  return os.str() + "}";
}

template <typename Opt>
bool accepted(const typename Opt::Options& o) {
  try {
    Opt{o};
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

/// Options that reach every branch of Opt's kernel: the defaults and each
/// profile; from each of those a busy start, where every number option that
/// is 0 (momentum, weight decay, dampening, lr decay, …) is set to 0.1 when
/// the class accepts it; and from each busy start every bool option flipped
/// and every enum option at each of its values. Options the class refuses
/// (EpsHat for AdaGrad, dampening with Nesterov, …) and repeats are left out.
template <typename Opt>
std::vector<typename Opt::Options> variants() {
  using Options = typename Opt::Options;
  using namespace descent::detail;
  std::vector<Options> starts{Options{}};
  if constexpr (has_lecture<Options>::value) starts.push_back(Options::lecture());
  if constexpr (has_pytorch<Options>::value) starts.push_back(Options::pytorch());
  if constexpr (has_keras<Options>::value) starts.push_back(Options::keras());
  if constexpr (has_optax<Options>::value) starts.push_back(Options::optax());

  std::vector<Options> out;
  std::set<std::vector<double>> seen;
  const auto add = [&](const Options& o) {
    if (accepted<Opt>(o) && seen.insert(fields_of<Opt>(o)).second) out.push_back(o);
  };
  for (const Options& start : starts) {
    add(start);
    Options busy = start;
    for (std::size_t k = 0;; ++k) {  // option k, if it is a number at 0
      std::size_t index = 0;
      bool more = false;
      Options next = busy;
      Opt::for_each_option(next, [&](const char*, auto& field) {
        using F = std::remove_reference_t<decltype(field)>;
        if (index++ != k) return;
        more = true;
        if constexpr (std::is_floating_point<F>::value) {
          if (field == F(0)) field = F(0.1);
        }
      });
      if (!more) break;
      if (accepted<Opt>(next)) busy = next;
    }
    add(busy);
    // Where a flip is refused on the busy start, the busy start with one of
    // its numbers back at 0 (Nesterov wants no dampening, …).
    std::vector<Options> bases{busy};
    for (std::size_t k = 0; k < fields_of<Opt>(busy).size(); ++k) {
      Options o = busy;
      std::size_t j = 0;
      Opt::for_each_option(o, [&](const char*, auto& f) {
        using F = std::remove_reference_t<decltype(f)>;
        if constexpr (std::is_floating_point<F>::value) {
          if (j == k && fields_of<Opt>(start)[k] == 0.0) f = F(0);
        }
        ++j;
      });
      bases.push_back(o);
    }
    for (std::size_t k = 0;; ++k) {  // option k flipped or at each value
      std::size_t index = 0;
      bool more = false;
      Opt::for_each_option(busy, [&](const char*, const auto& field) {
        using F = std::decay_t<decltype(field)>;
        if (index++ != k) return;
        more = true;
        const auto with = [&](F value) {
          for (const Options& base : bases) {
            Options o = base;
            std::size_t j = 0;
            Opt::for_each_option(o, [&](const char*, auto& f) {
              if constexpr (std::is_same<std::decay_t<decltype(f)>, F>::value) {
                if (j == k) f = value;
              }
              ++j;
            });
            if (accepted<Opt>(o)) {
              add(o);
              return;
            }
          }
        };
        if constexpr (std::is_same<F, bool>::value) {
          with(!field);
        } else if constexpr (std::is_enum<F>::value) {
          for (int e = 0; e < enum_count<F>(); ++e) with(static_cast<F>(e));
        }
      });
      if (!more) break;
    }
  }
  return out;
}

/// A function making Opt with each of variants<Opt>(), behind the base class.
template <typename Opt>
std::vector<std::function<std::unique_ptr<descent::Optimizer<typename Opt::Scalar>>()>> makers() {
  std::vector<std::function<std::unique_ptr<descent::Optimizer<typename Opt::Scalar>>()>> out;
  for (const auto& options : variants<Opt>()) {
    out.push_back([options] { return std::make_unique<Opt>(options); });
  }
  return out;
}

}  // namespace support

// The helpers above, for every class: compiled once, in instantiations.cpp
// (float) and instantiations_double.cpp (double), instead of in every test
// file that iterates the classes.
#define DESCENT_TEST_VARIANTS(KW, Opt)                                            \
  KW template std::vector<typename Opt::Options> support::variants<Opt>();        \
  KW template std::vector<                                                        \
      std::function<std::unique_ptr<descent::Optimizer<typename Opt::Scalar>>()>> \
  support::makers<Opt>();                                                         \
  KW template std::string support::describe<Opt>(const typename Opt::Options&);
#define DESCENT_TEST_VARIANTS_EXTERN(Opt) DESCENT_TEST_VARIANTS(extern, Opt)
#define DESCENT_TEST_VARIANTS_HERE(Opt) DESCENT_TEST_VARIANTS(, Opt)

#ifndef DESCENT_TEST_INSTANTIATE_HERE
DESCENT_TEST_CLASSES(DESCENT_TEST_VARIANTS_EXTERN, float)
#ifndef DESCENT_TESTS_FLOAT_ONLY
DESCENT_TEST_CLASSES(DESCENT_TEST_VARIANTS_EXTERN, double)
#endif
#endif
