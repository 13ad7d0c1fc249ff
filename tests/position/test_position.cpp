// Position independence: an element's update is the same bits wherever it
// falls (a SIMD packet, a loop tail, a thread chunk, a segment of a larger
// vector), for every optimizer and variant. Compiled on its own with
// -O3 -march=native -ffp-contract=fast (see CMakeLists.txt), where the
// compiler is freest to fuse a multiply and an add differently in the
// packet loop and in the tail.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/descent.hpp>

// The scalar types the tests run in: float and double, or float alone in
// the sanitizer presets (DESCENT_POSITION_TESTS_DOUBLE off), which look for
// memory errors in these -march=native kernels: double's are the same
// templates in packets of half as many lanes.
#ifndef DESCENT_POSITION_SCALARS
#define DESCENT_POSITION_SCALARS float, double
#endif

namespace {

template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

template <typename S>
struct Variant {
  std::string label;
  std::function<std::unique_ptr<descent::Optimizer<S>>()> make;
};

/// o, then o with L2 weight decay, with decoupled weight decay, and with
/// maximize: every optimizer's kernel with and without its gradient
/// adjustment.
template <typename Opt>
void add(std::vector<Variant<typename Opt::Scalar>>& list, const std::string& label,
         const typename Opt::Options& o) {
  using S = typename Opt::Scalar;
  auto l2 = o, decoupled = o, maximize = o;
  l2.weight_decay = S(0.03);
  l2.decoupled_weight_decay = false;
  decoupled.weight_decay = S(0.2);
  decoupled.decoupled_weight_decay = true;
  maximize.maximize = true;
  for (const auto& [suffix, v] :
       {std::pair{"", o}, std::pair{", L2 decay", l2}, std::pair{", decoupled decay", decoupled},
        std::pair{", maximize", maximize}}) {
    list.push_back(
        {std::string(Opt::kName) + label + suffix, [v = v] { return std::make_unique<Opt>(v); }});
  }
}

/// Every optimizer class with every option that changes its kernel.
template <typename S>
std::vector<Variant<S>> every_variant() {
  using namespace descent;
  std::vector<Variant<S>> list;
  add<GradientDescent<S>>(list, "", {S(0.05)});

  using SgdOptions = typename SGD<S>::Options;
  SgdOptions sgd{S(0.05)};
  add<SGD<S>>(list, "", sgd);
  sgd.momentum = S(0.9);
  add<SGD<S>>(list, " momentum", sgd);
  sgd.decay = S(0.1);
  add<SGD<S>>(list, " momentum, decay", sgd);
  sgd.nesterov = true;
  add<SGD<S>>(list, " nesterov, decay", sgd);
  sgd = SgdOptions::pytorch();
  sgd.lr = S(0.05);
  sgd.momentum = S(0.9);
  add<SGD<S>>(list, " pytorch momentum", sgd);
  sgd.dampening = S(0.3);
  add<SGD<S>>(list, " pytorch momentum, dampening", sgd);
  sgd.nesterov = true;
  sgd.dampening = S(0);
  add<SGD<S>>(list, " pytorch nesterov", sgd);

  add<Momentum<S>>(list, "", {S(0.1), S(0.8)});
  add<Nesterov<S>>(list, "", {S(0.1), S(0.8)});

  using AdaGradOptions = typename AdaGrad<S>::Options;
  add<AdaGrad<S>>(list, "", {S(0.1)});
  add<AdaGrad<S>>(list, " inside", {S(0.1), S(1e-7), S(0.1), EpsPlacement::InsideSqrt});
  AdaGradOptions adagrad{S(0.1)};
  adagrad.lr_decay = S(0.2);
  add<AdaGrad<S>>(list, " lr_decay", adagrad);

  using RMSpropOptions = typename RMSprop<S>::Options;
  for (const EpsPlacement p : {EpsPlacement::InsideSqrt, EpsPlacement::OutsideSqrt}) {
    const std::string where = p == EpsPlacement::InsideSqrt ? " inside" : " outside";
    RMSpropOptions rms{S(0.01), S(0.9), S(1e-6), p};
    add<RMSprop<S>>(list, where, rms);
    rms.centered = true;
    add<RMSprop<S>>(list, where + ", centered", rms);
    rms.centered = false;
    rms.momentum = S(0.8);
    add<RMSprop<S>>(list, where + ", momentum", rms);
    rms.momentum_form = MomentumForm::PyTorch;
    add<RMSprop<S>>(list, where + ", pytorch momentum", rms);
    rms.centered = true;
    add<RMSprop<S>>(list, where + ", centered, pytorch momentum", rms);
    rms.momentum_form = MomentumForm::Keras;
    add<RMSprop<S>>(list, where + ", centered, momentum", rms);
  }

  using AdamOptions = typename Adam<S>::Options;
  using AdamWOptions = typename AdamW<S>::Options;
  for (const EpsPlacement p :
       {EpsPlacement::InsideSqrt, EpsPlacement::OutsideSqrt, EpsPlacement::EpsHat}) {
    const std::string where = p == EpsPlacement::InsideSqrt    ? " inside"
                              : p == EpsPlacement::OutsideSqrt ? " outside"
                                                               : " eps_hat";
    AdamOptions adam{S(0.01), S(0.8), S(0.95), S(1e-6), p};
    add<Adam<S>>(list, where, adam);
    adam.amsgrad = true;
    add<Adam<S>>(list, where + ", amsgrad", adam);
    AdamWOptions adamw{S(0.01), S(0.8), S(0.95), S(1e-6), p};
    add<AdamW<S>>(list, where, adamw);
    adamw.amsgrad = true;
    add<AdamW<S>>(list, where + ", amsgrad", adamw);
  }

  using LionOptions = typename Lion<S>::Options;
  LionOptions lion;
  lion.lr = S(0.01);
  add<Lion<S>>(list, "", lion);
  lion.beta1 = S(0);
  lion.beta2 = S(0);
  add<Lion<S>>(list, " signSGD", lion);

  // torch.optim's other element-wise optimizers.
  add<Adamax<S>>(list, "", {S(0.01)});
  add<NAdam<S>>(list, "", {S(0.01)});
  add<RAdam<S>>(list, "", {S(0.01)});  // rectified from its 6th step on
  add<Adadelta<S>>(list, "", {S(0.5)});
  typename Rprop<S>::Options rprop;
  rprop.lr = S(0.01);
  add<Rprop<S>>(list, "", rprop);
  typename ASGD<S>::Options asgd;
  asgd.lr = S(0.01);
  asgd.t0 = S(2);  // averages from its 3rd step on
  add<ASGD<S>>(list, "", asgd);

  using AdaBeliefOptions = typename AdaBelief<S>::Options;
  AdaBeliefOptions adabelief;
  adabelief.lr = S(0.01);
  add<AdaBelief<S>>(list, "", adabelief);
  adabelief.eps_root = S(1e-3);
  add<AdaBelief<S>>(list, " eps_root", adabelief);
  // SparseAdam has no weight decay: plain and maximize.
  typename SparseAdam<S>::Options sparse_adam;
  sparse_adam.lr = S(0.01);
  for (const bool maximize : {false, true}) {
    sparse_adam.maximize = maximize;
    list.push_back({maximize ? "SparseAdam, maximize" : "SparseAdam",
                    [sparse_adam] { return std::make_unique<SparseAdam<S>>(sparse_adam); }});
  }
  // Muon steps vectors with its AdamW fallback (a matrix's step depends on
  // its shape, not on where an element falls): plain, decayed, maximize.
  typename Muon<S>::Options muon;
  muon.adamw_lr = S(0.01);
  muon.adamw_weight_decay = S(0);
  for (const int k : {0, 1, 2}) {
    auto o = muon;
    if (k == 1) o.adamw_weight_decay = S(0.2);
    if (k == 2) o.maximize = true;
    const char* label = k == 0   ? "Muon (AdamW)"
                        : k == 1 ? "Muon (AdamW), decay"
                                 : "Muon (AdamW), maximize";
    list.push_back({label, [o] { return std::make_unique<Muon<S>>(o); }});
  }
  // bfloat16 state, rounded to nearest (float only): its packet conversions
  // against the tail's. (Stochastic rounding hashes an element's index in
  // the vector stepped, which differs between a segment and the whole.)
  if constexpr (std::is_same<S, float>::value) {
    const auto bf16 = [](auto o) {
      o.state_storage = StateStorage::BFloat16;
      return o;
    };
    SgdOptions momentum{S(0.05), S(0.9)};
    add<SGD<S>>(list, " momentum, bf16 state", bf16(momentum));
    momentum.nesterov = true;
    add<SGD<S>>(list, " nesterov, bf16 state", bf16(momentum));
    add<Momentum<S>>(list, ", bf16 state", bf16(typename Momentum<S>::Options{S(0.1), S(0.8)}));
    add<Nesterov<S>>(list, ", bf16 state", bf16(typename Nesterov<S>::Options{S(0.1), S(0.8)}));
    AdaGradOptions adagrad_bf16{S(0.1)};
    adagrad_bf16.initial_accumulator = S(0.1);
    add<AdaGrad<S>>(list, ", bf16 state", bf16(adagrad_bf16));
    RMSpropOptions rms{S(0.01), S(0.9), S(1e-6), EpsPlacement::OutsideSqrt};
    rms.centered = true;
    rms.momentum = S(0.8);
    add<RMSprop<S>>(list, " centered, momentum, bf16 state", bf16(rms));
    AdamOptions adam{S(0.01), S(0.8), S(0.95), S(1e-6), EpsPlacement::InsideSqrt};
    add<Adam<S>>(list, " inside, bf16 state", bf16(adam));
    adam.amsgrad = true;
    adam.eps_placement = EpsPlacement::EpsHat;
    add<Adam<S>>(list, " eps_hat, amsgrad, bf16 state", bf16(adam));
    add<AdamW<S>>(list, ", bf16 state", bf16(AdamWOptions{}));
  }
  return list;
}

/// Parameters and gradients spread over six decades, of both signs: the
/// sums of products then round differently with and without fusion.
template <typename S>
Vec<S> spread(Eigen::Index n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0), decade(-3.0, 3.0);
  Vec<S> v(n);
  for (auto& e : v) e = S(mantissa(rng) * std::pow(10.0, decade(rng)));
  return v;
}

/// The gradient of step t at x: depends on x and varies between steps.
template <typename S>
Vec<S> gradient(const Vec<S>& x, const Vec<S>& noise, int t) {
  return (x.array() * S(0.5 + 0.25 * t) + noise.array() * S(1.0 - 0.3 * t)).matrix();
}

/// True when a and b hold the same bytes; otherwise why says where and by
/// how many units in the last place.
template <typename S>
bool same_bits(const Vec<S>& a, const Vec<S>& b, std::string& why) {
  using Bits = std::conditional_t<sizeof(S) == 4, std::int32_t, std::int64_t>;
  // Ordered as the values are, so that neighbours differ by 1.
  const auto ordered = [](S s) {
    Bits b;
    std::memcpy(&b, &s, sizeof b);
    return b < 0 ? Bits(std::numeric_limits<Bits>::min() - b) : b;
  };
  Eigen::Index differ = 0, first = -1;
  std::uint64_t worst = 0;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const Bits ia = ordered(a[i]), ib = ordered(b[i]);
    if (ia == ib) continue;
    if (first < 0) first = i;
    ++differ;
    const std::uint64_t ulps =
        ia > ib ? std::uint64_t(ia) - std::uint64_t(ib) : std::uint64_t(ib) - std::uint64_t(ia);
    worst = std::max(worst, ulps);
  }
  if (differ == 0) return true;
  why = std::to_string(differ) + " of " + std::to_string(a.size()) + " elements differ, first at " +
        std::to_string(first) + ", by up to " + std::to_string(worst) + " ulp";
  return false;
}

/// An optimizer's checkpoint: its state arrays (their elements' bytes) and
/// everything else but the sizes and the checksum: kind, scalar type, step
/// counts, lr and options. The layout is documented in
/// <descent/checkpoint.hpp>.
struct Checkpoint {
  std::string bytes;
  std::string head;
  std::vector<std::string_view> arrays;

  template <typename S>
  explicit Checkpoint(const descent::Optimizer<S>& opt) {
    std::ostringstream out;
    opt.save(out);
    bytes = out.str();
    const std::string_view all = bytes;
    std::size_t pos = 0;
    const auto take = [&](std::size_t n) {
      REQUIRE(n <= all.size() - pos);
      pos += n;
      return all.substr(pos - n, n);
    };
    const auto number = [&](std::size_t n) {
      const std::string_view b = take(n);
      std::uint64_t v = 0;
      for (std::size_t k = n; k-- > 0;) v = v << 8 | std::uint8_t(b[k]);
      return std::size_t(v);
    };
    head = take(14);          // magic, version, object, scalar size
    head += take(number(2));  // kind
    take(8);                  // payload length
    head += take(24);         // iterations, skipped steps, lr
    take(8);                  // state size
    for (std::size_t k = number(4); k > 0; --k) {
      head += take(number(2));  // option name
      head += take(8);          // value
    }
    for (std::size_t k = number(4); k > 0; --k) arrays.push_back(take(number(8) * sizeof(S)));
    // State values, if any, are skipped: Muon's are the shape, which is each
    // segment's own.
    if (all.size() - pos > 4) {
      for (std::size_t k = number(4); k > 0; --k) {
        take(number(2));  // name
        take(8);          // value
      }
    }
    take(4);  // CRC-32
    REQUIRE(pos == all.size());
  }
};

/// How check_segments runs.
struct Run {
  int steps = 4;
  int segment_threads = 1;  // set_threads of every segment's optimizer
  bool compare_state = true;
};

/// cuts as text, "0 1 13 1000".
std::string text(const std::vector<Eigen::Index>& cuts) {
  std::string s;
  for (const auto c : cuts) s += (s.empty() ? "" : " ") + std::to_string(c);
  return s;
}

/// Steps x whole with one optimizer on one thread, and a copy of x as the
/// segments [cuts[k], cuts[k + 1]) with one optimizer each, with the same
/// gradients; checks that params (and every state array) are the same bits.
template <typename S>
void check_segments(const Variant<S>& variant, const Vec<S>& start, const Vec<S>& noise,
                    const std::vector<Eigen::Index>& cuts, const Run& run) {
  INFO(variant.label << ", " << start.size() << " elements, cut at " << text(cuts) << ", "
                     << run.segment_threads << " threads");
  const auto whole = variant.make();
  std::vector<std::unique_ptr<descent::Optimizer<S>>> parts;
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    parts.push_back(variant.make());
    parts.back()->set_threads(run.segment_threads);
  }
  Vec<S> x = start, y = start;
  std::string why;
  for (int t = 0; t < run.steps && why.empty(); ++t) {
    whole->step(x, gradient(x, noise, t));
    const Vec<S> g = gradient(y, noise, t);
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const Eigen::Index n = cuts[k + 1] - cuts[k];
      parts[k]->step(y.segment(cuts[k], n), g.segment(cuts[k], n));
    }
    if (!same_bits(x, y, why)) why = "params after step " + std::to_string(t + 1) + ": " + why;
  }
  CHECK(why == "");
  CHECK(!(x == start));

  if (!why.empty() || !run.compare_state) return;
  // Each state array of the whole is those of the segments end to end.
  const Checkpoint expected(*whole);
  std::vector<std::size_t> offset(expected.arrays.size(), 0);
  for (const auto& part : parts) {
    const Checkpoint c(*part);
    REQUIRE(c.head == expected.head);
    REQUIRE(c.arrays.size() == offset.size());
    for (std::size_t k = 0; k < offset.size(); ++k) {
      INFO("state array " << k);
      REQUIRE(c.arrays[k] == expected.arrays[k].substr(offset[k], c.arrays[k].size()));
      offset[k] += c.arrays[k].size();
    }
  }
  for (std::size_t k = 0; k < offset.size(); ++k) CHECK(offset[k] == expected.arrays[k].size());
}

/// cuts[0] = 0, cuts.back() = n, and `inner` distinct cuts in between.
std::vector<Eigen::Index> random_cuts(Eigen::Index n, int inner, std::mt19937& rng) {
  std::uniform_int_distribution<Eigen::Index> at(1, n - 1);
  std::vector<Eigen::Index> cuts{0, n};
  while (int(cuts.size()) < inner + 2) {
    const Eigen::Index c = at(rng);
    if (std::find(cuts.begin(), cuts.end(), c) == cuts.end()) cuts.push_back(c);
  }
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

}  // namespace

TEMPLATE_TEST_CASE("position: a vector stepped as segments is the vector stepped whole",
                   "[position]", DESCENT_POSITION_SCALARS) {
  using S = TestType;
  const Eigen::Index n = 1000;
  const Vec<S> start = spread<S>(n, 1), noise = spread<S>(n, 2);
  std::mt19937 rng(3);
  std::vector<std::vector<Eigen::Index>> cutting{{0, 1, 13, 14, 500, 999, 1000}};
  for (const int inner : {1, 3, 9, 40}) cutting.push_back(random_cuts(n, inner, rng));
  for (const auto& variant : every_variant<S>()) {
    for (const auto& cuts : cutting) check_segments(variant, start, noise, cuts, Run{});
  }
}

TEMPLATE_TEST_CASE("position: a sparse step of every row, rows as tails, is the dense step",
                   "[position][sparse]", DESCENT_POSITION_SCALARS) {
  // Rows of 13 elements, stepped one by one from a shuffled index list: each
  // element sits at another place of a packet, or in a tail, than in the
  // dense pass over the table.
  using S = TestType;
  using Table = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index rows = 77, cols = 13;
  const Vec<S> start = spread<S>(rows * cols, 6), noise = spread<S>(rows * cols, 7);
  Eigen::Matrix<Eigen::Index, Eigen::Dynamic, 1> order =
      Eigen::Matrix<Eigen::Index, Eigen::Dynamic, 1>::LinSpaced(rows, 0, rows - 1);
  std::shuffle(order.data(), order.data() + rows, std::mt19937(8));
  const auto check = [&](auto dense, auto sparse) {
    Table x_dense = Eigen::Map<const Table>(start.data(), rows, cols), x_sparse = x_dense;
    for (int t = 0; t < 3; ++t) {
      const Vec<S> flat = Eigen::Map<const Vec<S>>(x_dense.data(), x_dense.size());
      const Vec<S> g = gradient(flat, noise, t);
      const Eigen::Map<const Table> grad(g.data(), rows, cols);
      descent::RowSparse<S> by_rows;
      by_rows.indices = order;
      by_rows.rows.resize(rows, cols);
      for (Eigen::Index k = 0; k < rows; ++k) by_rows.rows.row(k) = grad.row(order(k));
      dense.step(x_dense, grad);
      sparse.step(x_sparse, by_rows);
      std::string why;
      const bool same = same_bits<S>(Eigen::Map<const Vec<S>>(x_sparse.data(), x_sparse.size()),
                                     Eigen::Map<const Vec<S>>(x_dense.data(), x_dense.size()), why);
      INFO(dense.name() << ", step " << t + 1 << ": " << why);
      CHECK(same);
    }
  };
  check(descent::SparseAdam<S>(), descent::SparseAdam<S>());
  typename descent::AdaGrad<S>::Options adagrad;
  adagrad.lr_decay = S(0.1);
  adagrad.maximize = true;
  check(descent::AdaGrad<S>(adagrad), descent::AdaGrad<S>(adagrad));
  if constexpr (std::is_same<S, float>::value) {
    // bfloat16 state: a row's state starts at its offset in the table, so
    // stochastic rounding hashes the same index in both.
    adagrad.state_storage = descent::StateStorage::BFloat16;
    check(descent::AdaGrad<S>(adagrad), descent::AdaGrad<S>(adagrad));
    adagrad.stochastic_rounding = true;
    adagrad.rounding_seed = 5;
    check(descent::AdaGrad<S>(adagrad), descent::AdaGrad<S>(adagrad));
  }
}

TEMPLATE_TEST_CASE("position: thread chunks and segments on threads are the one-thread step",
                   "[position][threads]", DESCENT_POSITION_SCALARS) {
  using S = TestType;
  // The last segment alone is above the threshold, so it is split too.
  const Eigen::Index n = descent::detail::kParallelThreshold + 14 + 37;
  const Vec<S> start = spread<S>(n, 4), noise = spread<S>(n, 5);
  // Chunks that start 14 elements into the vector (test_threads.cpp covers
  // chunks of whole vectors), 2 and 3 threads, for every optimizer and
  // variant without weight decay; params only. The test above covers the
  // rest: here checkpoints of 65 536 elements would cost more than the steps.
  const auto variants = every_variant<S>();
  for (std::size_t k = 0; k < variants.size(); k += 4) {
    check_segments(variants[k], start, noise, {0, 1, 14, n}, Run{2, 2 + int(k / 4 % 2), false});
  }
}

TEMPLATE_TEST_CASE("position: the tail's lanes compute what the packet's lanes compute",
                   "[position][simd]", DESCENT_POSITION_SCALARS) {
  using S = TestType;
  using P = descent::detail::simd::Pack<S>;
  if constexpr (P::size == 1) {
    SUCCEED("no packets on this target: every element takes the one-lane path");
  } else {
    using One = descent::detail::simd::One<S>;
    using Bits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
    const auto from_bits = [](Bits b) {
      S s;
      std::memcpy(&s, &b, sizeof s);
      return s;
    };
    const auto bits = [](S s) {
      Bits b;
      std::memcpy(&b, &s, sizeof b);
      return b;
    };
    const auto same = [&](S a, S b) { return bits(a) == bits(b); };
    const Bits sign_bit = Bits(1) << (8 * sizeof(S) - 1);
    const S inf = std::numeric_limits<S>::infinity();
    const S nan = std::numeric_limits<S>::quiet_NaN();
    const S odd = from_bits(sign_bit | bits(inf) | Bits(1));
    // Zeros, infinities, subnormals, quiet NaNs of both signs and other
    // payloads, a signaling NaN.
    const std::vector<S> special{S(0),
                                 -S(0),
                                 S(1),
                                 S(-2.5),
                                 S(1e-3),
                                 inf,
                                 -inf,
                                 std::numeric_limits<S>::denorm_min(),
                                 std::numeric_limits<S>::max(),
                                 nan,
                                 from_bits(Bits(sign_bit | Bits(-1) >> 1)),
                                 from_bits(Bits(Bits(-1) >> 1 & ~Bits(1))),
                                 from_bits(bits(inf) | Bits(2))};
    for (const S a : special) {
      for (const S b : special) {
        INFO(a << " and " << b);
        // Every lane of the packet holds the same pair.
        S pa[P::size], pb[P::size], out[P::size];
        std::fill_n(pa, P::size, a);
        std::fill_n(pb, P::size, b);
        // The packet's result, if every lane holds it; else a signaling
        // NaN, which no operation returns.
        const auto packet = [&](auto op) {
          op(P::load(pa), P::load(pb)).store(out);
          for (const S lane : out) {
            if (!same(lane, out[0])) return odd;
          }
          return out[0];
        };
        const auto lane = [&](auto op) { return op(One(a), One(b)).v; };
        const auto max_of = [](auto x, auto y) { return max(x, y); };
        const auto sqrt_of = [](auto x, auto) { return sqrt(x); };
        const auto quotient = [](auto x, auto y) { return x / y; };
        CHECK(same(packet(max_of), lane(max_of)));
        CHECK(same(packet(sqrt_of), lane(sqrt_of)));
        CHECK(same(packet(quotient), lane(quotient)));
        const auto sign_of = [](auto x, auto) { return sign(x); };
        CHECK(same(packet(sign_of), lane(sign_of)));
        // Which NaN a sum or product of two NaNs returns is the compiler's
        // choice of operand order; otherwise they agree bit for bit.
        const auto sum = [](auto x, auto y) { return x + y; };
        const auto difference = [](auto x, auto y) { return x - y; };
        const auto product = [](auto x, auto y) { return x * y; };
        const bool two_nans = std::isnan(a) && std::isnan(b);
        CHECK((same(packet(sum), lane(sum)) || (two_nans && std::isnan(lane(sum)))));
        CHECK((same(packet(difference), lane(difference)) ||
               (two_nans && std::isnan(lane(difference)))));
        CHECK((same(packet(product), lane(product)) || (two_nans && std::isnan(lane(product)))));
      }
    }
  }
}
