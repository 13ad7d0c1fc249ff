// The one place the generic tests' per-class helpers are compiled (see
// variants.hpp), in float here and in double in instantiations_double.cpp:
// two files that compile side by side. The classes themselves are compiled
// in templates/.

#define DESCENT_TEST_INSTANTIATE_HERE
#include "instantiations.hpp"

#include "variants.hpp"

DESCENT_TEST_CLASSES(DESCENT_TEST_VARIANTS_HERE, float)

// DESCENT_TEST_CLASSES lists the registry's classes: as many, each one of them.
namespace {
template <typename T, typename Tuple>
struct in_registry;
template <typename T, typename... Ts>
struct in_registry<T, std::tuple<Ts...>> : std::disjunction<std::is_same<T, Ts>...> {};
}  // namespace
#define DESCENT_TEST_COUNT(Opt) +1
#define DESCENT_TEST_LISTED(Opt)                                                 \
  static_assert(in_registry<Opt, descent::detail::OptimizerTypes<float>>::value, \
                #Opt " is not in the registry");
static_assert(std::tuple_size_v<descent::detail::OptimizerTypes<float>> ==
                  0 DESCENT_TEST_CLASSES(DESCENT_TEST_COUNT, float),
              "DESCENT_TEST_CLASSES and the registry list different numbers of classes");
DESCENT_TEST_CLASSES(DESCENT_TEST_LISTED, float)
