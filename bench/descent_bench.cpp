// descent_bench: one optimizer step, timed for every optimizer variant, size
// and scalar type, beside what it is measured against. Benchmark names are
// variant/scalar/contender/N, e.g. adam/float/descent/1048576, where the
// contender is one of
//   descent      descent's step with one thread (the default)
//   descent_t2   descent's step after set_threads(2) (when descent has it)
//   floor        the byte floor (floor.hpp): the same arrays read and written,
//                in the same passes
//   compute      the compute floor (roofline.hpp): the update's square roots
//                and divisions alone, on L1-resident data (optimizers with any)
//   naive        the update in naive Eigen, one statement per array (naive.hpp)
//   libtorch_t1, libtorch_t2
//                torch::optim's optimizer under at::set_num_threads(1) or (2),
//                for the variants libtorch computes alike (torch_peer.hpp)
// bench/compare runs this binary and prints ratios of the medians.
//
// With --roofline (bench/compare --roofline) the binary registers instead one
// benchmark per variant, scalar and N, named variant/scalar/roofline/N, that
// times descent's step, the byte floor and the compute floor in turns, a
// batch of each per round, and reports the median over the rounds of each
// round's roofline fraction max(floor, compute) / descent (measure_roofline).
// With --roofline-own-memory the same, named variant/scalar/roofline_own_memory/N,
// with the byte floor run on descent's own x, g and state, for the variants
// whose floor can be (own_slots): one pass, no state that must stay
// nonnegative.

#include "floor.hpp"
#include "naive.hpp"
#include "roofline.hpp"
#include "stepper.hpp"
#include "torch_peer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <benchmark/benchmark.h>
#include <descent/adamw.hpp>
#include <descent/descent.hpp>

namespace bench {
namespace {

// descent::Optimizer<S>::set_threads(int) is new; time descent_t2 only where
// the checkout has it.
template <typename T, typename = void>
struct has_set_threads : std::false_type {};
template <typename T>
struct has_set_threads<T, std::void_t<decltype(std::declval<T&>().set_threads(2))>>
    : std::true_type {};
constexpr bool kDescentThreads = has_set_threads<descent::Optimizer<float>>::value;

#ifdef DESCENT_BENCH_HAVE_TORCH
constexpr bool kTorch = true;
#else
constexpr bool kTorch = false;
#endif

constexpr Index kSizes[] = {4096, 65536, 1 << 20, 1 << 24, 1 << 26};

template <typename S>
using OptimizerPtr = std::unique_ptr<descent::Optimizer<S>>;

/// One row of the table: an optimizer with one set of options, and everything
/// it is measured against.
template <typename S>
struct Variant {
  std::string name;
  /// Arrays read and written besides params and grad (0 to 3).
  int state_arrays;
  std::function<OptimizerPtr<S>()> make_descent;
  /// The passes of its byte floor.
  Floor floor;
  /// The packet square roots and divisions of its update per element, and
  /// the kernel that does only those (nullptr if none).
  Ops ops;
  ComputeKernel<S> compute;
  std::function<void(Buffers<S>&, std::int64_t t)> naive;
  /// libtorch's optimizer computing the same update, if any.
  std::optional<TorchSpec> torch;
  /// The variant this one adds an option to (bench/compare --costs divides by
  /// it), or empty for a plain optimizer.
  std::string plain;
  /// Calls f(data, size, nonnegative) for each state array of an optimizer
  /// make_descent made (descent::detail::for_each_state_array).
  std::function<void(descent::Optimizer<S>&, const std::function<void(S*, Index, bool)>& f)>
      visit_state;

  /// Bytes a step must move per element: its floor's (each array read once
  /// and each written array written once per pass).
  int bytes_per_element() const { return floor.bytes(int(sizeof(S))); }
};

/// The packet square roots and divisions per element of Opt's update, as
/// its kernel computes it (the roots of ε placements, the one division by
/// the denominator); none for the others.
template <typename Opt>
struct UpdateOps {
  static Ops of(const typename Opt::Options&) { return {}; }
};
template <typename Opt>
struct RootAndDivision {
  static Ops of(const typename Opt::Options&) { return {1, 1}; }
};
template <typename S>
struct UpdateOps<descent::AdaGrad<S>> : RootAndDivision<descent::AdaGrad<S>> {};
template <typename S>
struct UpdateOps<descent::RMSprop<S>> : RootAndDivision<descent::RMSprop<S>> {};
template <typename S>
struct UpdateOps<descent::Adam<S>> : RootAndDivision<descent::Adam<S>> {};
template <typename S>
struct UpdateOps<descent::AdamW<S>> : RootAndDivision<descent::AdamW<S>> {};
template <typename S>
struct UpdateOps<descent::NAdam<S>> : RootAndDivision<descent::NAdam<S>> {};
template <typename S>
struct UpdateOps<descent::RAdam<S>> : RootAndDivision<descent::RAdam<S>> {};  // once rectified
template <typename S>
struct UpdateOps<descent::AdaBelief<S>> : RootAndDivision<descent::AdaBelief<S>> {};
template <typename S>
struct UpdateOps<descent::SparseAdam<S>> : RootAndDivision<descent::SparseAdam<S>> {};
// LAMB: Adam's root and division, in its first pass; the norms' squares and
// sums and the second pass's products are not in the compute floor.
template <typename S>
struct UpdateOps<descent::LAMB<S>> : RootAndDivision<descent::LAMB<S>> {};
template <typename S>
struct UpdateOps<descent::Adamax<S>> {
  static Ops of(const typename descent::Adamax<S>::Options&) { return {0, 1}; }
};
template <typename S>
struct UpdateOps<descent::Adadelta<S>> {  // √(u + ε) / √(v + ε)
  static Ops of(const typename descent::Adadelta<S>::Options&) { return {2, 1}; }
};
// 1/√max(V̂, ε₁²) twice per element: once for RMS(U), once for the update
// (a matrix's V̂ = R_i·C_j/mean adds a division each time).
template <typename S>
struct UpdateOps<descent::Adafactor<S>> {
  static Ops of(const typename descent::Adafactor<S>::Options&) { return {2, 2}; }
};

/// The passes of a floor, after a read of all of g where the non-finite
/// policy checks it before writing anything (Skip, Throw).
template <typename Options>
Floor checked_floor(const Options& o, std::vector<Pass> passes) {
  if (o.nonfinite != descent::NonFinite::Propagate) passes.insert(passes.begin(), {{}, {kG}, {}});
  return {std::move(passes)};
}

/// The floor of Opt's step with options o and K state arrays (floor.hpp):
/// one pass, unless its update needs whole-tensor quantities first.
template <typename Opt>
struct FloorOf {
  static Floor of(const typename Opt::Options& o, int state_arrays) {
    return checked_floor(o, {one_pass(state_arrays)});
  }
};
// LARS with the trust ratio: the norms of x and g, then SGD with momentum's
// pass.
template <typename S>
struct FloorOf<descent::LARS<S>> {
  static Floor of(const typename descent::LARS<S>::Options& o, int state_arrays) {
    if (!o.trust_ratio_mask) return checked_floor(o, {one_pass(state_arrays)});
    return checked_floor(o, {{{}, {kX, kG}, {}}, one_pass(state_arrays)});
  }
};
// LAMB: x, g, m, v read, m, v and the raw update u written (the norms of x
// and u summed on the way); then x and u read, x written.
template <typename S>
struct FloorOf<descent::LAMB<S>> {
  static Floor of(const typename descent::LAMB<S>::Options& o, int) {
    return checked_floor(o, {{{kS0, kS1}, {kX, kG}, {kS2}}, {{kX}, {kS2}, {}}});
  }
};
// Adafactor on a vector (a full V): x read (RMS(θ)); g, v read and v written
// (RMS of the update); x, g, v read and x written.
template <typename S>
struct FloorOf<descent::Adafactor<S>> {
  static Floor of(const typename descent::Adafactor<S>::Options& o, int) {
    return checked_floor(o, {{{}, {kX}, {}}, {{kS0}, {kG}, {}}, {{kX}, {kG, kS0}, {}}});
  }
};

/// A Variant for optimizer Opt with options o.
template <typename Opt>
Variant<typename Opt::Scalar> variant(std::string name, const typename Opt::Options& o,
                                      std::optional<TorchSpec> torch = std::nullopt,
                                      std::string plain = {}) {
  using S = typename Opt::Scalar;
  const int state_arrays = Naive<Opt>::state_arrays(o);
  const Ops ops = UpdateOps<Opt>::of(o);
  return {std::move(name),
          state_arrays,
          [o] { return std::make_unique<Opt>(o); },
          FloorOf<Opt>::of(o, state_arrays),
          ops,
          compute_for<S>(ops),
          [o](Buffers<S>& b, std::int64_t t) { Naive<Opt>::step(o, b, t); },
          torch,
          std::move(plain),
          [](descent::Optimizer<S>& optimizer, const std::function<void(S*, Index, bool)>& f) {
            descent::detail::for_each_state_array(dynamic_cast<Opt&>(optimizer), f);
          }};
}

/// Every optimizer with its default options, plus the options that add a state
/// array or change the kernel; each variant names the one it adds an option to.
template <typename S>
std::vector<Variant<S>> variants() {
  using namespace descent;
  constexpr auto kInside = EpsPlacement::InsideSqrt;
  constexpr auto kOutside = EpsPlacement::OutsideSqrt;
  typename SGD<S>::Options sgd_momentum, sgd_nesterov;
  sgd_momentum.momentum = sgd_nesterov.momentum = S(0.9);
  sgd_nesterov.nesterov = true;
  typename AdaGrad<S>::Options adagrad_inside;
  adagrad_inside.eps_placement = kInside;
  typename RMSprop<S>::Options rmsprop_outside;
  rmsprop_outside.eps_placement = kOutside;
  typename Adam<S>::Options adam_outside;
  adam_outside.eps_placement = kOutside;
  // The nonfinite check (one more read of g) on a memory-bound and a
  // compute-bound kernel; beside the plain variants, the ratio is its cost.
  auto sgd_momentum_checked = sgd_momentum;
  sgd_momentum_checked.nonfinite = NonFinite::Skip;
  typename Adam<S>::Options adam_checked;
  adam_checked.nonfinite = NonFinite::Skip;
  // libtorch computes the same update as these: SGD's b ← μb + g, θ ← θ − lr·b
  // is the Keras form up to rounding; Adagrad, RMSprop and Adam put eps
  // outside the root.
  const auto torch = [](TorchOptimizer kind, S lr, S momentum = 0) -> std::optional<TorchSpec> {
    if (!kTorch) return std::nullopt;
    return TorchSpec{kind, double(lr), double(momentum)};
  };
  using T = TorchOptimizer;
  // The variants that add an array or work, with eps outside the root (where
  // Adam and RMSprop have an option libtorch shares, PyTorch's placement), so
  // that libtorch computes the same update and each is beside the plain
  // adam_outside or rmsprop_outside.
  auto adam_amsgrad = adam_outside;
  adam_amsgrad.amsgrad = true;
  // L2 decay. Under the fixed gradient θ settles where g + λθ = 0 and m and v
  // decay into the subnormals, which cost a microcode assist per operation:
  // at λ = 0.01 about 80% of them were subnormal after 2.6·10⁵ steps (the
  // step then took twice as long); at 10⁻⁴ θ is still far from −g/λ after 10⁶.
  auto adam_weight_decay = adam_outside;
  adam_weight_decay.weight_decay = S(1e-4);
  const typename AdamW<S>::Options adamw;  // decoupled λ = 0.01, eps outside
  // With a fixed gradient the centered variance v − ḡ² = ρᵗ(1 − ρᵗ)·g² tends
  // to 0, and rounding then makes it negative: at ρ = 0.99 the root gave NaN
  // within a few thousand steps, in float and double, here and in libtorch.
  // At ρ = 0.999999 it stays positive and well above rounding for the ~10⁶
  // steps of the longest run; the work per step does not depend on ρ.
  auto rmsprop_centered = rmsprop_outside;
  rmsprop_centered.centered = true;
  rmsprop_centered.rho = S(0.999999);
  auto rmsprop_momentum = rmsprop_outside;
  rmsprop_momentum.momentum = S(0.9);
  rmsprop_momentum.momentum_form = MomentumForm::PyTorch;
  auto rmsprop_centered_momentum = rmsprop_momentum;
  rmsprop_centered_momentum.centered = true;
  rmsprop_centered_momentum.rho = rmsprop_centered.rho;
  auto sgd_momentum_pytorch = sgd_momentum;
  sgd_momentum_pytorch.momentum_form = MomentumForm::PyTorch;
  auto sgd_weight_decay = sgd_momentum;
  sgd_weight_decay.weight_decay = S(1e-4);
  typename AdaGrad<S>::Options adagrad_lr_decay;
  adagrad_lr_decay.lr_decay = S(1e-4);
  const auto peer = [](TorchSpec spec) -> std::optional<TorchSpec> {
    if (!kTorch) return std::nullopt;
    return spec;
  };
  const auto rmsprop_peer = [&](const typename RMSprop<S>::Options& o) {
    TorchSpec spec{T::RMSprop, double(o.lr), double(o.momentum)};
    spec.alpha = double(o.rho);
    spec.centered = o.centered;
    return peer(spec);
  };
  TorchSpec amsgrad_peer{T::Adam, double(adam_amsgrad.lr)};
  amsgrad_peer.amsgrad = true;
  TorchSpec adam_weight_decay_peer{T::Adam, double(adam_weight_decay.lr)};
  adam_weight_decay_peer.weight_decay = double(adam_weight_decay.weight_decay);
  TorchSpec adamw_peer{T::AdamW, double(adamw.lr)};
  adamw_peer.weight_decay = double(adamw.weight_decay);
  TorchSpec sgd_weight_decay_peer{T::SgdMomentum, double(sgd_weight_decay.lr),
                                  double(sgd_weight_decay.momentum)};
  sgd_weight_decay_peer.weight_decay = double(sgd_weight_decay.weight_decay);
  typename Adafactor<S>::Options adafactor_bounded;
  adafactor_bounded.weight_decay = S(1);
  typename LAMB<S>::Options lamb_bounded;
  lamb_bounded.weight_decay = S(0.01);
  typename LARS<S>::Options lars_bounded;
  lars_bounded.lr = S(1e-3);
  TorchSpec adagrad_lr_decay_peer{T::Adagrad, double(adagrad_lr_decay.lr)};
  adagrad_lr_decay_peer.lr_decay = double(adagrad_lr_decay.lr_decay);
  return {
      variant<GradientDescent<S>>("gradient_descent", {}),
      variant<SGD<S>>("sgd", {}),
      variant<SGD<S>>("sgd_momentum", sgd_momentum,
                      torch(T::SgdMomentum, sgd_momentum.lr, sgd_momentum.momentum)),
      variant<SGD<S>>("sgd_nesterov", sgd_nesterov),
      variant<Momentum<S>>("momentum", {}),
      variant<Nesterov<S>>("nesterov", {}),
      variant<AdaGrad<S>>("adagrad", {}, torch(T::Adagrad, typename AdaGrad<S>::Options{}.lr)),
      variant<AdaGrad<S>>("adagrad_inside", adagrad_inside),
      variant<RMSprop<S>>("rmsprop", {}),
      variant<RMSprop<S>>("rmsprop_outside", rmsprop_outside,
                          torch(T::RMSprop, rmsprop_outside.lr)),
      variant<Adam<S>>("adam", {}),
      variant<Adam<S>>("adam_outside", adam_outside, torch(T::Adam, adam_outside.lr)),
      variant<SGD<S>>("sgd_momentum_checked", sgd_momentum_checked, std::nullopt, "sgd_momentum"),
      variant<Adam<S>>("adam_checked", adam_checked, std::nullopt, "adam"),
      variant<Adam<S>>("adam_amsgrad", adam_amsgrad, peer(amsgrad_peer), "adam_outside"),
      variant<AdamW<S>>("adamw", adamw, peer(adamw_peer), "adam_outside"),
      variant<Adam<S>>("adam_weight_decay", adam_weight_decay, peer(adam_weight_decay_peer),
                       "adam_outside"),
      variant<RMSprop<S>>("rmsprop_centered", rmsprop_centered, rmsprop_peer(rmsprop_centered),
                          "rmsprop_outside"),
      variant<RMSprop<S>>("rmsprop_momentum", rmsprop_momentum, rmsprop_peer(rmsprop_momentum),
                          "rmsprop_outside"),
      variant<RMSprop<S>>("rmsprop_centered_momentum", rmsprop_centered_momentum,
                          rmsprop_peer(rmsprop_centered_momentum), "rmsprop_outside"),
      variant<SGD<S>>("sgd_momentum_pytorch", sgd_momentum_pytorch,
                      torch(T::SgdMomentum, sgd_momentum.lr, sgd_momentum.momentum),
                      "sgd_momentum"),
      variant<SGD<S>>("sgd_weight_decay", sgd_weight_decay, peer(sgd_weight_decay_peer),
                      "sgd_momentum"),
      variant<AdaGrad<S>>("adagrad_lr_decay", adagrad_lr_decay, peer(adagrad_lr_decay_peer),
                          "adagrad"),
      // torch.optim's other optimizers, which torch::optim 1.13 does not have.
      variant<Adamax<S>>("adamax", {}),
      variant<NAdam<S>>("nadam", {}),
      variant<RAdam<S>>("radam", {}),
      variant<Adadelta<S>>("adadelta", {}),
      variant<Rprop<S>>("rprop", {}),
      variant<ASGD<S>>("asgd", {}),
      // optax's Lion (Keras's too) and AdaBelief, which torch::optim 1.13 lacks too.
      variant<Lion<S>>("lion", {}),
      variant<AdaBelief<S>>("adabelief", {}),
      // torch.optim.SparseAdam's dense step (torch refuses dense gradients;
      // its sparse steps are timed on an embedding table below).
      variant<SparseAdam<S>>("sparse_adam", {}),
      // torch.optim.Adafactor on a vector (a full V; the bench's parameters
      // are flat), which torch::optim 1.13 does not have. Its step is
      // relative to RMS(θ): under the bench's fixed gradient the coordinates
      // that move against it grow by 1% a step and overflow within a few
      // 10⁴ steps, so a decoupled decay of lr·λ = 1% a step holds θ bounded.
      variant<Adafactor<S>>("adafactor", adafactor_bounded),
      // optax's LAMB and LARS: two passes over the tensor (its norms, then the
      // step), and so are their floors (FloorOf): LAMB also writes and reads
      // its raw update, 10 arrays moved; LARS reads θ and g twice, 7. Their
      // steps are relative to ‖θ‖: under the fixed gradient θ grows
      // geometrically, its squares overflow float within 10⁵ steps (and the
      // norms are then summed again in double, off the fast path). LAMB's
      // weight decay of 0.01 holds θ near |g|/λ. LARS's cannot: where
      // g + λθ comes to 0 its momentum decays into the subnormals and stays
      // there, a product with 0.9 rounding back to the same subnormal: 17% to
      // 70% of it after 2.6·10⁵ steps at λ from 10⁻⁵ to 10⁻². Its row uses
      // lr 10⁻³ instead (10 × lr × trust coefficient = 10⁻⁵ of
      // growth a step at most: max |θ| 7 after 2.5·10⁵ steps, 1.3·10⁴ after
      // 10⁶).
      variant<LAMB<S>>("lamb", lamb_bounded),
      variant<LARS<S>>("lars", lars_bounded),
  };
}

// The contenders.

template <typename S>
class DescentStepper final : public Stepper<S> {
 public:
  DescentStepper(OptimizerPtr<S> optimizer, Index n)
      : buffers_(n, 0), optimizer_(std::move(optimizer)) {}
  void step() override { optimizer_->step(buffers_.x, buffers_.g); }
  std::vector<Span<S>> written() const override { return buffers_.written(); }
  descent::Optimizer<S>& optimizer() { return *optimizer_; }
  Buffers<S>& buffers() { return buffers_; }

 private:
  Buffers<S> buffers_;
  OptimizerPtr<S> optimizer_;
};

/// The arrays of descent's step, by Slot (x, g, then its state arrays), if
/// its byte floor can run on them: one pass over x, g and exactly the state
/// arrays descent holds, each of n elements, none of them one whose elements
/// must stay nonnegative (the floor's a = t − a keeps every element finite,
/// but not its sign). Empty otherwise.
template <typename S>
std::vector<S*> own_slots(const Variant<S>& v, DescentStepper<S>& descent, Index n) {
  std::vector<S*> slots{descent.buffers().x.data(), descent.buffers().g.data()};
  bool usable = v.floor.passes.size() == 1;
  v.visit_state(descent.optimizer(), [&](S* data, Index size, bool nonnegative) {
    usable = usable && size == n && !nonnegative;
    slots.push_back(data);
  });
  if (!usable || int(slots.size()) != v.floor.slots()) slots.clear();
  return slots;
}

template <typename S>
class FloorStepper final : public Stepper<S> {
 public:
  /// The floor on arrays of its own, placed by Buffers.
  FloorStepper(const Floor& floor, Index n) : n_(n) {
    Buffers<S>& b = buffers_.emplace(n, floor.slots() - 2);
    set_up(floor, {b.x.data(), b.g.data(), b.s0.data(), b.s1.data(), b.s2.data()});
  }
  /// The floor on another contender's arrays, by Slot (own_slots).
  FloorStepper(const Floor& floor, Index n, const std::vector<S*>& slots) : n_(n) {
    set_up(floor, slots);
    for (std::size_t k = kS0; k < slots.size(); ++k) shared_state_.push_back({slots[k], n});
  }
  void step() override {
    for (const Run& run : runs_) sink_ += run.kernel(run.arrays.data(), n_);
    benchmark::DoNotOptimize(sink_);
  }
  /// (On another contender's arrays: their state; its written() has x.)
  std::vector<Span<S>> written() const override {
    return buffers_ ? buffers_->written() : shared_state_;
  }

 private:
  struct Run {
    PassKernel<S> kernel;
    std::vector<S*> arrays;
  };
  void set_up(const Floor& floor, const std::vector<S*>& slots) {
    for (const Pass& p : floor.passes) {
      Run run{pass_kernel<S>(p), {}};
      for (const auto* list : {&p.written, &p.read, &p.overwritten}) {
        for (const int slot : *list) run.arrays.push_back(slots[std::size_t(slot)]);
      }
      runs_.push_back(std::move(run));
    }
  }
  Index n_;
  std::optional<Buffers<S>> buffers_;
  std::vector<Span<S>> shared_state_;
  std::vector<Run> runs_;
  S sink_ = S(0);
};

template <typename S>
class NaiveStepper final : public Stepper<S> {
 public:
  NaiveStepper(std::function<void(Buffers<S>&, std::int64_t)> update, Index n, int state_arrays)
      : buffers_(n, state_arrays), update_(std::move(update)) {}
  void step() override { update_(buffers_, ++t_); }
  std::vector<Span<S>> written() const override { return buffers_.written(); }

 private:
  Buffers<S> buffers_;
  std::function<void(Buffers<S>&, std::int64_t)> update_;
  std::int64_t t_ = 0;
};

/// descent's optimizer, split across `threads` threads when it can be.
template <typename S>
OptimizerPtr<S> with_threads(OptimizerPtr<S> optimizer, int threads) {
  if constexpr (has_set_threads<descent::Optimizer<S>>::value) {
    if (threads != 1) optimizer->set_threads(threads);
  }
  return optimizer;
}

/// How many elements of the arrays are NaN, infinite or subnormal: any of them
/// would time slow paths rather than the update.
template <typename S>
Index count_unhealthy(const std::vector<Span<S>>& arrays) {
  constexpr S kMax = std::numeric_limits<S>::max();
  constexpr S kMin = std::numeric_limits<S>::min();
  Index bad = 0;
  for (const Span<S>& a : arrays) {
    for (Index i = 0; i < a.size; ++i) {
      const S v = std::abs(a.data[i]);
      bad += !(v <= kMax) || (v < kMin && v != 0);
    }
  }
  return bad;
}

/// The timed loop. The first step is taken before timing: it allocates the
/// state descent and libtorch build lazily and faults every page in.
template <typename S>
void measure(benchmark::State& state, Stepper<S>& stepper, Index n, int bytes_per_element) {
  stepper.step();
  for (auto _ : state) {
    stepper.step();
    benchmark::ClobberMemory();
  }
  if (const Index bad = count_unhealthy(stepper.written())) {
    state.SkipWithError(
        (std::to_string(bad) + " elements NaN, infinite or subnormal after the run").c_str());
    return;
  }
  const std::int64_t elements = std::int64_t(state.iterations()) * n;
  state.SetItemsProcessed(elements);
  state.SetBytesProcessed(elements * bytes_per_element);
  state.counters["elements"] = double(n);
}

/// Seconds per step of `steps` steps of a stepper.
template <typename S>
double seconds_per_step(Stepper<S>& stepper, int steps) {
  const auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < steps; ++k) {
    stepper.step();
    benchmark::ClobberMemory();
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return took.count() / steps;
}

/// The median of values (which it reorders); the mean of the middle two
/// for an even count.
inline double median(std::vector<double>& values) {
  const std::size_t m = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + std::ptrdiff_t(m), values.end());
  const double upper = values[m];
  if (values.size() % 2 == 1) return upper;
  return (*std::max_element(values.begin(), values.begin() + std::ptrdiff_t(m)) + upper) / 2;
}

/// Rounds of the paired roofline measurement: at least kMinRounds, then
/// more until kRoundSeconds have passed, at most kMaxRounds. A batch is
/// as many steps as take about kBatchSeconds of descent's time (one at the
/// large sizes).
constexpr int kMinRounds = 7, kMaxRounds = 101;
constexpr double kRoundSeconds = 1.5, kBatchSeconds = 2e-3;

/// descent's step, its byte floor and its compute floor (if it has one),
/// timed in turns on a machine that other work shares: each round times a
/// batch of each, in alternating order, and its fraction max(floor,
/// compute) / descent compares times taken within milliseconds of each
/// other. Reported: the median over the rounds of that fraction (counter
/// "roofline") and of its quartiles ("q1", "q3"), the median seconds per step
/// of each ("descent", "floor", "compute"), and "compute_bound", the share of
/// rounds where the compute floor was the larger.
///
/// With own_memory the byte floor runs on descent's own x, g and state
/// (own_slots) rather than on arrays of its own. Both then move the same
/// bytes at the same addresses: on the same physical pages, which a
/// physically indexed cache (this machine's 1 MiB L2) maps to its sets as
/// the kernel hands them out, the same for both.
template <typename S>
void measure_roofline(benchmark::State& state, const Variant<S>& v, Index n, bool own_memory) {
  DescentStepper<S> descent(v.make_descent(), n);
  std::optional<FloorStepper<S>> floor;
  if (own_memory) {
    descent.step();  // allocates descent's state
    const std::vector<S*> slots = own_slots(v, descent, n);
    if (slots.empty()) {  // (register_roofline checked this at another n)
      state.SkipWithError("the byte floor cannot run on descent's arrays at this n");
      return;
    }
    floor.emplace(v.floor, n, slots);
  } else {
    floor.emplace(v.floor, n);
  }
  std::unique_ptr<ComputeStepper<S>> compute;
  if (v.compute != nullptr) compute = std::make_unique<ComputeStepper<S>>(v.compute, n);
  std::vector<Stepper<S>*> contenders{&descent, &*floor};
  if (compute) contenders.push_back(compute.get());
  // One step each first: allocates descent's state (if not yet), faults
  // every page in.
  for (Stepper<S>* c : contenders) c->step();
  double one = seconds_per_step(descent, 1);
  for (int k = 0; k < 4; ++k) one = std::min(one, seconds_per_step(descent, 1));
  const int batch = int(std::clamp(kBatchSeconds / one, 1.0, 1e6));
  std::vector<std::vector<double>> seconds(contenders.size());
  std::vector<double> fractions;
  int compute_bound = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    for (int round = 0; round < kMaxRounds && (round < kMinRounds || elapsed() < kRoundSeconds);
         ++round) {
      double t[3] = {0, 0, 0};
      for (std::size_t k = 0; k < contenders.size(); ++k) {
        const std::size_t c = round % 2 == 0 ? k : contenders.size() - 1 - k;
        t[c] = seconds_per_step(*contenders[c], batch);
        seconds[c].push_back(t[c]);
      }
      compute_bound += t[2] > t[1];
      fractions.push_back(std::max(t[1], t[2]) / t[0]);
    }
    state.SetIterationTime(elapsed());
  }
  for (Stepper<S>* c : contenders) {
    if (const Index bad = count_unhealthy(c->written())) {
      state.SkipWithError(
          (std::to_string(bad) + " elements NaN, infinite or subnormal after the run").c_str());
      return;
    }
  }
  const auto rounds = fractions.size();
  std::vector<double> sorted = fractions;
  std::sort(sorted.begin(), sorted.end());
  state.counters["roofline"] = median(fractions);
  state.counters["q1"] = sorted[(rounds - 1) / 4];
  state.counters["q3"] = sorted[(3 * (rounds - 1) + 3) / 4];
  const char* names[] = {"descent", "floor", "compute"};
  for (std::size_t c = 0; c < contenders.size(); ++c) state.counters[names[c]] = median(seconds[c]);
  state.counters["compute_bound"] = double(compute_bound) / double(rounds);
  state.counters["rounds"] = double(rounds);
  state.counters["batch"] = double(batch);
  state.counters["elements"] = double(n);
  state.counters["bytes_per_element"] = double(v.bytes_per_element());
}

/// The paired roofline benchmarks of a variant: variant/scalar/roofline/N,
/// or with own_memory variant/scalar/roofline_own_memory/N, for the
/// variants whose floor can run on descent's arrays (own_slots).
template <typename S>
void register_roofline(const Variant<S>& v, const char* scalar, bool own_memory) {
  if (own_memory) {
    constexpr Index kProbe = 64;
    DescentStepper<S> probe(v.make_descent(), kProbe);
    probe.step();
    if (own_slots(v, probe, kProbe).empty()) return;
  }
  for (const Index n : kSizes) {
    const std::string name = v.name + "/" + scalar +
                             (own_memory ? "/roofline_own_memory/" : "/roofline/") +
                             std::to_string(n);
    benchmark::RegisterBenchmark(
        name.c_str(),
        [=](benchmark::State& state) { measure_roofline<S>(state, v, n, own_memory); })
        ->Iterations(1)
        ->Repetitions(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

template <typename S>
void register_variant(const Variant<S>& v, const char* scalar) {
  for (const Index n : kSizes) {
    const auto add = [&](const char* contender, auto make_stepper) {
      const std::string name = v.name + "/" + scalar + "/" + contender + "/" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=, bytes = v.bytes_per_element()](benchmark::State& state) {
                                     const auto stepper = make_stepper();
                                     measure<S>(state, *stepper, n, bytes);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    };
    add("descent", [v, n] { return std::make_unique<DescentStepper<S>>(v.make_descent(), n); });
    if (kDescentThreads) {
      add("descent_t2", [v, n] {
        return std::make_unique<DescentStepper<S>>(with_threads(v.make_descent(), 2), n);
      });
    }
    add("floor", [v, n] { return std::make_unique<FloorStepper<S>>(v.floor, n); });
    if (v.compute != nullptr) {
      add("compute", [v, n] { return std::make_unique<ComputeStepper<S>>(v.compute, n); });
    }
    add("naive", [v, n] { return std::make_unique<NaiveStepper<S>>(v.naive, n, v.state_arrays); });
#ifdef DESCENT_BENCH_HAVE_TORCH
    if (v.torch) {
      add("libtorch_t1", [v, n] { return make_torch_stepper<S>(*v.torch, n, 1); });
      add("libtorch_t2", [v, n] { return make_torch_stepper<S>(*v.torch, n, 2); });
    }
#endif
  }
}

// An embedding table of 1M rows of 64 floats (256 MiB per array), of which a
// step's gradient touches 1 % of the rows, 10 000 distinct ones: the sparse
// steps (SparseAdam, AdaGrad) against the dense steps of the whole table
// (Adam with eps outside the root, torch.optim.Adam's, and SparseAdam's
// own dense step). Named embedding/float/<step>/1000000x64.
constexpr Index kTableRows = 1000000, kTableCols = 64, kTouchedRows = 10000;
using TableF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// kTouchedRows distinct rows, spread over the table: increasing, or in a
/// fixed shuffled order (as a batch's tokens come).
Eigen::Matrix<Index, Eigen::Dynamic, 1> touched_rows(bool shuffled) {
  Eigen::Matrix<Index, Eigen::Dynamic, 1> rows(kTouchedRows);
  for (Index k = 0; k < kTouchedRows; ++k) rows(k) = k * (kTableRows / kTouchedRows) + k % 97;
  if (shuffled) {
    std::uint64_t state = 12345;  // a fixed Fisher–Yates shuffle (splitmix64)
    for (Index k = kTouchedRows - 1; k > 0; --k) {
      state += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      std::swap(rows(k), rows(Index((z ^ (z >> 31)) % std::uint64_t(k + 1))));
    }
  }
  return rows;
}

template <typename Opt>
void embedding_sparse(benchmark::State& state, bool shuffled) {
  TableF table = TableF::Constant(kTableRows, kTableCols, 0.5f);
  descent::RowSparse<float> grad;
  grad.indices = touched_rows(shuffled);
  grad.rows = TableF::Random(kTouchedRows, kTableCols);
  Opt opt;
  opt.step(table, grad);  // builds the state, faults every page in
  for (auto _ : state) {
    opt.step(table, grad);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()) * kTouchedRows * kTableCols);
}

template <typename Opt>
void embedding_dense(benchmark::State& state, typename Opt::Options options) {
  TableF table = TableF::Constant(kTableRows, kTableCols, 0.5f);
  const TableF grad = TableF::Random(kTableRows, kTableCols);
  Opt opt(options);
  opt.step(table, grad);
  for (auto _ : state) {
    opt.step(table, grad);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()) * kTableRows * kTableCols);
}

void register_embedding() {
  const std::string size = "/" + std::to_string(kTableRows) + "x" + std::to_string(kTableCols);
  const auto add = [&](const char* step, auto body) {
    benchmark::RegisterBenchmark(("embedding/float/" + std::string(step) + size).c_str(), body)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  add("sparse_adam_rows",
      [](benchmark::State& s) { embedding_sparse<descent::SparseAdam<float>>(s, true); });
  add("sparse_adam_rows_sorted",
      [](benchmark::State& s) { embedding_sparse<descent::SparseAdam<float>>(s, false); });
  add("adagrad_rows",
      [](benchmark::State& s) { embedding_sparse<descent::AdaGrad<float>>(s, true); });
  add("adam_dense", [](benchmark::State& s) {
    embedding_dense<descent::Adam<float>>(s, descent::Adam<float>::Options::pytorch());
  });
  add("sparse_adam_dense",
      [](benchmark::State& s) { embedding_dense<descent::SparseAdam<float>>(s, {}); });
}

// A network's worth of tensors: 60 of 256 to 65 536 floats, 397 312 in all,
// in an order that mixes large and small as a network's layers do, each its
// own allocation. A ParamGroups step over them (two groups, as weights and
// biases) against one step of the same number of elements as one flat
// vector, with the same optimizer. Named network/float/<optimizer>/<form>/
// <threads>t, form grouped or flat.
std::vector<Index> network_sizes() {
  std::vector<Index> sizes;
  const std::pair<Index, int> counts[] = {{65536, 2}, {32768, 2}, {16384, 5}, {8192, 6}, {4096, 8},
                                          {2048, 9},  {1024, 12}, {512, 8},   {256, 8}};
  for (const auto& [size, count] : counts) sizes.insert(sizes.end(), std::size_t(count), size);
  std::vector<Index> mixed(sizes.size());
  for (std::size_t k = 0; k < sizes.size(); ++k) mixed[k * 37 % sizes.size()] = sizes[k];
  return mixed;
}

template <typename Opt>
void network_step(benchmark::State& state, bool grouped, int threads) {
  using Vec = Eigen::VectorXf;
  const std::vector<Index> sizes = network_sizes();
  Index total = 0;
  for (const Index n : sizes) total += n;
  typename Opt::Options options = Opt::Options::pytorch();
  if (grouped) {
    std::vector<Vec> x, g;
    for (const Index n : sizes) {
      x.push_back(Vec::Constant(n, 0.5f));
      g.push_back(Vec::Random(n));
    }
    auto no_decay = options;
    no_decay.weight_decay = 0;
    descent::ParamGroups<float> opt({{Opt(options), 30}, {Opt(no_decay), 30}});
    opt.set_threads(threads);
    std::vector<descent::ParamGrad<float>> list;
    for (std::size_t k = 0; k < sizes.size(); ++k) list.emplace_back(x[k], g[k]);
    opt.step(list);
    for (auto _ : state) {
      opt.step(list);
      benchmark::ClobberMemory();
    }
  } else {
    Vec x = Vec::Constant(total, 0.5f);
    const Vec g = Vec::Random(total);
    Opt opt(options);
    opt.set_threads(threads);
    opt.step(x, g);
    for (auto _ : state) {
      opt.step(x, g);
      benchmark::ClobberMemory();
    }
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()) * total);
  state.counters["tensors"] = grouped ? double(sizes.size()) : 1.0;
}

void register_network() {
  for (const int threads : {1, 2}) {
    for (const bool grouped : {true, false}) {
      const std::string name = std::string("network/float/adam/") +
                               (grouped ? "grouped/" : "flat/") + std::to_string(threads) + "t";
      benchmark::RegisterBenchmark(name.c_str(),
                                   [grouped, threads](benchmark::State& s) {
                                     network_step<descent::Adam<float>>(s, grouped, threads);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

// Muon's step on a float matrix, whose time is Newton–Schulz's products,
// beside Eigen's own products of one of its iterations on the same shapes:
// X·Xᵀ (m×k by k×m), G·G (m×m) and P·X (m×m by m×k), m = min(rows, cols),
// k = max(rows, cols); 4m²k + 2m³ flops each, five iterations a step. Eigen
// runs its products on one thread (Eigen::setNbThreads(1), which matters
// where the bench is built with OpenMP). Named muon/float/<what>/<rows>x<cols>,
// where what is descent (the whole step) or eigen_gemm (the three products);
// the counter GFLOPS is the products' flops per second.
double ns_flops(Index rows, Index cols) {
  const double m = double(std::min(rows, cols)), k = double(std::max(rows, cols));
  return 4 * m * m * k + 2 * m * m * m;
}

void muon_step(benchmark::State& state, Index rows, Index cols) {
  Eigen::setNbThreads(1);
  using M = Eigen::MatrixXf;
  M w = M::Random(rows, cols);
  const M g = M::Random(rows, cols);
  descent::Muon<float>::Options o;
  o.lr = 1e-6f;  // keeps w where it is, over many steps
  descent::Muon<float> muon(o);
  muon.step(w, g);  // builds the state and the work matrices
  for (auto _ : state) {
    muon.step(w, g);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(double(state.iterations()) * o.ns_steps * ns_flops(rows, cols) / 1e9,
                         benchmark::Counter::kIsRate);
}

void muon_gemm(benchmark::State& state, Index rows, Index cols) {
  Eigen::setNbThreads(1);
  using M = Eigen::MatrixXf;
  const Index m = std::min(rows, cols), k = std::max(rows, cols);
  M x = M::Random(m, k);
  x /= x.norm();
  M gram(m, m), poly(m, m), next(m, k);
  for (auto _ : state) {
    gram.noalias() = x * x.transpose();
    poly.noalias() = gram * gram;
    next.noalias() = poly * x;
    benchmark::DoNotOptimize(next.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(
      double(state.iterations()) * ns_flops(rows, cols) / 1e9, benchmark::Counter::kIsRate);
}

void register_muon() {
  for (const auto& [rows, cols] : {std::pair<Index, Index>{1024, 1024}, {4096, 1024}}) {
    const std::string size = "/" + std::to_string(rows) + "x" + std::to_string(cols);
    benchmark::RegisterBenchmark(
        ("muon/float/descent" + size).c_str(),
        [rows = rows, cols = cols](benchmark::State& s) { muon_step(s, rows, cols); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(
        ("muon/float/eigen_gemm" + size).c_str(),
        [rows = rows, cols = cols](benchmark::State& s) { muon_gemm(s, rows, cols); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

/// The byte floor of a step with two bfloat16 state arrays: x and g as
/// Buffers places them, the two 16-bit arrays in one block, the second
/// offset as Buffers offsets its arrays, so that their streams do not alias.
class FloorBf16Stepper final : public Stepper<float> {
 public:
  explicit FloorBf16Stepper(Index n)
      : buffers_(n, 0), state_(std::size_t(2 * n + kGap), 0), n_(n) {}
  void step() override {
    floor_kernel_bf16(buffers_.x.data(), buffers_.g.data(), state_.data(),
                      state_.data() + n_ + kGap, n_);
  }
  std::vector<Span<float>> written() const override { return buffers_.written(); }

 private:
  static constexpr Index kGap = (3 * 4096 + 1088) / 2;  // elements
  Buffers<float> buffers_;
  std::vector<std::uint16_t> state_;
  Index n_;
};

/// Adam with its moments stored as bfloat16 (state_storage BFloat16) against
/// float moments, each with its byte floor: 20 bytes per element where float
/// moves 28. Named adam_state/float/<contender>/<n>: f32 and bf16 (descent),
/// f32_floor and bf16_floor.
void register_bf16_state() {
  for (const Index n : kSizes) {
    const auto add = [n](const char* contender, int bytes, auto make_stepper) {
      const std::string name =
          "adam_state/float/" + std::string(contender) + "/" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=](benchmark::State& state) {
                                     const auto stepper = make_stepper();
                                     measure<float>(state, *stepper, n, bytes);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    };
    descent::Adam<float>::Options bf16;
    bf16.state_storage = descent::StateStorage::BFloat16;
    add("f32", 28, [n] {
      return std::make_unique<DescentStepper<float>>(std::make_unique<descent::Adam<float>>(), n);
    });
    add("bf16", 20, [n, bf16] {
      return std::make_unique<DescentStepper<float>>(std::make_unique<descent::Adam<float>>(bf16),
                                                     n);
    });
    add("f32_floor", 28,
        [n] { return std::make_unique<FloorStepper<float>>(Floor{{one_pass(2)}}, n); });
    add("bf16_floor", 20, [n] { return std::make_unique<FloorBf16Stepper>(n); });
  }
}

/// "variant:plain,..." for every variant that names its plain one, for
/// bench/compare --costs (also in a file saved from an earlier run).
void add_plain_context() {
  std::string pairs;
  for (const auto& v : variants<float>()) {
    if (v.plain.empty()) continue;
    pairs += (pairs.empty() ? "" : ",") + v.name + ":" + v.plain;
  }
  benchmark::AddCustomContext("plain_variants", pairs);
}

void add_context() {
  const auto version = [](int major, int minor, int patch) {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  };
  benchmark::AddCustomContext(
      "descent_version",
      version(DESCENT_VERSION_MAJOR, DESCENT_VERSION_MINOR, DESCENT_VERSION_PATCH));
  benchmark::AddCustomContext(
      "eigen_version", version(EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION));
  benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
  benchmark::AddCustomContext("compile_flags", DESCENT_BENCH_FLAGS);
  add_plain_context();
#ifdef NDEBUG
  benchmark::AddCustomContext("assertions", "off");
#else
  benchmark::AddCustomContext("assertions", "ON (not a release build: timings are not meaningful)");
#endif
#ifdef _OPENMP
  benchmark::AddCustomContext("openmp", std::to_string(_OPENMP));
#else
  benchmark::AddCustomContext("openmp", "no");
#endif
  benchmark::AddCustomContext(
      "descent_t2",
      kDescentThreads ? "set_threads(2)" : "not timed: descent::Optimizer has no set_threads");
#ifdef DESCENT_BENCH_HAVE_TORCH
  benchmark::AddCustomContext("libtorch", torch_version());
#else
  benchmark::AddCustomContext("libtorch", "not built in (libtorch not found)");
#endif
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  // --roofline: the paired roofline benchmarks alone (measure_roofline);
  // --roofline-own-memory: those whose floor runs on descent's own arrays.
  bool roofline = false, own_memory = false;
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg != "--roofline" && arg != "--roofline-own-memory") continue;
    roofline = true;
    own_memory = arg == "--roofline-own-memory";
    std::copy(argv + k + 1, argv + argc + 1, argv + k);  // argv[argc] is nullptr
    --argc;
    break;
  }
  if (roofline) {
    for (const auto& v : bench::variants<float>()) bench::register_roofline(v, "float", own_memory);
    for (const auto& v : bench::variants<double>()) {
      bench::register_roofline(v, "double", own_memory);
    }
  } else {
    for (const auto& v : bench::variants<float>()) bench::register_variant(v, "float");
    for (const auto& v : bench::variants<double>()) bench::register_variant(v, "double");
    bench::register_embedding();
    bench::register_network();
    bench::register_muon();
    bench::register_bf16_state();
  }
  bench::add_context();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
