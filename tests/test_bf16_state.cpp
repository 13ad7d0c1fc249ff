// bfloat16 state (state_storage BFloat16): each optimizer against a plain
// reference loop that does its float math one coordinate at a time and
// rounds every state element with Eigen::bfloat16(x) after each step; the
// packet conversions against Eigen's, NaN and inf included; stochastic
// rounding; threads, ParamGroups and checkpoints.

#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <descent/detail/bf16_state.hpp>
#include <descent/detail/mpi_checkpoint.hpp>

namespace {

using descent::StateStorage;
using Index = Eigen::Index;
using VecF = Eigen::VectorXf;

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
std::uint16_t bits16(Eigen::bfloat16 h) { return h.value; }

// The index of the first element whose bits differ, or −1.
template <typename A, typename B>
Index first_difference(const A& a, const B& b) {
  REQUIRE(Index(a.size()) == Index(b.size()));
  for (Index i = 0; i < Index(a.size()); ++i) {
    if (bits(a[i]) != bits(b[i])) return i;
  }
  return -1;
}

// The state arrays of opt, read from its checkpoint (as Scalar values).
template <typename Opt>
std::vector<VecF> arrays_of(const Opt& opt, const std::vector<bool>& used) {
  std::istringstream in(descent::detail::mpi::bytes_of(opt));
  descent::detail::Reader r(in, "test", descent::detail::ObjectKind::Optimizer,
                            std::string(opt.name()), 4);
  descent::detail::mpi::CheckpointParts<float> c;
  descent::detail::mpi::read_head(r, c);
  descent::detail::mpi::read_arrays(r, c, used);
  return {c.arrays.begin(), c.arrays.end()};
}

float nearest(float v) { return static_cast<float>(Eigen::bfloat16(v)); }

// A state element rounded after a step: k the array, i the element.
using Round = std::function<float(float, int, Index)>;

Round identity() {
  return [](float v, int, Index) { return v; };
}
Round to_nearest() {
  return [](float v, int, Index) { return nearest(v); };
}
// The documented stochastic rounding, one element at a time: 16 bits of
// the hash of (seed, t, k, i) added to the float's bits, which are then cut
// to 16; NaN as Eigen makes it.
Round stochastic(std::uint32_t seed, const std::int64_t* t) {
  return [seed, t](float v, int k, Index i) {
    if (std::isnan(v)) return nearest(v);
    const std::uint32_t add =
        descent::detail::rounding_bits(descent::detail::rounding_key(seed, *t, k), i);
    return from_bits(((bits(v) + add) >> 16) << 16);
  };
}

// The state of a reference run: up to three arrays.
struct RefState {
  std::vector<float> a[3];
};

// d = adjust(g, θ) as every optimizer's kernel computes it.
struct Adjust {
  float sign, l2, keep;
  bool active;
  template <typename O>
  static Adjust of(const O& o, float lr) {
    const bool decoupled = o.decoupled_weight_decay;
    Adjust a{o.maximize ? -1.0f : 1.0f, decoupled ? 0.0f : float(o.weight_decay),
             decoupled ? static_cast<float>(1.0 - double(lr) * double(o.weight_decay)) : 1.0f,
             false};
    a.active = a.sign != 1.0f || a.l2 != 0.0f || a.keep != 1.0f;
    return a;
  }
  float operator()(float g, float& x) const {
    if (!active) return g;
    const float d = sign * g + l2 * x;
    x = keep * x;
    return d;
  }
};

// One reference step of each optimizer over x (in place), state s.
using RefStep =
    std::function<void(std::vector<float>&, const VecF&, RefState&, std::int64_t, const Round&)>;

template <typename O>
RefStep adam_ref(const O& o) {
  return [o](std::vector<float>& x, const VecF& g, RefState& s, std::int64_t t, const Round& r) {
    const double lr = double(o.lr);
    const double bias1 = 1.0 - std::pow(double(o.beta1), double(t));
    const double bias2 = 1.0 - std::pow(double(o.beta2), double(t));
    const bool inside = o.eps_placement == descent::EpsPlacement::InsideSqrt;
    const auto step_size = static_cast<float>(lr / bias1);
    const auto v_scale = static_cast<float>(inside ? 1.0 / bias2 : 1.0 / std::sqrt(bias2));
    const Adjust adjust = Adjust::of(o, o.lr);
    for (std::size_t i = 0; i < x.size(); ++i) {
      float xi = x[i];
      const float d = adjust(g[Index(i)], xi);
      const float m = o.beta1 * s.a[0][i] + (1.0f - o.beta1) * d;
      const float v = o.beta2 * s.a[1][i] + (1.0f - o.beta2) * d * d;
      s.a[0][i] = r(m, 0, Index(i));
      s.a[1][i] = r(v, 1, Index(i));
      float w = v;
      if (o.amsgrad) {
        w = s.a[2][i] > v ? s.a[2][i] : v;
        s.a[2][i] = r(w, 2, Index(i));
      }
      const float denom = inside ? std::sqrt(w * v_scale + o.eps) : std::sqrt(w) * v_scale + o.eps;
      x[i] = xi - step_size * m / denom;
    }
  };
}

RefStep adagrad_ref(const descent::AdaGrad<float>::Options& o) {
  return [o](std::vector<float>& x, const VecF& g, RefState& s, std::int64_t t, const Round& r) {
    const auto lr =
        static_cast<float>(double(o.lr) / (1.0 + static_cast<double>(t - 1) * double(o.lr_decay)));
    const Adjust adjust = Adjust::of(o, o.lr);
    for (std::size_t i = 0; i < x.size(); ++i) {
      float xi = x[i];
      const float d = adjust(g[Index(i)], xi);
      const float h = s.a[0][i] + d * d;
      s.a[0][i] = r(h, 0, Index(i));
      x[i] = xi - lr * d / (std::sqrt(h) + o.eps);
    }
  };
}

RefStep rmsprop_ref(const descent::RMSprop<float>::Options& o) {
  return [o](std::vector<float>& x, const VecF& g, RefState& s, std::int64_t, const Round& r) {
    const bool keras = o.momentum_form == descent::MomentumForm::Keras;
    const float in = keras ? o.lr : 1.0f, out = keras ? 1.0f : o.lr;
    const bool inside = o.eps_placement == descent::EpsPlacement::InsideSqrt;
    const auto denominator = [&](float u) {
      return inside ? std::sqrt(u + o.eps) : std::sqrt(u) + o.eps;
    };
    const Adjust adjust = Adjust::of(o, o.lr);
    for (std::size_t i = 0; i < x.size(); ++i) {
      float xi = x[i];
      const float d = adjust(g[Index(i)], xi);
      const float v = o.rho * s.a[0][i] + (1.0f - o.rho) * d * d;
      s.a[0][i] = r(v, 0, Index(i));
      float u = v;
      if (o.centered) {
        const float a = o.rho * s.a[1][i] + (1.0f - o.rho) * d;
        s.a[1][i] = r(a, 1, Index(i));
        u = v - a * a;
      }
      if (o.momentum > 0.0f) {
        const float q = d / denominator(u);
        const float b = o.momentum * s.a[2][i] + in * q;
        s.a[2][i] = r(b, 2, Index(i));
        x[i] = xi - out * b;
      } else {
        x[i] = xi - o.lr * d / denominator(u);
      }
    }
  };
}

RefStep sgd_ref(const descent::SGD<float>::Options& o) {
  return [o](std::vector<float>& x, const VecF& g, RefState& s, std::int64_t t, const Round& r) {
    const auto lr =
        static_cast<float>(double(o.lr) / (1.0 + double(o.decay) * static_cast<double>(t - 1)));
    const float mu = o.momentum;
    const Adjust adjust = Adjust::of(o, o.lr);
    const bool keras = o.momentum_form == descent::MomentumForm::Keras;
    const float c = t == 1 ? 1.0f : 1.0f - o.dampening;
    for (std::size_t i = 0; i < x.size(); ++i) {
      float xi = x[i];
      const float d = adjust(g[Index(i)], xi);
      if (keras) {
        const float v = mu * s.a[0][i] - lr * d;
        s.a[0][i] = r(v, 0, Index(i));
        x[i] = o.nesterov ? xi + (mu * v - lr * d) : xi + v;
      } else {
        const float b = mu * s.a[0][i] + c * d;
        s.a[0][i] = r(b, 0, Index(i));
        x[i] = o.nesterov ? xi - lr * (d + mu * b) : xi - lr * b;
      }
    }
  };
}

template <typename O>
RefStep dampened_ref(const O& o, bool nesterov) {
  return [o, nesterov](std::vector<float>& x, const VecF& g, RefState& s, std::int64_t,
                       const Round& r) {
    const float a = (1.0f - o.beta) * o.lr;
    const Adjust adjust = Adjust::of(o, o.lr);
    for (std::size_t i = 0; i < x.size(); ++i) {
      float xi = x[i];
      const float d = adjust(g[Index(i)], xi);
      const float v = o.beta * s.a[0][i] - a * d;
      s.a[0][i] = r(v, 0, Index(i));
      x[i] = nesterov ? xi + (o.beta * v - a * d) : xi + v;
    }
  };
}

// Parameters and a gradient that depends on them and on the step, so a
// state that drifts shows in the parameters.
VecF start(Index n) {
  VecF x(n);
  for (Index i = 0; i < n; ++i) x[i] = std::sin(0.7f * float(i) + 0.3f) * 2.0f;
  return x;
}
VecF gradient(const VecF& x, std::int64_t t) {
  VecF g(x.size());
  for (Index i = 0; i < x.size(); ++i) {
    const float c = std::cos(0.013f * float(i * 7 + 3 * t));
    g[i] = (x[i] - c) * (1.0f + 0.5f * c) + 0.1f * std::sin(float(i + t));
  }
  return g;
}

// Runs opt and the reference side by side for `steps` steps from start(n),
// with the reference's state rounded by r (h0 its first value); returns the
// first step at which the parameters differ, or 0.
template <typename Opt>
std::int64_t compare(Opt& opt, const RefStep& ref, Index n, int steps, const Round& r,
                     std::int64_t* t_of_round, float h0, int arrays) {
  VecF x = start(n);
  std::vector<float> rx(x.data(), x.data() + n);
  RefState s;
  for (int k = 0; k < arrays; ++k) s.a[k].assign(std::size_t(n), h0);
  for (std::int64_t t = 1; t <= steps; ++t) {
    const VecF g = gradient(x, t);
    opt.step(x, g);
    if (t_of_round != nullptr) *t_of_round = t;
    ref(rx, g, s, t, r);
    if (first_difference(x, rx) >= 0) {
      INFO("element " << first_difference(x, rx) << " of " << n);
      return t;
    }
  }
  return 0;
}

template <typename Opt>
typename Opt::Options bf16(typename Opt::Options o) {
  o.state_storage = StateStorage::BFloat16;
  return o;
}

// The reference is right for float state, and with bf16 rounding matches
// the bf16 optimizer bit for bit at sizes that fill packets and tails; and
// the bf16 trajectory is not the float one.
template <typename Opt>
void check_against_reference(const typename Opt::Options& o, const RefStep& ref, int arrays,
                             float h0 = 0.0f) {
  for (const Index n : {Index(1), Index(7), Index(33), Index(1003)}) {
    CAPTURE(n);
    Opt same(o);
    CHECK(compare(same, ref, n, 50, identity(), nullptr, h0, arrays) == 0);
    Opt rounded(bf16<Opt>(o));
    CHECK(compare(rounded, ref, n, 50, to_nearest(), nullptr, nearest(h0), arrays) == 0);
    if (n == 1003) {
      Opt a(o), b(bf16<Opt>(o));
      VecF xa = start(n), xb = start(n);
      for (std::int64_t t = 1; t <= 50; ++t) {
        a.step(xa, gradient(xa, t));
        b.step(xb, gradient(xb, t));
      }
      CHECK(first_difference(xa, xb) >= 0);  // the rounding shows
    }
  }
}

}  // namespace

TEST_CASE("bf16 packets: load and store give Eigen::bfloat16's bits", "[bf16]") {
  using descent::detail::simd::One;
  using descent::detail::simd::Pack;
  constexpr int P = Pack<float>::size;
  // Every pattern of the low 16 bits under a set of high halves: zeros,
  // subnormals, normals, the largest finite, inf, NaNs of either sign
  // (0x7F80xxxx with low bits only is a NaN the naive rounding would turn
  // into inf), and every 97th high half.
  std::vector<std::uint32_t> highs = {0x0000, 0x0001, 0x007F, 0x0080, 0x3F80, 0x3F81,
                                      0x7F7F, 0x7F80, 0x7F81, 0x7FC0, 0x7FFF, 0x8000,
                                      0x8001, 0xFF7F, 0xFF80, 0xFF81, 0xFFC0, 0xFFFF};
  for (std::uint32_t h = 0; h < 0x10000; h += 97) highs.push_back(h);
  std::vector<float> in;
  for (const std::uint32_t h : highs) {
    for (std::uint32_t l = 0; l < 0x10000; ++l) in.push_back(from_bits(h << 16 | l));
  }
  const Index n = Index(in.size());
  std::vector<Eigen::bfloat16> packed(in.size()), single(in.size());
  const descent::detail::Bf16State out{packed.data(), 0, 0, false};
  const descent::detail::Bf16State one{single.data(), 0, 0, false};
  Index i = 0;
  for (; i + P <= n; i += P) Pack<float>::load(in.data() + i).store(out + i);
  for (Index j = 0; j < n; ++j) One<float>::load(in.data() + j).store(one + j);
  for (; i < n; ++i) One<float>::load(in.data() + i).store(out + i);
  Index wrong = -1, wrong_one = -1;
  for (Index j = 0; j < n; ++j) {
    const std::uint16_t expected = bits16(Eigen::bfloat16(in[std::size_t(j)]));
    if (wrong < 0 && bits16(packed[std::size_t(j)]) != expected) wrong = j;
    if (wrong_one < 0 && bits16(single[std::size_t(j)]) != expected) wrong_one = j;
  }
  INFO("first wrong input: " << std::hex << (wrong >= 0 ? bits(in[std::size_t(wrong)]) : 0));
  CHECK(wrong == -1);
  CHECK(wrong_one == -1);
  // A NaN whose payload is in the low bits only stays a (quiet) NaN.
  const Eigen::bfloat16 payload = single[std::size_t(7 * 0x10000 + 1)];  // 0x7F800001
  CHECK(bits16(payload) == 0x7FC0);
  // Widening: every bfloat16 pattern, in packets and alone, is its float.
  std::vector<Eigen::bfloat16> all(0x10000);
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    all[h] = Eigen::bfloat16_impl::raw_uint16_to_bfloat16(static_cast<std::uint16_t>(h));
  }
  const descent::detail::Bf16State src{all.data(), 0, 0, false};
  std::vector<float> widened(0x10000), widened_one(0x10000);
  for (Index j = 0; j + P <= 0x10000; j += P) Pack<float>::load(src + j).store(widened.data() + j);
  for (Index j = 0; j < 0x10000; ++j) One<float>::load(src + j).store(widened_one.data() + j);
  Index bad = -1;
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if (bits(widened[h]) != h << 16 || bits(widened_one[h]) != h << 16) {
      bad = Index(h);
      break;
    }
  }
  CHECK(bad == -1);
}

TEST_CASE("bf16 state: one Adam step by hand", "[bf16]") {
  descent::Adam<float>::Options o;
  o.lr = 0.1f;
  o.state_storage = StateStorage::BFloat16;
  descent::Adam<float> adam(o);
  Eigen::Vector3f x(1.0f, -2.0f, 0.3f);
  const Eigen::Vector3f g(0.3f, 1.0f / 3.0f, -7.0f);
  adam.step(x, g);
  // m = 0.1·g and v = 0.001·g², each rounded to bf16; θ uses the unrounded
  // float m and v: after one step m̂ = g and v̂ = g² up to float rounding,
  // so θ moves by lr·g/√(g² + ε) ≈ lr·sign(g).
  const std::vector<VecF> state = arrays_of(adam, {true, true, false});
  const VecF& m = state[0];
  const VecF& v = state[1];
  for (int i = 0; i < 3; ++i) {
    const float mi = 0.9f * 0.0f + (1.0f - 0.9f) * g[i];
    const float vi = 0.999f * 0.0f + (1.0f - 0.999f) * g[i] * g[i];
    CHECK(bits(m[i]) == bits(float(Eigen::bfloat16(mi))));
    CHECK(bits(v[i]) == bits(float(Eigen::bfloat16(vi))));
    CHECK((bits(m[i]) & 0xFFFFu) == 0u);
    // The bias corrections in double, of the float options.
    const auto step_size = static_cast<float>(double(0.1f) / (1.0 - double(0.9f)));
    const auto v_scale = static_cast<float>(1.0 / (1.0 - std::pow(double(0.999f), 1.0)));
    const float expected = float(i == 0   ? 1.0f
                                 : i == 1 ? -2.0f
                                          : 0.3f) -
                           step_size * mi / std::sqrt(vi * v_scale + 1e-8f);
    CHECK(bits(x[i]) == bits(expected));
    CHECK(x[i] == Approx(double(i == 0 ? 0.9f : i == 1 ? -2.1f : 0.4f)).margin(1e-4));
  }
  // 1/3·0.1 is not a bfloat16: the state holds its rounding, not it.
  CHECK(m[1] != (1.0f - 0.9f) * g[1]);
}

TEST_CASE("bf16 state: 50 steps equal the reference loop", "[bf16]") {
  SECTION("Adam") {
    descent::Adam<float>::Options o;
    o.lr = 0.01f;
    check_against_reference<descent::Adam<float>>(o, adam_ref(o), 2);
    o.amsgrad = true;
    o.eps_placement = descent::EpsPlacement::OutsideSqrt;
    o.weight_decay = 0.01f;
    check_against_reference<descent::Adam<float>>(o, adam_ref(o), 3);
  }
  SECTION("AdamW") {
    descent::AdamW<float>::Options o;
    o.lr = 0.01f;
    check_against_reference<descent::AdamW<float>>(o, adam_ref(o), 2);
  }
  SECTION("AdaGrad") {
    descent::AdaGrad<float>::Options o;
    o.lr = 0.05f;
    o.initial_accumulator = 0.1f;  // not a bfloat16: rounded at the start too
    check_against_reference<descent::AdaGrad<float>>(o, adagrad_ref(o), 1, 0.1f);
  }
  SECTION("RMSprop, every variant") {
    for (const bool centered : {false, true}) {
      for (const float momentum : {0.0f, 0.9f}) {
        for (const auto form : {descent::MomentumForm::Keras, descent::MomentumForm::PyTorch}) {
          CAPTURE(centered, momentum, int(form));
          descent::RMSprop<float>::Options o;
          o.lr = 0.01f;
          o.centered = centered;
          o.momentum = momentum;
          o.momentum_form = form;
          o.eps_placement =
              centered ? descent::EpsPlacement::OutsideSqrt : descent::EpsPlacement::InsideSqrt;
          check_against_reference<descent::RMSprop<float>>(o, rmsprop_ref(o), 3);
        }
      }
    }
  }
  SECTION("SGD with momentum, both forms, heavy ball and Nesterov") {
    for (const auto form : {descent::MomentumForm::Keras, descent::MomentumForm::PyTorch}) {
      for (const bool nesterov : {false, true}) {
        CAPTURE(int(form), nesterov);
        descent::SGD<float>::Options o;
        o.lr = 0.02f;
        o.momentum = 0.9f;
        o.nesterov = nesterov;
        o.momentum_form = form;
        check_against_reference<descent::SGD<float>>(o, sgd_ref(o), 1);
      }
    }
  }
  SECTION("Momentum and Nesterov") {
    descent::Momentum<float>::Options o;
    o.lr = 0.05f;
    check_against_reference<descent::Momentum<float>>(o, dampened_ref(o, false), 1);
    descent::Nesterov<float>::Options on;
    on.lr = 0.05f;
    check_against_reference<descent::Nesterov<float>>(on, dampened_ref(on, true), 1);
  }
}

TEST_CASE("bf16 state: stochastic rounding", "[bf16]") {
  descent::Adam<float>::Options o;
  o.lr = 0.01f;
  o.state_storage = StateStorage::BFloat16;
  o.stochastic_rounding = true;
  o.rounding_seed = 12345;
  const Index n = 1003;

  SECTION("equals the documented hash, element by element, in packets and tails") {
    for (const Index size : {Index(1), Index(7), Index(33), n}) {
      CAPTURE(size);
      descent::Adam<float> adam(o);
      std::int64_t t = 0;
      CHECK(compare(adam, adam_ref(o), size, 50, stochastic(o.rounding_seed, &t), &t, 0.0f, 2) ==
            0);
    }
  }
  SECTION("same seed, same bits; another seed, other bits; and not nearest") {
    auto run = [&](descent::Adam<float>::Options opts) {
      descent::Adam<float> adam(opts);
      VecF x = start(n);
      for (std::int64_t t = 1; t <= 20; ++t) adam.step(x, gradient(x, t));
      return x;
    };
    const VecF a = run(o), b = run(o);
    CHECK(first_difference(a, b) == -1);
    auto other = o;
    other.rounding_seed = 12346;
    CHECK(first_difference(a, run(other)) >= 0);
    auto rne = o;
    rne.stochastic_rounding = false;
    CHECK(first_difference(a, run(rne)) >= 0);
  }
  SECTION("unbiased: the mean rounding error over many elements is about 0") {
    // SGD with momentum 0.5 and lr 1 from v = 0: after one step the state
    // holds v = round(−d). Each rounding error round(−d) − (−d) has mean 0
    // under stochastic rounding and a standard deviation below ulp/2, so
    // over N elements |mean| < 2·ulp/√N (4 standard deviations) but for a
    // chance below 1e-4. Every d lies in the lowest 30% of a bf16
    // interval, so nearest rounding errs by 0.15 ulp on average.
    descent::SGD<float>::Options so;
    so.lr = 1.0f;
    so.momentum = 0.5f;
    so.state_storage = StateStorage::BFloat16;
    so.stochastic_rounding = true;
    so.rounding_seed = 7;
    const Index N = 1 << 18;
    VecF d(N);
    for (Index i = 0; i < N; ++i) d[i] = 1.0f + 0.3f * float(i) / float(N) * 0x1p-7f;
    const auto mean_error = [&](const descent::SGD<float>::Options& opts) {
      descent::SGD<float> sgd(opts);
      VecF x = VecF::Zero(N);
      sgd.step(x, d);
      const VecF v = arrays_of(sgd, {true})[0];
      double sum = 0;
      for (Index i = 0; i < N; ++i) sum += double(v[i]) + double(d[i]);
      return sum / double(N);
    };
    const double ulp = 0x1p-7;  // of bfloat16 in [1, 2)
    const double bound = 2.0 * ulp / std::sqrt(double(N));
    CHECK(std::abs(mean_error(so)) < bound);
    auto nearest_options = so;
    nearest_options.stochastic_rounding = false;
    CHECK(mean_error(nearest_options) == Approx(0.15 * ulp).epsilon(0.01));
  }
}

TEST_CASE("bf16 state: the same bits on 1, 2 and 3 threads and through ParamGroups", "[bf16]") {
  const Index n = 2 * 65536 + 37;
  for (const bool stochastic_rounding : {false, true}) {
    CAPTURE(stochastic_rounding);
    descent::RMSprop<float>::Options o;
    o.lr = 0.01f;
    o.centered = true;
    o.momentum = 0.5f;
    o.state_storage = StateStorage::BFloat16;
    o.stochastic_rounding = stochastic_rounding;
    std::vector<VecF> results;
    for (const int threads : {1, 2, 3}) {
      descent::RMSprop<float> opt(o);
      opt.set_threads(threads);
      VecF x = start(n);
      for (std::int64_t t = 1; t <= 5; ++t) opt.step(x, gradient(x, t));
      results.push_back(x);
    }
    CHECK(first_difference(results[0], results[1]) == -1);
    CHECK(first_difference(results[0], results[2]) == -1);

    // Two tensors in one group, on 3 threads, each as if stepped alone.
    descent::ParamGroups<float> groups({{descent::RMSprop<float>(o), 2}});
    groups.set_threads(3);
    VecF a = start(n), b = start(77);
    for (std::int64_t t = 1; t <= 5; ++t) {
      const VecF ga = gradient(a, t), gb = gradient(b, t);
      groups.step({{a, ga}, {b, gb}});
    }
    // b alone, at its place after a in the concatenation.
    descent::RMSprop<float> alone(o);
    alone.set_element_offset(n);
    VecF c = start(77);
    for (std::int64_t t = 1; t <= 5; ++t) alone.step(c, gradient(c, t));
    CHECK(first_difference(a, results[0]) == -1);
    CHECK(first_difference(b, c) == -1);
  }
}

TEST_CASE("bf16 state: pieces stepped apart at their element offsets round as the whole",
          "[bf16]") {
  const Index n = 1003, cut = 389;
  auto o = bf16<descent::Adam<float>>({});
  o.lr = 0.01f;
  o.stochastic_rounding = true;
  o.rounding_seed = 7;
  descent::Adam<float> whole(o), head(o), tail(o), tail_at_zero(o);
  tail.set_element_offset(cut);
  CHECK(tail.element_offset() == cut);
  CHECK(head.element_offset() == 0);
  VecF x = start(n), y = x, z = x.tail(n - cut);
  for (std::int64_t t = 1; t <= 20; ++t) {
    const VecF g = gradient(x, t), gy = gradient(y, t);
    whole.step(x, g);
    VecF yh = y.head(cut), yt = y.tail(n - cut);
    head.step(yh, gy.head(cut));
    tail.step(yt, gy.tail(n - cut));
    y << yh, yt;
    tail_at_zero.step(z, VecF(gy.tail(n - cut)));
  }
  CHECK(first_difference(x, y) == -1);
  // Without its offset the tail draws the head's bits: its rounding differs.
  CHECK(first_difference(VecF(x.tail(n - cut)), z) >= 0);
  CHECK_THROWS_AS(tail.set_element_offset(-1), std::invalid_argument);
}

TEST_CASE("bf16 state: NaN and inf at the rounding", "[bf16]") {
  descent::SGD<float>::Options o;
  o.lr = 1.0f;
  o.momentum = 0.5f;
  o.state_storage = StateStorage::BFloat16;
  for (const bool stochastic_rounding : {false, true}) {
    CAPTURE(stochastic_rounding);
    o.stochastic_rounding = stochastic_rounding;
    descent::SGD<float> sgd(o);
    const float inf = std::numeric_limits<float>::infinity();
    // A NaN whose payload is only in the low 16 bits, ±inf, the largest
    // float (rounds to inf to nearest), in a packet and in the tail.
    VecF g(11);
    g << from_bits(0x7F800001u), -inf, inf, from_bits(0xFF800003u), 1.0f, -2.0f, 3.0f, 4.0f,
        from_bits(0x7F800001u), inf, -std::numeric_limits<float>::max();
    VecF x = VecF::Zero(11);
    sgd.step(x, g);  // v = round(0.5·0 − 1·g)
    const VecF v = arrays_of(sgd, {true})[0];
    if (!stochastic_rounding) {
      for (Index i = 0; i < 11; ++i) {
        CAPTURE(i);
        CHECK(bits(v[i]) == bits(nearest(0.5f * 0.0f - 1.0f * g[i])));
      }
    }
    CHECK(std::isnan(v[0]));
    CHECK((bits(v[0]) & 0x7FFFFFFFu) == 0x7FC00000u);  // quiet, not inf
    CHECK(v[1] == inf);
    CHECK(v[2] == -inf);
    CHECK(std::isnan(v[3]));
    CHECK(std::isnan(v[8]));
    CHECK(v[9] == -inf);
    if (!stochastic_rounding) CHECK(v[10] == inf);
    CHECK(v[4] == -1.0f);
    // The next step reads them back as they are.
    VecF g2 = VecF::Zero(11);
    sgd.step(x, g2);
    CHECK(std::isnan(x[0]));
    CHECK(x[1] == inf);
  }
}

TEST_CASE("bf16 state: checkpoints", "[bf16]") {
  descent::Adam<float>::Options o;
  o.lr = 0.01f;
  o.amsgrad = true;
  o.state_storage = StateStorage::BFloat16;
  o.stochastic_rounding = true;
  o.rounding_seed = 4000000000u;  // above 2^31: the field is a uint32
  const Index n = 1003;

  SECTION("a round trip resumes bit for bit, options and storage included") {
    descent::Adam<float> a(o);
    VecF x = start(n);
    for (std::int64_t t = 1; t <= 10; ++t) a.step(x, gradient(x, t));
    std::stringstream saved;
    a.save(saved);
    descent::Adam<float> b;  // float state, other options: the checkpoint's win
    b.load(saved);
    CHECK(b.options().state_storage == StateStorage::BFloat16);
    CHECK(b.options().stochastic_rounding);
    CHECK(b.options().rounding_seed == 4000000000u);
    VecF y = x;
    for (std::int64_t t = 11; t <= 20; ++t) {
      a.step(x, gradient(x, t));
      b.step(y, gradient(y, t));
    }
    CHECK(first_difference(x, y) == -1);
    CHECK(descent::detail::mpi::bytes_of(a) == descent::detail::mpi::bytes_of(b));
  }
  SECTION("a float-state checkpoint makes a bf16 optimizer float again") {
    auto f = o;
    f.state_storage = StateStorage::Same;
    f.stochastic_rounding = false;
    descent::Adam<float> a(f);
    VecF x = start(n);
    for (std::int64_t t = 1; t <= 3; ++t) a.step(x, gradient(x, t));
    std::stringstream saved;
    a.save(saved);
    descent::Adam<float> b(o);
    VecF y = start(n);
    b.step(y, gradient(y, 1));
    b.load(saved);
    CHECK(b.options().state_storage == StateStorage::Same);
    y = x;
    a.step(x, gradient(x, 4));
    b.step(y, gradient(y, 4));
    CHECK(first_difference(x, y) == -1);
  }
  SECTION("a value that is not a bfloat16 is refused") {
    descent::Adam<float> a(o);
    VecF x = start(5);
    a.step(x, gradient(x, 1));
    std::istringstream in(descent::detail::mpi::bytes_of(a));
    descent::detail::Reader r(in, "test", descent::detail::ObjectKind::Optimizer, "Adam", 4);
    descent::detail::mpi::CheckpointParts<float> c;
    descent::detail::mpi::read_head(r, c);
    descent::detail::mpi::read_arrays(r, c, {true, true, true});
    c.arrays[1][3] = 0.1f;  // v[3]: 0.1f has low bits set
    std::istringstream bad(descent::detail::mpi::write_parts(c, "Adam", "test"));
    descent::Adam<float> b(o);
    CHECK_THROWS_WITH(b.load(bad),
                      "descent::Adam::load: state array v[3] is 0.1, which is not a bfloat16, as "
                      "state_storage BFloat16 keeps every element");
    CHECK(b.state_size() == -1);  // unchanged
    // The same arrays with the options of float state load.
    for (auto& option : c.options) {
      if (option.first == "state_storage" || option.first == "stochastic_rounding") {
        option.second = 0.0;
      }
    }
    std::istringstream good(descent::detail::mpi::write_parts(c, "Adam", "test"));
    descent::Adam<float> f;
    f.load(good);
    CHECK(f.options().state_storage == StateStorage::Same);
  }
  SECTION("a checkpoint written before the storage options loads as Same") {
    auto f = o;
    f.state_storage = StateStorage::Same;
    f.stochastic_rounding = false;
    f.rounding_seed = 0;
    descent::Adam<float> a(f);
    VecF x = start(5);
    a.step(x, gradient(x, 1));
    std::istringstream in(descent::detail::mpi::bytes_of(a));
    descent::detail::Reader r(in, "test", descent::detail::ObjectKind::Optimizer, "Adam", 4);
    descent::detail::mpi::CheckpointParts<float> c;
    descent::detail::mpi::read_head(r, c);
    descent::detail::mpi::read_arrays(r, c, {true, true, true});
    std::vector<std::pair<std::string, double>> kept;
    for (const auto& option : c.options) {
      if (option.first != "state_storage" && option.first != "stochastic_rounding" &&
          option.first != "rounding_seed") {
        kept.push_back(option);
      }
    }
    REQUIRE(kept.size() + 3 == c.options.size());
    c.options = kept;
    std::istringstream old(descent::detail::mpi::write_parts(c, "Adam", "test"));
    descent::Adam<float> b(o);
    b.load(old);
    CHECK(b.options().state_storage == StateStorage::Same);
    CHECK(!b.options().stochastic_rounding);
    CHECK(descent::detail::mpi::bytes_of(a) == descent::detail::mpi::bytes_of(b));
  }
}

TEST_CASE("bf16 state: options, make_optimizer and double", "[bf16]") {
  auto made = descent::make_optimizer<float>("rmsprop", {{"state_storage", "bf16"},
                                                         {"stochastic_rounding", "true"},
                                                         {"rounding_seed", "99"},
                                                         {"momentum", "0.9"}});
  VecF x = start(9), y = start(9);
  descent::RMSprop<float>::Options o;
  o.state_storage = StateStorage::BFloat16;
  o.stochastic_rounding = true;
  o.rounding_seed = 99;
  o.momentum = 0.9f;
  descent::RMSprop<float> direct(o);
  for (std::int64_t t = 1; t <= 5; ++t) {
    made->step(x, gradient(x, t));
    direct.step(y, gradient(y, t));
  }
  CHECK(first_difference(x, y) == -1);
  CHECK_THROWS_WITH(descent::make_optimizer<float>("adam", {{"state_storage", "half"}}),
                    Catch::Contains("valid values: same, bf16"));

  descent::Adam<double>::Options d;
  d.state_storage = StateStorage::BFloat16;
  CHECK_THROWS_WITH(descent::Adam<double>(d),
                    "descent::Adam: state_storage BFloat16 needs float parameters: its math is "
                    "float, and a double optimizer keeps double state; got BFloat16 with double");
  descent::SGD<float>::Options s;
  s.stochastic_rounding = true;
  CHECK_THROWS_WITH(descent::SGD<float>(s),
                    "descent::SGD: stochastic_rounding rounds bfloat16 state and needs "
                    "state_storage BFloat16, got stochastic_rounding with state_storage Same");
  s.state_storage = StateStorage::BFloat16;
  CHECK_NOTHROW(descent::SGD<float>(s));
  // The non-finite policy acts before the state is touched.
  descent::Adam<float>::Options t;
  t.state_storage = StateStorage::BFloat16;
  t.nonfinite = descent::NonFinite::Skip;
  descent::Adam<float> skip(t);
  VecF p = start(9);
  VecF g = gradient(p, 1);
  g[4] = std::numeric_limits<float>::quiet_NaN();
  const VecF before = p;
  skip.step(p, g);
  CHECK(skip.skipped_steps() == 1);
  CHECK(first_difference(p, before) == -1);
}
