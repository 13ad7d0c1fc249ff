#pragma once
// What the fuzzer and the field-sweep test do with one input: for every kind
// of optimizer and scheduler, load() either succeeds, and then the object
// saves, reloads to the same bytes and steps, or throws CheckpointError and
// leaves the object byte for byte as it was. Anything else (another
// exception, a sanitizer report, a changed object) is a finding, reported
// through `check.finding(what)`.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <descent/descent.hpp>

namespace checkpoint_targets {

/// How findings are reported, and which kind of object is tried: every kind
/// (the fuzzer, which also checks that other kinds refuse the input) or
/// only the one named (a sweep over one kind's checkpoints).
struct Check {
  std::function<void(const char*)> finding;
  std::string kind;
};

template <typename T>
std::string bytes_of(const T& object) {
  std::ostringstream out;
  object.save(out);
  return out.str();
}

/// The offset of a checkpoint's payload (after magic, version, object,
/// scalar size, kind name and payload length), or 0 if bytes are too short.
inline std::size_t payload_offset(const std::string& bytes) {
  if (bytes.size() < 16) return 0;
  const std::size_t kind = std::uint8_t(bytes[14]) | std::size_t(std::uint8_t(bytes[15])) << 8;
  return bytes.size() >= 24 + kind ? 24 + kind : 0;
}

/// Recomputes the trailing CRC-32, so that an edit reaches the payload's checks.
inline void reseal(std::string& bytes) {
  if (bytes.size() < 4) return;
  const std::uint32_t crc = descent::detail::crc32(
      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size() - 4);
  for (int b = 0; b < 4; ++b) {
    bytes[bytes.size() - 4 + std::size_t(b)] = static_cast<char>(crc >> (8 * b));
  }
}

template <typename T, typename Use>
void try_load(T& target, const std::string& input, const Use& use, const Check& check) {
  if (!check.kind.empty() && target.name() != check.kind) return;
  const auto& finding = check.finding;
  const std::string before = bytes_of(target);
  std::istringstream in(input);
  try {
    target.load(in);
  } catch (const descent::CheckpointError&) {
    if (bytes_of(target) != before) finding("a refused load changed the object");
    return;
  }
  const std::string after = bytes_of(target);
  std::istringstream again(after);
  target.load(again);
  if (bytes_of(target) != after) finding("a loaded object does not save to the same bytes");
  use(target);
}

/// False if check names another kind than `name` (a sweep over one kind's
/// checkpoints): the target is then not even constructed.
inline bool tried(std::string_view name, const Check& check) {
  return check.kind.empty() || check.kind == name;
}

template <typename Opt>
void optimizer(const std::string& input, const Check& check) {
  using S = typename Opt::Scalar;
  if (!tried(Opt::kName, check)) return;
  Opt opt;
  try_load(
      opt, input,
      [](Opt& o) {
        const Eigen::Index n = o.state_size() < 0 ? 3 : o.state_size();
        if (n > 4096) return;  // a valid but large state: stepping it proves nothing more
        Eigen::Matrix<S, Eigen::Dynamic, 1> x = Eigen::Matrix<S, Eigen::Dynamic, 1>::Ones(n);
        try {
          o.step(x, x);
          o.step(x, x);
        } catch (const std::overflow_error&) {
          // A step count at its limit refuses the next step: fine.
        } catch (const std::domain_error&) {
          // NonFinite::Throw refusing a gradient the loaded state made NaN.
        } catch (const std::invalid_argument&) {
          // Muon refusing a vector where its state is a matrix's.
          // A state built for a matrix (Adafactor's factors) refusing a vector.
        }
      },
      check);
}

/// LBFGS, whose step takes the function: a loaded one steps on ½‖x‖², its
/// evaluations bounded (a loaded max_iter may be 2^31 − 1, and NaN stops no
/// test).
template <typename S>
void lbfgs(const std::string& input, const Check& check) {
  if (!tried(descent::LBFGS<S>::kName, check)) return;
  descent::LBFGS<S> opt;
  try_load(
      opt, input,
      [](descent::LBFGS<S>& o) {
        using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
        const Eigen::Index n = o.state_size() < 0 ? 3 : o.state_size();
        if (n > 4096) return;
        Vec x = Vec::Ones(n);
        struct Enough {};
        int calls = 0;
        const auto f = [&calls](const Vec& p, Vec& g) {
          if (++calls > 200) throw Enough{};
          g = p;
          return S(0.5) * p.squaredNorm();
        };
        try {
          o.step(x, f);
          o.step(x, f);
        } catch (const Enough&) {
        } catch (const std::overflow_error&) {
          // An iteration count at its limit refuses the next step: fine.
        } catch (const std::domain_error&) {
          // NonFinite::Throw refusing a loss the loaded state made NaN.
        }
      },
      check);
}

/// WeightAverage: a loaded one updates twice, and swaps in and out.
template <typename S>
void weight_average(const std::string& input, const Check& check) {
  descent::WeightAverage<S> average;
  try_load(
      average, input,
      [](descent::WeightAverage<S>& a) {
        const Eigen::Index n = a.size() < 0 ? 3 : a.size();
        if (n > 4096) return;
        Eigen::Matrix<S, Eigen::Dynamic, 1> x = Eigen::Matrix<S, Eigen::Dynamic, 1>::Ones(n);
        try {
          a.update(x);
          a.update(x);
        } catch (const std::overflow_error&) {
          // A count at its limit refuses the next update: fine.
        }
        a.swap(x);
        a.swap(x);
      },
      check);
}

/// A wrapper around a fresh Inner: a loaded one steps twice.
template <typename Wrapper, typename Inner>
void wrapper(const std::string& input, const Check& check) {
  using S = typename Inner::Scalar;
  Inner inner;
  Wrapper w(inner);
  try_load(
      w, input,
      [&inner](Wrapper& loaded) {
        const Eigen::Index n = inner.state_size() < 0 ? 3 : inner.state_size();
        if (n > 4096) return;
        Eigen::Matrix<S, Eigen::Dynamic, 1> x = Eigen::Matrix<S, Eigen::Dynamic, 1>::Ones(n);
        try {
          loaded.step(x, x);
          loaded.step(x, x);
        } catch (const std::invalid_argument&) {
          // Wrapper state and wrapped optimizer of different sizes: refused.
        } catch (const std::overflow_error&) {
        } catch (const std::domain_error&) {
        }
      },
      check);
}

/// LossScaler: a loaded one steps an optimizer through a finite and a
/// non-finite gradient.
inline void loss_scaler(const std::string& input, const Check& check) {
  if (!tried(descent::LossScaler::kName, check)) return;
  descent::LossScaler scaler;
  try_load(
      scaler, input,
      [](descent::LossScaler& s) {
        descent::SGD<float> sgd;
        Eigen::VectorXf x = Eigen::VectorXf::Ones(3);
        Eigen::VectorXf g = Eigen::VectorXf::Ones(3);
        s.step(sgd, x, g);
        g(1) = std::numeric_limits<float>::infinity();
        s.step(sgd, x, g);
      },
      check);
}

/// ParamGroups of two Adam tensors and one SGD-with-momentum tensor: a
/// loaded one steps twice with tensors of the shapes it holds (or vectors of
/// 3 before its first step).
inline void param_groups(const std::string& input, const Check& check) {
  if (!tried("ParamGroups", check)) return;
  descent::SGD<double>::Options o;
  o.momentum = 0.9;
  descent::ParamGroups<double> groups({{descent::Adam<double>(), 2}, {descent::SGD<double>(o), 1}});
  try_load(
      groups, input,
      [](descent::ParamGroups<double>& g) {
        using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        // Parameters and gradients (a tenth of them) of each tensor's shape.
        std::vector<Eigen::MatrixXd> cols;
        std::vector<RowMajor> rows;
        std::vector<Eigen::VectorXd> vectors;
        cols.reserve(2 * g.tensors());
        rows.reserve(2 * g.tensors());
        vectors.reserve(2 * g.tensors());
        std::vector<descent::ParamGrad<double>> list;
        for (std::size_t k = 0; k < g.tensors(); ++k) {
          const descent::TensorShape s = g.shape(k);
          if (s.rows > 4096 || s.cols > 4096 || s.rows * s.cols > 4096) return;
          const auto add = [&list](auto& store, const auto& x) {
            store.push_back(x);
            store.push_back(x * 0.1);
            list.emplace_back(store[store.size() - 2], store.back());
          };
          if (!s.matrix) {
            add(vectors, Eigen::VectorXd::Ones(s.rows > 0 ? s.rows : 3));
          } else if (s.row_major) {
            add(rows, RowMajor::Ones(s.rows, s.cols));
          } else {
            add(cols, Eigen::MatrixXd::Ones(s.rows, s.cols));
          }
        }
        try {
          g.step(list);
          g.step(list);
        } catch (const std::overflow_error&) {
          // A loaded step count of 2^63 − 2 steps once, then refuses.
        }
      },
      check);
}

/// MixedPrecision<Low> around a fresh Adam<float>: a loaded one steps
/// twice, once through a LossScaler.
template <typename Low>
void mixed_precision(const std::string& input, const Check& check) {
  if (!tried(descent::MixedPrecision<Low>::kName, check)) return;
  descent::Adam<float> inner;
  descent::MixedPrecision<Low> w(inner);
  try_load(
      w, input,
      [&inner](descent::MixedPrecision<Low>& loaded) {
        const Eigen::Index n = loaded.master().size() > 0 ? loaded.master().size()
                               : inner.state_size() < 0   ? 3
                                                          : inner.state_size();
        if (n > 4096) return;
        Eigen::Matrix<Low, Eigen::Dynamic, 1> x = Eigen::VectorXf::Ones(n).cast<Low>();
        descent::LossScaler scaler;
        try {
          loaded.step(x, x);
          loaded.step(x, x, scaler);
        } catch (const std::invalid_argument&) {
          // Master copy and wrapped optimizer of different sizes: refused.
        } catch (const std::overflow_error&) {
        } catch (const std::domain_error&) {
        }
      },
      check);
}

/// ScheduleFree: a loaded one steps twice (in train mode) and switches modes.
template <typename S>
void schedule_free(const std::string& input, const Check& check) {
  descent::ScheduleFree<S> opt;
  try_load(
      opt, input,
      [](descent::ScheduleFree<S>& o) {
        const Eigen::Index n = o.state_size() < 0 ? 3 : o.state_size();
        if (n > 4096) return;
        Eigen::Matrix<S, Eigen::Dynamic, 1> x = Eigen::Matrix<S, Eigen::Dynamic, 1>::Ones(n);
        o.train(x);
        try {
          o.step(x, x);
          o.step(x, x);
        } catch (const std::overflow_error&) {
        } catch (const std::domain_error&) {
        }
        o.eval(x);
        o.train(x);
      },
      check);
}

/// Steps a loaded scheduler: step(), or step(metric) for ReduceLROnPlateau.
template <typename Sched>
void step_once(Sched& s) {
  try {
    if constexpr (std::is_same_v<Sched, descent::ReduceLROnPlateau<double>>) {
      s.step(1.0);
    } else {
      s.step();
    }
  } catch (const std::invalid_argument&) {
    // A loaded schedule may step to an lr it refuses; refusing is fine.
  }
}

template <typename Make>
void scheduler(const std::string& input, const Make& make, const Check& check) {
  descent::GradientDescent<double> gd;
  auto sched = make(gd);
  try_load(
      sched, input, [](auto& s) { step_once(s); }, check);
}

/// A scheduler over an SGD with momentum, which cycle_momentum needs.
template <typename Make>
void momentum_scheduler(const std::string& input, const Make& make, const Check& check) {
  descent::SGD<double>::Options o;
  o.momentum = 0.9;
  descent::SGD<double> sgd(o);
  auto sched = make(sgd);
  try_load(
      sched, input, [](auto& s) { step_once(s); }, check);
}

/// The composites, whose checkpoints hold their children's.
inline void composites(const std::string& input, const Check& check) {
  descent::GradientDescent<double> gd;
  descent::LinearLR<double> warmup(gd, 0.1, 1.0, 5);
  descent::CosineAnnealingLR<double> cosine(gd, 20);
  descent::SequentialLR<double> sequential({&warmup, &cosine}, {5});
  try_load(
      sequential, input, [](auto& s) { step_once(s); }, check);
  descent::ConstantLR<double> constant(gd, 0.5, 3);
  descent::ExponentialLR<double> exponential(gd, 0.9);
  descent::ChainedScheduler<double> chained({&constant, &exponential});
  try_load(
      chained, input, [](auto& s) { step_once(s); }, check);
}

/// Every optimizer class in scalar S, LBFGS<S>, WeightAverage<S> and
/// ScheduleFree<S>. (The fuzzer compiles the float ones in a file of their
/// own, beside the rest.)
template <typename S>
void optimizer_targets(const std::string& input, const Check& check) {
  descent::detail::for_each_optimizer<S>(
      [&](const auto&, auto tag) { optimizer<typename decltype(tag)::type>(input, check); });
  lbfgs<S>(input, check);
  weight_average<S>(input, check);
  schedule_free<S>(input, check);
}

inline void all_targets(const std::string& input, const Check& check) {
  using O = descent::Optimizer<double>;
  optimizer_targets<float>(input, check);
  optimizer_targets<double>(input, check);
  scheduler(
      input, [](O& o) { return descent::StepLR<double>(o, 3); }, check);
  scheduler(
      input,
      [](O& o) {
        return descent::LambdaLR<double>(o, [](std::int64_t e) { return 1.0 / (double(e) + 1.0); });
      },
      check);
  scheduler(
      input,
      [](O& o) {
        return descent::MultiStepLR<double>(o, {2, 5});
      },
      check);
  scheduler(
      input, [](O& o) { return descent::ExponentialLR<double>(o, 0.9); }, check);
  scheduler(
      input, [](O& o) { return descent::CosineAnnealingLR<double>(o, 10, 0.001); }, check);
  scheduler(
      input, [](O& o) { return descent::LinearLR<double>(o); }, check);
  scheduler(
      input, [](O& o) { return descent::ConstantLR<double>(o); }, check);
  scheduler(
      input, [](O& o) { return descent::OneCycleLR<double>(o, 0.1, 20); }, check);
  scheduler(
      input, [](O& o) { return descent::ReduceLROnPlateau<double>(o); }, check);
  scheduler(
      input, [](O& o) { return descent::SWALR<double>(o, 0.05, 5); }, check);
  scheduler(
      input,
      [](O& o) { return descent::MultiplicativeLR<double>(o, [](std::int64_t) { return 0.9; }); },
      check);
  scheduler(
      input, [](O& o) { return descent::PolynomialLR<double>(o, 10, 2.0); }, check);
  scheduler(
      input, [](O& o) { return descent::CosineAnnealingWarmRestarts<double>(o, 3, 2, 0.001); },
      check);
  scheduler(
      input, [](O& o) { return descent::CyclicLR<double>(o, 0.01, 0.1); }, check);
  scheduler(
      input, [](O& o) { return descent::WarmupCosineLR<double>::optax(o, 0.0, 0.1, 5, 20); },
      check);
  momentum_scheduler(
      input,
      [](O& o) {
        descent::CyclicLR<double>::Options c;
        c.cycle_momentum = true;
        return descent::CyclicLR<double>(o, 0.01, 0.1, c);
      },
      check);
  momentum_scheduler(
      input,
      [](O& o) {
        descent::OneCycleLR<double>::Options c;
        c.cycle_momentum = true;
        return descent::OneCycleLR<double>(o, 0.1, 20, c);
      },
      check);
  wrapper<descent::Lookahead<double>, descent::Adam<double>>(input, check);
  wrapper<descent::GradientAccumulation<float>, descent::SGD<float>>(input, check);
  mixed_precision<Eigen::half>(input, check);
  mixed_precision<Eigen::bfloat16>(input, check);
  loss_scaler(input, check);
  param_groups(input, check);
  composites(input, check);
}

/// Values that probe a field's limits, as the 8 bytes of an i64 or f64.
inline const std::uint64_t kExtremes64[] = {
    0,
    1,
    ~std::uint64_t{0},       // −1
    0x7FFFFFFFFFFFFFFFull,   // INT64_MAX
    0x7FFFFFFFFFFFFFFEull,   // INT64_MAX − 1
    0x8000000000000000ull,   // INT64_MIN, or −0.0
    std::uint64_t{1} << 62,  // a state size no memory holds
    0x7FF8000000000000ull,   // NaN
    0xFFF0000000000000ull,   // −inf
    0x7FF0000000000000ull,   // +inf
    0xBFF0000000000000ull,   // −1.0
    0x7FEFFFFFFFFFFFFFull,   // the largest double
    0x0000000000000001ull,   // the smallest subnormal
};
/// ... and as the 4 bytes of a u32 count.
inline const std::uint32_t kExtremes32[] = {0, 1, 2, 0x7FFFFFFFu, 0xFFFFFFFFu};

/// The input with `width` bytes at `at` replaced by `value` (little-endian)
/// and its checksum recomputed.
inline std::string with_field(std::string bytes, std::size_t at, std::uint64_t value, int width) {
  for (int b = 0; b < width && at + std::size_t(b) + 4 < bytes.size(); ++b) {
    bytes[at + std::size_t(b)] = static_cast<char>(value >> (8 * b));
  }
  reseal(bytes);
  return bytes;
}

}  // namespace checkpoint_targets
