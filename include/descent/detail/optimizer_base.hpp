#pragma once
/// \file
/// OptimizerBase, between Optimizer and each optimizer: what every optimizer
/// does the same way given its Options and its state arrays: options(), the
/// non-finite policy, and the checkpoint's options and arrays.
///
/// A Derived class provides (and befriends OptimizerBase for):
///   - `Options options_;` and `static const Options& checked(const Options&)`
///   - `template <typename O, typename F> static void for_each_option(O&, F&&)`
///     calling f(name, field) for every option, in a fixed order;
///   - `template <typename Self> static auto state_arrays(Self&)`: a
///     std::array of pointers to its state vectors, in a fixed order, and
///     `static constexpr std::array<StateArray, N> kStateArrays`: their
///     names and which hold sums of squares (never negative), so that a
///     checkpoint holding a negative or NaN one is refused;
///   - optionally `template <typename Self> static auto state_values(Self&)`
///     and `static constexpr std::array<StateValue, N> kStateValues`: state
///     that is one number, not one per parameter (NAdam's running product of
///     momentum coefficients), as pointers to doubles, with the names and
///     closed ranges a checkpoint's values must lie in;
///   - optionally `template <typename Self> static auto bf16_state_arrays(Self&)`:
///     for an optimizer with the `state_storage` option, pointers to the
///     `Eigen::bfloat16` vectors that replace state_arrays' one for one
///     under StateStorage::BFloat16 (the others then stay empty). A
///     checkpoint stores them as Scalar values, which is exact, and a
///     load refuses a value that is not a bfloat16;
///   - optionally `static bool uses_array(const Options&, std::size_t k)`:
///     whether state vector k is sized to the parameters (true unless it says
///     otherwise; e.g. SGD without momentum keeps no velocity, Adam without
///     amsgrad no running maximum); an unused vector stays empty.

#include "../momentum_form.hpp"
#include "../nonfinite.hpp"
#include "../optimizer.hpp"
#include "../state_storage.hpp"
#include "check.hpp"
#include "serialize.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

namespace descent::detail {

/// A state vector's name, for messages, and whether its elements are sums of
/// squares (second moments, accumulators), which are never negative nor NaN.
struct StateArray {
  const char* name;
  bool nonnegative;
};

/// A state value's name, and the closed range [min, max] it lies in.
struct StateValue {
  const char* name;
  double min;
  double max;
};

template <typename E>
constexpr int enum_count();
template <>
constexpr int enum_count<EpsPlacement>() {
  return 3;
}
template <>
constexpr int enum_count<MomentumForm>() {
  return 2;
}
template <>
constexpr int enum_count<NonFinite>() {
  return 3;
}
template <>
constexpr int enum_count<StateStorage>() {
  return 2;
}

/// An option's value as stored in a checkpoint.
template <typename T>
double to_field(T value) {
  if constexpr (std::is_enum<T>::value) {
    return double(static_cast<int>(value));
  } else if constexpr (std::is_same<T, bool>::value) {
    return value ? 1.0 : 0.0;
  } else {
    return double(value);
  }
}

/// Reads an option back; false if d is not a value of T.
template <typename T>
bool from_field(double d, T& out) {
  if constexpr (std::is_enum<T>::value) {
    if (!(d >= 0 && d < enum_count<T>() && d == std::floor(d))) return false;
    out = static_cast<T>(static_cast<int>(d));
  } else if constexpr (std::is_same<T, bool>::value) {
    if (d != 0.0 && d != 1.0) return false;
    out = d == 1.0;
  } else if constexpr (std::is_integral<T>::value) {  // a count (Muon's ns_steps), a seed
    static_assert(sizeof(T) <= 4, "an integer option of at most 32 bits is exact in an f64");
    constexpr double lowest = double(std::numeric_limits<T>::min());
    constexpr double highest = double(std::numeric_limits<T>::max());
    if (!(d >= lowest && d <= highest && d == std::floor(d))) return false;
    out = static_cast<T>(d);
  } else {
    if (std::isfinite(d) && !std::isfinite(static_cast<T>(d))) return false;
    out = static_cast<T>(d);
  }
  return true;
}

/// Whether Opt's update of an element depends on the whole tensor (its
/// `static constexpr bool kWholeTensor`), so that a tensor cannot be
/// stepped in pieces: LAMB, LARS and Adafactor (their norms), which
/// Optimizer::elementwise() then says, and which mpi::Sharded refuses.
template <typename Opt, typename = void>
struct whole_tensor : std::false_type {};
template <typename Opt>
struct whole_tensor<Opt, std::void_t<decltype(Opt::kWholeTensor)>>
    : std::bool_constant<Opt::kWholeTensor> {};

/// A state vector stored as bfloat16.
using Bf16Vector = Eigen::Matrix<Eigen::bfloat16, Eigen::Dynamic, 1>;

template <typename O, typename = void>
struct has_state_storage : std::false_type {};
template <typename O>
struct has_state_storage<O, std::void_t<decltype(std::declval<const O&>().state_storage)>>
    : std::true_type {};

/// Whether options o keep the state as bfloat16.
template <typename Options>
bool stores_bf16(const Options& o) {
  if constexpr (has_state_storage<Options>::value) {
    return o.state_storage == StateStorage::BFloat16;
  } else {
    return false;
  }
}

/// The options a checkpoint written before they existed lacks: it loads
/// with their defaults (state of the parameters' type).
inline bool added_storage_option(std::string_view name) {
  return name == "state_storage" || name == "stochastic_rounding" || name == "rounding_seed";
}

/// Whether a float is exactly a bfloat16: its low 16 bits are zero.
template <typename Scalar>
bool is_bf16_value(Scalar x) {
  const float f = static_cast<float>(x);
  if (static_cast<Scalar>(f) != x && x == x) return false;
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u & 0xFFFFu) == 0;
}

/// x, a bfloat16 value (is_bf16_value), as one, bit for bit (NaN payloads
/// included).
template <typename Scalar>
Eigen::bfloat16 exact_bf16(Scalar x) {
  const float f = static_cast<float>(x);
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return Eigen::bfloat16_impl::raw_uint16_to_bfloat16(static_cast<std::uint16_t>(u >> 16));
}

template <typename Derived, typename Scalar_>
class OptimizerBase : public Optimizer<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  /// The options, with lr as currently set.
  auto options() const { return this->with_current_lr(self().options_); }

 protected:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Optimizer<Scalar>::Optimizer;

  template <typename Options>
  static bool uses_array(const Options&, std::size_t) {
    return true;
  }
  template <typename Self>
  static std::array<double*, 0> state_values(Self&) {
    return {};
  }
  static constexpr std::array<StateValue, 0> kStateValues{};
  template <typename Self>
  static std::array<Bf16Vector*, 0> bf16_state_arrays(Self&) {
    return {};
  }

 private:
  // How many state arrays a bfloat16 state has: 0 without state_storage.
  static constexpr std::size_t bf16_array_count() {
    return std::tuple_size<decltype(Derived::bf16_state_arrays(std::declval<Derived&>()))>::value;
  }

  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self() { return static_cast<Derived&>(*this); }

  template <typename D, typename S, typename F>
  friend void for_each_state_array(OptimizerBase<D, S>& o, F&& f);
  template <typename F>
  void visit_state_arrays(F& f) {
    std::size_t k = 0;
    for (auto* a : Derived::state_arrays(self())) {
      if (a->size() > 0) f(a->data(), a->size(), Derived::kStateArrays[k].nonnegative);
      ++k;
    }
  }

  NonFinite nonfinite_policy() const noexcept override { return self().options_.nonfinite; }
  bool elementwise() const noexcept override { return !whole_tensor<Derived>::value; }

  // lr is the Optimizer's own (set_lr), so it is no option here.
  bool read_option(std::string_view option, Scalar& value) const noexcept override {
    bool found = false;
    Derived::for_each_option(self().options_, [&](const char* name, const auto& field) {
      if constexpr (std::is_same<std::decay_t<decltype(field)>, Scalar>::value) {
        if (!found && option != "lr" && option == name) {
          value = field;
          found = true;
        }
      }
    });
    return found;
  }

  void write_option(std::string_view option, Scalar value) override {
    auto options = self().options_;
    bool found = false;
    Derived::for_each_option(options, [&](const char* name, auto& field) {
      if constexpr (std::is_same<std::decay_t<decltype(field)>, Scalar>::value) {
        if (!found && option != "lr" && option == name) {
          field = value;
          found = true;
        }
      }
    });
    if (!found) Optimizer<Scalar>::write_option(option, value);
    options.lr = self().options_.lr;  // checked at construction; set_lr keeps the current one
    Derived::checked(options);
    // A state vector sized to the parameters (SGD's velocity, kept only for
    // momentum > 0) cannot appear or vanish between steps.
    if (this->state_size() >= 0) {
      for (std::size_t k = 0; k < Derived::kStateArrays.size(); ++k) {
        if (Derived::uses_array(options, k) != Derived::uses_array(self().options_, k)) {
          std::string message = "descent::";
          message.append(this->name()).append(": ").append(option).append(" ");
          message.append(to_text(value)).append(" would ");
          message.append(Derived::uses_array(options, k) ? "need" : "drop");
          message.append(" the state array ").append(Derived::kStateArrays[k].name);
          message.append(" after the first step; set it before the first step, or reset()");
          throw std::invalid_argument(message);
        }
      }
    }
    self().options_ = options;
  }

  // Protected, so that a class whose state is not all sized to the
  // parameters (Adafactor's row and column factors) appends its own arrays.
 protected:
  void write_checkpoint(Writer& w) const override {
    const auto o = options();
    std::uint32_t count = 0;
    Derived::for_each_option(o, [&](const char*, const auto&) { ++count; });
    w.u32(count);
    Derived::for_each_option(o, [&](const char* name, const auto& value) {
      w.name(name);
      w.f64(to_field(value));
    });
    const auto arrays = Derived::state_arrays(self());
    w.u32(static_cast<std::uint32_t>(arrays.size()));
    if constexpr (bf16_array_count() > 0) {
      if (stores_bf16(self().options_)) {
        // As Scalar values, exactly: the format, and the tools that cut and
        // join checkpoints (mpi::Sharded), stay those of every optimizer.
        for (const Bf16Vector* a : Derived::bf16_state_arrays(self())) {
          const Vector wide = a->template cast<Scalar>();
          w.array(wide.data(), wide.size());
        }
      } else {
        for (const auto* a : arrays) w.array(a->data(), a->size());
      }
    } else {
      for (const auto* a : arrays) w.array(a->data(), a->size());
    }
    if (Derived::kStateValues.empty()) return;  // as optimizers without them always wrote
    w.u32(static_cast<std::uint32_t>(Derived::kStateValues.size()));
    std::size_t k = 0;
    for (const double* value : Derived::state_values(self())) {
      w.name(Derived::kStateValues[k++].name);
      w.f64(*value);
    }
  }

  std::function<void()> stage_checkpoint(Reader& r, Index state_size) override {
    std::map<std::string, double> stored;
    const std::uint32_t count = r.u32("option count");
    for (std::uint32_t k = 0; k < count; ++k) {
      std::string name = r.name("option name");
      const double value = r.f64("option value");
      if (!stored.emplace(name, value).second) r.fail("option '" + name + "' appears twice");
    }
    auto options = self().options_;
    Derived::for_each_option(options, [&](const char* name, auto& field) {
      const auto it = stored.find(name);
      if (it == stored.end() && added_storage_option(name)) {
        field = std::decay_t<decltype(field)>{};
        return;
      }
      if (it == stored.end()) r.fail(std::string("option '") + name + "' is missing");
      if (!from_field(it->second, field)) {
        r.fail(std::string("option '") + name + "' has the invalid value " + to_text(it->second));
      }
      stored.erase(it);
    });
    if (!stored.empty()) r.fail("unknown option '" + stored.begin()->first + "'");
    r.validate([&] { Derived::checked(options); }, "invalid options: ");

    constexpr std::size_t kArrays = Derived::kStateArrays.size();
    static_assert(kArrays == decltype(Derived::state_arrays(self()))().size(),
                  "kStateArrays describes every state array");
    const std::uint32_t arrays = r.u32("state array count");
    if (arrays != kArrays) {
      r.fail(std::to_string(arrays) + " state arrays where " + std::string(this->name()) +
             " keeps " + std::to_string(kArrays));
    }
    std::array<Vector, kArrays> staged;
    for (std::size_t k = 0; k < kArrays; ++k) {
      const Index length = state_size >= 0 && Derived::uses_array(options, k) ? state_size : 0;
      const StateArray& described = Derived::kStateArrays[k];
      const std::string what = std::string("state array ") + described.name;
      staged[k] = r.template array<Scalar, Vector>(length, what.c_str());
      if (described.nonnegative) {
        for (Index i = 0; i < length; ++i) {
          if (!(staged[k][i] >= Scalar(0))) {
            r.fail(what + "[" + std::to_string(i) + "] is " + to_text(staged[k][i]) +
                   ": a sum of squares is never negative nor NaN");
          }
        }
      }
    }
    // bfloat16 state: every value must be one, and is stored as one.
    constexpr std::size_t kBf16Arrays = bf16_array_count();
    std::array<Bf16Vector, kBf16Arrays> staged16;
    [[maybe_unused]] const bool bf16 = stores_bf16(options);
    if constexpr (kBf16Arrays > 0) {
      static_assert(kBf16Arrays == kArrays, "bf16_state_arrays parallels state_arrays");
      for (std::size_t k = 0; bf16 && k < kArrays; ++k) {
        const Index length = staged[k].size();
        staged16[k].resize(length);
        for (Index i = 0; i < length; ++i) {
          if (!is_bf16_value(staged[k][i])) {
            r.fail(std::string("state array ") + Derived::kStateArrays[k].name + "[" +
                   std::to_string(i) + "] is " + to_text(staged[k][i]) +
                   ", which is not a bfloat16, as state_storage BFloat16 keeps every element");
          }
          staged16[k][i] = exact_bf16(staged[k][i]);
        }
        staged[k].resize(0);
      }
    }
    constexpr std::size_t kValues = Derived::kStateValues.size();
    static_assert(kValues == decltype(Derived::state_values(self()))().size(),
                  "kStateValues describes every state value");
    const std::uint32_t values = kValues == 0 ? 0 : r.u32("state value count");
    if (values != kValues) {
      r.fail(std::to_string(values) + " state values where " + std::string(this->name()) +
             " keeps " + std::to_string(kValues));
    }
    std::array<double, kValues> staged_values{};
    for (std::size_t k = 0; k < kValues; ++k) {
      const StateValue& described = Derived::kStateValues[k];
      const std::string name = r.name("state value name");
      if (name != described.name) {
        r.fail("state value '" + name + "' where " + std::string(this->name()) + " keeps '" +
               described.name + "'");
      }
      staged_values[k] = r.f64(described.name);
      if (!(staged_values[k] >= described.min && staged_values[k] <= described.max)) {
        r.fail(std::string("state value ") + described.name + " is " + to_text(staged_values[k]) +
               ", not in [" + to_text(described.min) + ", " + to_text(described.max) + "]");
      }
    }
    return [this, options, staged = std::move(staged), staged16 = std::move(staged16),
            staged_values]() mutable noexcept {
      self().options_ = options;
      const auto targets = Derived::state_arrays(self());
      for (std::size_t k = 0; k < kArrays; ++k) targets[k]->swap(staged[k]);
      const auto targets16 = Derived::bf16_state_arrays(self());
      for (std::size_t k = 0; k < kBf16Arrays; ++k) targets16[k]->swap(staged16[k]);
      const auto values_of = Derived::state_values(self());
      for (std::size_t k = 0; k < kValues; ++k) *values_of[k] = staged_values[k];
    };
  }
};

/// Calls f(data, size, nonnegative) for each state array of o that holds
/// elements of the parameters' type (bfloat16 state is not visited), in the
/// order of its kStateArrays; nonnegative as described there. For
/// descent_bench, whose byte floors can then run on a step's own memory.
template <typename D, typename S, typename F>
void for_each_state_array(OptimizerBase<D, S>& o, F&& f) {
  o.visit_state_arrays(f);
}

}  // namespace descent::detail
