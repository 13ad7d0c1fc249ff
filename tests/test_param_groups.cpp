// Parameter groups: descent::ParamGroups against torch.optim 1.13 with two and
// three param groups and StepLR (tools/make_param_groups_reference.py writes
// tests/data/param_groups_reference.hpp), bit-for-bit identities with each
// tensor stepped alone (one thread or several), and the contract: errors,
// non-finite gradients, the groups' handles, checkpoints.

#include "data/param_groups_reference.hpp"
#include "instantiations.hpp"
#include "support.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/adam.hpp>
#include <descent/adamw.hpp>
#include <descent/make_optimizer.hpp>
#include <descent/muon.hpp>
#include <descent/param_groups.hpp>
#include <descent/rmsprop.hpp>
#include <descent/sgd.hpp>
#include <descent/step_lr.hpp>

namespace {

namespace pr = param_groups_reference;
using descent::ParamGrad;
using descent::ParamGroups;
using Eigen::Index;
using support::bitwise_equal;
using support::bytes_of;
using support::require_message;
using support::require_refused;

template <typename S>
using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using ColMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

// A group of the reference as descent options: torch's forms (PyTorch's
// momentum buffer, eps outside the root).
template <typename S>
typename ParamGroups<S>::Group reference_group(const std::string& optimizer, const pr::Group& g) {
  const auto n = static_cast<std::size_t>(g.tensors);
  if (optimizer == "sgd") {
    auto o = descent::SGD<S>::Options::pytorch();
    o.lr = S(g.lr);
    o.momentum = S(g.momentum);
    o.nesterov = g.nesterov;
    o.weight_decay = S(g.weight_decay);
    return {descent::SGD<S>(o), n};
  }
  if (optimizer == "rmsprop") {
    auto o = descent::RMSprop<S>::Options::pytorch();
    o.lr = S(g.lr);
    o.rho = S(g.beta2);
    o.momentum = S(g.momentum);
    o.centered = g.centered;
    o.weight_decay = S(g.weight_decay);
    return {descent::RMSprop<S>(o), n};
  }
  const auto adam_options = [&](auto o) {
    o.lr = S(g.lr);
    o.beta1 = S(g.momentum);
    o.beta2 = S(g.beta2);
    o.weight_decay = S(g.weight_decay);
    return o;
  };
  if (optimizer == "adam")
    return {descent::Adam<S>(adam_options(descent::Adam<S>::Options::pytorch())), n};
  return {descent::AdamW<S>(adam_options(descent::AdamW<S>::Options::pytorch())), n};
}

// The reference's four tensors: W1 row-major and W2 column-major (so both
// storage orders meet torch's row-major data), b1 and b2 vectors.
template <typename S>
struct Network {
  RowMajor<S> W1 = RowMajor<S>(4, 3), dW1 = RowMajor<S>(4, 3);
  Vec<S> b1 = Vec<S>(4), db1 = Vec<S>(4);
  ColMajor<S> W2 = ColMajor<S>(2, 4), dW2 = ColMajor<S>(2, 4);
  Vec<S> b2 = Vec<S>(2), db2 = Vec<S>(2);

  // Sets tensor values (params or grads) from 26 row-major values.
  static void assign(const double* v, RowMajor<S>& W1_, Vec<S>& b1_, ColMajor<S>& W2_,
                     Vec<S>& b2_) {
    for (Index k = 0; k < 12; ++k) W1_(k / 3, k % 3) = S(v[k]);
    for (Index k = 0; k < 4; ++k) b1_(k) = S(v[12 + k]);
    for (Index k = 0; k < 8; ++k) W2_(k / 4, k % 4) = S(v[16 + k]);
    for (Index k = 0; k < 2; ++k) b2_(k) = S(v[24 + k]);
  }
  // Tensor t's value at row-major position k.
  double at(int t, Index k) const {
    switch (t) {
      case 0:
        return double(W1(k / 3, k % 3));
      case 1:
        return double(b1(k));
      case 2:
        return double(W2(k / 4, k % 4));
      default:
        return double(b2(k));
    }
  }
  ParamGrad<S> pair(int t) {
    switch (t) {
      case 0:
        return {W1, dW1};
      case 1:
        return {b1, db1};
      case 2:
        return {W2, dW2};
      default:
        return {b2, db2};
    }
  }
};

template <typename S>
void check_reference(const pr::Case& c) {
  std::vector<typename ParamGroups<S>::Group> groups;
  for (int g = 0; g < c.groups; ++g) groups.push_back(reference_group<S>(c.optimizer, c.group[g]));
  ParamGroups<S> opt(std::move(groups));
  std::unique_ptr<descent::StepLR<S>> schedule;
  if (c.step_lr) schedule = std::make_unique<descent::StepLR<S>>(opt, 4, 0.5);
  Network<S> net;
  Network<S>::assign(pr::kX0, net.W1, net.b1, net.W2, net.b2);
  const double tol = std::is_same<S, double>::value ? 1e-12 : 5e-6;
  double worst = 0;
  for (int step = 0; step < pr::kSteps; ++step) {
    Network<S>::assign(pr::kGrad[step], net.dW1, net.db1, net.dW2, net.db2);
    std::vector<ParamGrad<S>> list;
    for (const int t : c.order) list.push_back(net.pair(t));
    opt.step(list);
    if (schedule) schedule->step();
    for (int t = 0; t < pr::kTensors; ++t) {
      for (Index k = 0; k < pr::kSize[t]; ++k) {
        const double want = c.x[step][pr::kOffset[t] + k];
        worst = std::max(worst, std::abs(net.at(t, k) - want) / std::max(1.0, std::abs(want)));
      }
    }
  }
  INFO(c.id << " " << c.dtype << ": max relative error " << worst);
  CHECK(worst <= tol);
  CHECK(opt.iterations() == pr::kSteps);
}

TEST_CASE("param groups reproduce torch.optim 1.13 with two and three groups", "[param_groups]") {
  int cases = 0;
  for (const pr::Case& c : pr::kCases) {
    if (std::string(c.dtype) == "float64") {
      check_reference<double>(c);
    } else {
      check_reference<float>(c);
    }
    ++cases;
  }
  CHECK(cases ==
        24);  // SGD, SGD Nesterov, Adam, AdamW, RMSprop, centered RMSprop × 2 layouts × 2 dtypes
}

// Tensors of many sizes, some above the threshold at which one tensor is
// split across threads.
template <typename S>
struct Tensors {
  std::vector<Vec<S>> x, g;
  explicit Tensors(const std::vector<Index>& sizes) {
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      x.push_back(Vec<S>::LinSpaced(sizes[k], S(-1), S(1)) * S(0.5 + double(k) / 8));
      g.push_back(Vec<S>::LinSpaced(sizes[k], S(2), S(-1.5)).array().sin().matrix());
    }
  }
  std::vector<ParamGrad<S>> list() {
    std::vector<ParamGrad<S>> l;
    for (std::size_t k = 0; k < x.size(); ++k) l.emplace_back(x[k], g[k]);
    return l;
  }
  void regrade(int step) {
    for (auto& gk : g) gk = (gk.array() * S(0.9) + S(0.01) * S(step)).matrix();
  }
};

TEST_CASE("a group step is each tensor's own step, bit for bit, on any number of threads",
          "[param_groups][threads]") {
  using S = float;
  const std::vector<Index> sizes{70001, 300, 5, 65536, 1000, 17, 4096, 0, 200000, 33};
  descent::AdamW<S>::Options decay = descent::AdamW<S>::Options::pytorch();
  decay.lr = 0.01f;
  auto no_decay = decay;
  no_decay.weight_decay = 0;
  no_decay.amsgrad = true;
  for (const int threads : {1, 2, 3}) {
    Tensors<S> grouped(sizes), alone(sizes);
    ParamGroups<S> opt({{descent::AdamW<S>(decay), 6}, {descent::AdamW<S>(no_decay), 4}});
    opt.set_threads(threads);
    std::vector<descent::AdamW<S>> each;
    for (std::size_t k = 0; k < sizes.size(); ++k) each.emplace_back(k < 6 ? decay : no_decay);
    for (int step = 0; step < 4; ++step) {
      opt.step(grouped.list());
      for (std::size_t k = 0; k < sizes.size(); ++k) each[k].step(alone.x[k], alone.g[k]);
      grouped.regrade(step);
      alone.regrade(step);
    }
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      INFO("threads " << threads << ", tensor " << k);
      CHECK(bitwise_equal(grouped.x[k], alone.x[k]));
    }
    CHECK(opt.iterations() == 4);
    CHECK(opt.tensor(0).iterations() == 4);
    CHECK(opt.tensor(7).state_size() == -1);  // the empty tensor keeps no state
  }
}

TEST_CASE("groups may use different optimizers, made by make_optimizer", "[param_groups]") {
  using S = double;
  Tensors<S> grouped({40, 7, 9}), alone({40, 7, 9});
  ParamGroups<S> opt({{[] { return descent::make_optimizer<S>("nesterov"); }, 1},
                      {[] {
                         auto o = descent::make_optimizer<S>("adam");
                         o->set_lr(0.05);
                         return o;
                       },
                       2}});
  auto a = descent::make_optimizer<S>("nesterov");
  auto b = descent::make_optimizer<S>("adam"), c = descent::make_optimizer<S>("adam");
  b->set_lr(0.05);
  c->set_lr(0.05);
  for (int step = 0; step < 3; ++step) {
    opt.step(grouped.list());
    a->step(alone.x[0], alone.g[0]);
    b->step(alone.x[1], alone.g[1]);
    c->step(alone.x[2], alone.g[2]);
  }
  for (std::size_t k = 0; k < 3; ++k) CHECK(bitwise_equal(grouped.x[k], alone.x[k]));
  CHECK(opt.group(0).name() == "Nesterov");
  CHECK(opt.group(1).name() == "Adam");
  CHECK(opt.group_of(2) == 1);
}

TEST_CASE("Muon's matrices and AdamW's vectors step in one call, on any number of threads",
          "[param_groups][threads]") {
  using S = float;
  // Muon reduces over each matrix, so its tensors are never cut between
  // threads; AdamW's are, at 70 001 elements.
  ColMajor<S> W = ColMajor<S>::Random(300, 250), dW = ColMajor<S>::Random(300, 250);
  RowMajor<S> V = RowMajor<S>::Random(40, 64), dV = RowMajor<S>::Random(40, 64);
  Vec<S> b = Vec<S>::Random(70001), db = Vec<S>::Random(70001);
  for (const int threads : {1, 3}) {
    ColMajor<S> W1 = W, W2 = W;
    RowMajor<S> V1 = V, V2 = V;
    Vec<S> b1 = b, b2 = b;
    ParamGroups<S> opt({{descent::Muon<S>(), 2}, {descent::AdamW<S>(), 1}});
    opt.set_threads(threads);
    descent::Muon<S> mw, mv;
    descent::AdamW<S> ab;
    for (int step = 0; step < 3; ++step) {
      opt.step({{W1, dW}, {V1, dV}, {b1, db}});
      mw.step(W2, dW);
      mv.step(V2, dV);
      ab.step(b2, db);
    }
    INFO("threads " << threads);
    CHECK(bitwise_equal(W1, W2));
    CHECK(bitwise_equal(V1, V2));
    CHECK(bitwise_equal(b1, b2));
  }
}

TEST_CASE("a group's handle sets lr, momentum and weight decay for its tensors", "[param_groups]") {
  using S = double;
  auto o = descent::SGD<S>::Options::pytorch();
  o.lr = 0.1;
  o.momentum = 0.5;
  Tensors<S> grouped({5, 6}), alone({5, 6});
  ParamGroups<S> opt({{descent::SGD<S>(o), 1}, {descent::SGD<S>(o), 1}});
  descent::SGD<S> a(o), b(o);
  opt.step(grouped.list());
  a.step(alone.x[0], alone.g[0]);
  b.step(alone.x[1], alone.g[1]);
  opt.set_lr(1, 0.02);
  opt.group(1).set_momentum(0.8);
  opt.group(0).set_weight_decay(0.1);
  b.set_lr(0.02);
  b.set_momentum(0.8);
  a.set_weight_decay(0.1);
  for (int step = 0; step < 2; ++step) {
    opt.step(grouped.list());
    a.step(alone.x[0], alone.g[0]);
    b.step(alone.x[1], alone.g[1]);
  }
  CHECK(bitwise_equal(grouped.x[0], alone.x[0]));
  CHECK(bitwise_equal(grouped.x[1], alone.x[1]));
  CHECK(opt.tensor(1).momentum() == 0.8);
  CHECK(opt.group(0).iterations() == 0);  // a handle never steps

  // Momentum 0 keeps no velocity: the tensors refuse it after the first step,
  // at the next step, before anything changes.
  opt.group(0).set_momentum(0);
  const Vec<S> before = grouped.x[0];
  CHECK_THROWS_WITH(opt.step(grouped.list()), Catch::Contains("momentum"));
  CHECK(bitwise_equal(grouped.x[0], before));
  CHECK(opt.iterations() == 3);
}

TEST_CASE("a group step refuses bad tensors and changes nothing", "[param_groups][errors]") {
  using S = float;
  Vec<S> x(4), g(4), y(3), h(3);
  x.setOnes();
  g.setConstant(0.5f);
  y.setOnes();
  h.setOnes();
  ColMajor<S> M = ColMajor<S>::Ones(3, 4), dM = ColMajor<S>::Ones(3, 4);
  ParamGroups<S> opt({{descent::Adam<S>(), 1}, {descent::Adam<S>(), 1}});
  const std::string before = bytes_of(opt);
  require_message(
      [&] {
        opt.step({{x, g}});
      },
      "descent::ParamGroups::step: got 1 tensors but the groups have 2");
  require_message(
      [&] {
        opt.step({{x, g}, {y, g}});
      },
      "descent::ParamGroups::step: tensor 1 (group 1): params has 3 elements but grad "
      "has 4");
  require_message(
      [&] {
        opt.step({{x, g}, {M.topRows(2), dM.topRows(2)}});
      },
      "descent::ParamGroups::step: tensor 1 (group 1): params and grad must be stored "
      "contiguously");
  require_message(
      [&] {
        opt.step({{x, x}, {y, h}});
      },
      "descent::ParamGroups::step: tensor 0 (group 0): grad overlaps params");
  CHECK(bytes_of(opt) == before);
  CHECK(x == Vec<S>::Ones(4));

  opt.step({{x, g}, {M, dM}});
  const std::string stepped = bytes_of(opt);
  ColMajor<S> T = ColMajor<S>::Ones(4, 3), dT = ColMajor<S>::Ones(4, 3);
  require_message(
      [&] {
        opt.step({{x, g}, {T, dT}});
      },
      "descent::ParamGroups::step: tensor 1 (group 1) is a 4×3 matrix but was a 3×4 "
      "matrix (reset() to change the shapes)");
  CHECK(bytes_of(opt) == stepped);
  opt.reset();
  opt.step({{x, g}, {T, dT}});
  CHECK(opt.iterations() == 1);
}

TEST_CASE("a non-finite gradient throws or skips the whole step, per its group's policy",
          "[param_groups][nonfinite]") {
  using S = double;
  auto skip = descent::Adam<S>::Options::pytorch();
  skip.nonfinite = descent::NonFinite::Skip;
  auto raise = skip;
  raise.nonfinite = descent::NonFinite::Throw;
  Vec<S> a = Vec<S>::Ones(3), da = Vec<S>::Ones(3), b = Vec<S>::Ones(2), db = Vec<S>::Ones(2);
  ParamGroups<S> opt({{descent::Adam<S>(raise), 1}, {descent::Adam<S>(skip), 1}});
  opt.step({{a, da}, {b, db}});
  const std::string before = bytes_of(opt);
  const Vec<S> a0 = a, b0 = b;

  db(1) = std::numeric_limits<S>::quiet_NaN();
  opt.step({{a, da}, {b, db}});  // group 1 skips: so does group 0
  CHECK(opt.skipped_steps() == 1);
  CHECK(opt.iterations() == 1);
  CHECK(bitwise_equal(a, a0));
  CHECK(bitwise_equal(b, b0));

  db(1) = 1;
  da(2) = std::numeric_limits<S>::infinity();
  CHECK_THROWS_AS(opt.step({{a, da}, {b, db}}), std::domain_error);
  CHECK_THROWS_WITH(opt.step({{a, da}, {b, db}}),
                    "descent::ParamGroups::step: grad[2] of tensor 0 (group 0) is inf; parameters "
                    "and state are unchanged");
  CHECK(bitwise_equal(a, a0));
  CHECK(opt.iterations() == 1);
  CHECK(bytes_of(opt).size() == before.size());
}

TEST_CASE("a group checkpoint resumes bit for bit and refuses another layout",
          "[param_groups][checkpoint]") {
  using S = double;
  auto o = descent::RMSprop<S>::Options::pytorch();
  o.momentum = 0.5;
  auto p = o;
  p.lr = 0.003;
  const auto make = [&] {
    return ParamGroups<S>({{descent::RMSprop<S>(o), 2}, {descent::RMSprop<S>(p), 1}});
  };
  RowMajor<S> W = RowMajor<S>::Random(3, 5), dW = RowMajor<S>::Random(3, 5);
  Vec<S> b = Vec<S>::Random(3), db = Vec<S>::Random(3), c = Vec<S>::Random(4),
         dc = Vec<S>::Random(4);
  ParamGroups<S> run = make();
  descent::StepLR<S> schedule(run, 2, 0.1);
  for (int step = 0; step < 3; ++step) {
    run.step({{W, dW}, {b, db}, {c, dc}});
    schedule.step();
  }
  std::stringstream saved;
  run.save(saved);
  const std::string bytes = saved.str();
  RowMajor<S> W2 = W;
  Vec<S> b2 = b, c2 = c;
  ParamGroups<S> resumed = make();
  std::istringstream in(bytes);
  resumed.load(in);
  CHECK(resumed.lr(0) == run.lr(0));
  CHECK(resumed.iterations() == 3);
  CHECK(bytes_of(resumed) == bytes);
  for (int step = 0; step < 3; ++step) {
    run.step({{W, dW}, {b, db}, {c, dc}});
    resumed.step({{W2, dW}, {b2, db}, {c2, dc}});
  }
  CHECK(bitwise_equal(W, W2));
  CHECK(bitwise_equal(b, b2));
  CHECK(bitwise_equal(c, c2));

  ParamGroups<S> other_groups({{descent::RMSprop<S>(o), 3}});
  require_refused(other_groups, bytes, "the checkpoint has 2 groups, these groups 1");
  ParamGroups<S> other_sizes({{descent::RMSprop<S>(o), 1}, {descent::RMSprop<S>(p), 2}});
  require_refused(other_sizes, bytes, "group 0 has 2 tensors in the checkpoint, 1 here");
  ParamGroups<S> other_kind({{descent::Adam<S>(), 2}, {descent::RMSprop<S>(p), 1}});
  require_refused(other_kind, bytes, "a group's checkpoint");
  ParamGroups<S> other_shape = make();
  RowMajor<S> V = RowMajor<S>::Ones(5, 3), dV = RowMajor<S>::Constant(5, 3, 0.5);
  other_shape.step({{V, dV}, {b2, db}, {c2, dc}});
  require_refused(other_shape, bytes,
                  "tensor 0 is a row-major 3×5 matrix in the checkpoint but a row-major 5×3 "
                  "matrix here");
}

}  // namespace
