// Instantiates every public template of descent, so that the library's
// headers are compiled under the strictest warning set this target adds
// (-Wconversion -Wshadow on top of -Wall -Wextra -Wpedantic).

#include <cstdint>
#include <sstream>
#include <vector>

#include <Eigen/SparseCore>
#include <descent/descent.hpp>

namespace {

template <typename S, typename Opt>
void exercise(Opt opt) {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  Vec x = Vec::Ones(100);
  const Vec g = Vec::Constant(100, S(0.5));
  opt.step(x, g);
  opt.step(x.segment(0, 100), g * S(2));
  Eigen::Array<S, Eigen::Dynamic, 1> a = x.array();
  opt.step(a, g.array());
  std::vector<S> raw(100, S(1));
  opt.step(Eigen::Map<Vec>(raw.data(), 100), Eigen::Map<const Vec>(raw.data(), 100));
  descent::Optimizer<S>& base = opt;
  base.set_threads(2);
  base.step(x, g);
  std::stringstream io;
  base.save(io);
  base.load(io);
  descent::StepLR<S> step_lr(base, 2);
  descent::LambdaLR<S> lambda_lr(base, [](std::int64_t e) { return 1.0 / double(e + 1); });
  step_lr.step();
  lambda_lr.step();
  std::stringstream sio;
  step_lr.save(sio);
  step_lr.load(sio);
  (void)opt.options();
  // Matrices, after reset(): Adafactor builds its state for one shape.
  opt.reset();
  Mat m = Mat::Ones(10, 10);
  opt.step(m, Mat::Ones(10, 10));
  opt.reset();
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r(4, 25);
  r.setOnes();
  opt.step(r, r * S(0.5));
  std::stringstream matrix_io;
  base.save(matrix_io);
  base.load(matrix_io);
}

template <typename S>
void exercise_schedulers() {
  descent::SGD<S> a, b;
  const std::vector<descent::Optimizer<S>*> both{&a, &b};
  descent::MultiStepLR<S> multi_step(both, {2, 4});
  descent::ExponentialLR<S> exponential(both, 0.9);
  descent::CosineAnnealingLR<S> cosine(both, 10, 0.001);
  descent::LinearLR<S> linear(both);
  descent::ConstantLR<S> constant(both);
  descent::SequentialLR<S> sequential({&linear, &cosine}, {5});
  descent::ChainedScheduler<S> chained({&constant, &exponential, &multi_step});
  descent::OneCycleLR<S> one_cycle(both, {0.1, 0.2}, 100);
  descent::ReduceLROnPlateau<S> plateau(both);
  for (descent::LRScheduler<S>* s :
       std::vector<descent::LRScheduler<S>*>{&multi_step, &exponential, &cosine, &linear, &constant,
                                             &sequential, &chained, &one_cycle}) {
    s->step();
    std::stringstream io;
    s->save(io);
    s->load(io);
  }
  plateau.step(1.0);
  std::stringstream io;
  plateau.save(io);
  plateau.load(io);

  // torch 1.13's other schedulers, momentum cycling and the setters.
  descent::MultiplicativeLR<S> multiplicative(both, [](std::int64_t) { return 0.9; });
  descent::PolynomialLR<S> polynomial(both, 10, 2.0);
  descent::CosineAnnealingWarmRestarts<S> warm(both, 3, 2, 0.001);
  warm.step(2.5);
  typename descent::CyclicLR<S>::Options cyclic_options;
  cyclic_options.cycle_momentum = true;
  descent::CyclicLR<S> cyclic(both, 0.01, 0.1, cyclic_options);
  typename descent::OneCycleLR<S>::Options one_cycle_options;
  one_cycle_options.cycle_momentum = true;
  descent::OneCycleLR<S> one_cycle_momentum(both, 0.1, 100, one_cycle_options);
  auto warmup_cosine = descent::WarmupCosineLR<S>::optax(both, 0.0, 0.1, 5, 50);
  for (descent::LRScheduler<S>* s : std::vector<descent::LRScheduler<S>*>{
           &multiplicative, &polynomial, &warm, &cyclic, &one_cycle_momentum, &warmup_cosine}) {
    s->step();
    std::stringstream saved;
    s->save(saved);
    s->load(saved);
  }
  a.set_momentum(a.momentum());
  a.set_weight_decay(S(0.01));
  (void)a.weight_decay();
}

template <typename S>
void exercise_averaging() {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  descent::SGD<S> a, b;
  descent::SWALR<S> swalr({&a, &b}, std::vector<double>{0.1, 0.2}, 3,
                          descent::SWALR<S>::Anneal::linear);
  swalr.step();
  std::stringstream sio;
  swalr.save(sio);
  swalr.load(sio);
  for (const auto& options :
       {descent::WeightAverage<S>::Options::ema(0.9), descent::WeightAverage<S>::Options::swa()}) {
    descent::WeightAverage<S> average(options);
    average.set_threads(2);
    Vec x = Vec::Ones(10);
    Eigen::Array<S, Eigen::Dynamic, 1> y = x.array();
    average.update(x);
    average.update(y);
    average.swap(x);
    average.swap(x);
    { auto guard = average.swapped_in(Eigen::Map<Vec>(x.data(), 10)); }
    average.copy_to(x);
    std::stringstream io;
    average.save(io);
    average.load(io);
    average.reset();
  }
  descent::Adam<S> adam;
  descent::Lookahead<S> lookahead(adam, {2, 0.5, true});
  descent::GradientAccumulation<S> accumulation(
      adam, {2, descent::GradientAccumulation<S>::Mean::RunningMean});
  lookahead.set_threads(2);
  accumulation.set_threads(2);
  Vec x = Vec::Ones(10);
  const Vec g = Vec::Constant(10, S(0.5));
  for (int t = 0; t < 3; ++t) {
    lookahead.step(x, g);
    accumulation.step(x, g * S(2));
    accumulation.step(x.segment(0, 10), g);
  }
  std::stringstream io;
  lookahead.save(io);
  lookahead.load(io);
  accumulation.save(io);
  accumulation.load(io);
  (void)lookahead.slow_weights();
  (void)accumulation.accumulated();
  for (const auto& options :
       {descent::ScheduleFree<S>::Options::sgd(), descent::ScheduleFree<S>::Options::adamw()}) {
    descent::ScheduleFree<S> sf(options);
    sf.set_threads(2);
    sf.step(x, g);
    sf.step(x.segment(0, 10), g * S(2));
    sf.eval(x);
    sf.train(x);
    sf.set_lr(S(0.1));
    std::stringstream sf_io;
    sf.save(sf_io);
    sf.load(sf_io);
    sf.reset();
  }
}

template <typename S>
void exercise_clip_and_factory() {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  Vec v = Vec::Ones(10);
  Eigen::Array<S, Eigen::Dynamic, 1> a = Eigen::Array<S, Eigen::Dynamic, 1>::Ones(5);
  using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  Mat m = Mat::Ones(3, 4);
  std::vector<Vec> range(2, v);
  Eigen::VectorXd d = Eigen::VectorXd::Ones(3);
  descent::ClipGradNormOptions clip_options;
  clip_options.error_if_nonfinite = true;
  (void)descent::clip_grad_norm(1.0, v);
  (void)descent::clip_grad_norm(1.0, 3.0, v, a, m.row(1), range, d);
  (void)descent::clip_grad_norm(1.0, clip_options, Eigen::Map<Vec>(v.data(), 4), m.col(0));
  descent::clip_grad_value(0.5, v, a, m, range, d.segment(1, 2));
  for (const std::string& name : descent::optimizer_names()) {
    auto opt = descent::make_optimizer<S>(name, {{"lr", "0.1"}, {"nonfinite", "skip"}});
    opt->step(v, Vec::Ones(10));
  }
}

template <typename S>
void exercise_lbfgs() {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  const auto f = [](const Vec& x, Vec& g) {
    g = S(2) * x;
    return x.squaredNorm();
  };
  const auto by_ref = [](const Eigen::Ref<const Vec>& x, Eigen::Ref<Vec> g) {
    g = S(2) * x;
    return double(x.squaredNorm());
  };
  for (const auto line_search : {descent::LineSearch::None, descent::LineSearch::StrongWolfe}) {
    typename descent::LBFGS<S>::Options o;
    o.line_search = line_search;
    o.history_size = 3;
    o.nonfinite = descent::NonFinite::Skip;
    descent::LBFGS<S> opt(o);
    Vec x = Vec::LinSpaced(10, S(-1), S(1));
    (void)opt.step(x, f);
    Eigen::Array<S, Eigen::Dynamic, 1> a = x.array() + S(1);
    (void)opt.step(a, by_ref);
    std::vector<S> raw(10, S(1));
    (void)opt.step(Eigen::Map<Vec>(raw.data(), 10), f);
    std::stringstream io;
    opt.save(io);
    opt.load(io);
    opt.set_lr(S(0.5));
    (void)opt.options();
    (void)opt.max_eval();
  }
}

template <typename Low>
void exercise_mixed_precision() {
  using LowVec = Eigen::Matrix<Low, Eigen::Dynamic, 1>;
  descent::Adam<float> adam;
  descent::MixedPrecision<Low> mp(adam);
  descent::LossScaler scaler;
  LowVec x = Eigen::VectorXf::Ones(10).cast<Low>();
  Eigen::Matrix<Low, Eigen::Dynamic, Eigen::Dynamic> m =
      Eigen::MatrixXf::Ones(2, 5).template cast<Low>();
  mp.set_master(Eigen::VectorXf::Ones(10));
  mp.step(x, x);
  mp.step(x, Eigen::VectorXf::Ones(10));
  mp.step(m, m);
  (void)mp.step(x, x, scaler);
  (void)scaler.step(mp, x.segment(0, 10), x * Low(2));
  (void)mp.master();
  std::stringstream io;
  mp.save(io);
  mp.load(io);
  mp.reset();
  Eigen::VectorXf g = Eigen::VectorXf::Ones(10);
  Eigen::MatrixXd d = Eigen::MatrixXd::Ones(4, 3);
  (void)scaler.unscale(g);
  (void)scaler.unscale(d.middleRows(1, 2));
  (void)scaler.unscale(x, g);
  (void)scaler.scaled(2.0);
  (void)scaler.step(adam, g, g);
  scaler.save(io);
  scaler.load(io);
  scaler.reset();
}

// The sparse steps, of a table and of a vector.
template <typename Opt>
void exercise_sparse() {
  using S = typename Opt::Scalar;
  Opt opt;
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> table(4, 3);
  table.setOnes();
  descent::RowSparse<S> g;
  g.indices.resize(2);
  g.indices << 3, 1;
  g.rows.setOnes(2, 3);
  opt.step(table, g);
  Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>> flat(table.data(), table.size());
  Eigen::SparseVector<S> sparse(12);
  sparse.insert(5) = S(1);
  opt.step(flat, sparse);
}

// Muon's matrix steps, in both storage orders and both orientations, and
// its lr adjustments.
template <typename S>
void exercise_muon() {
  typename descent::Muon<S>::Options o;
  o.adjust_lr = descent::MuonLrAdjust::MatchRmsAdamW;
  o.ns_steps = 3;
  descent::Muon<S> tall(o), wide;
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> a = Eigen::Matrix<S, 5, 3>::Ones();
  tall.step(a, a);
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> b(3, 5);
  b.setOnes();
  wide.step(b, b);
  (void)descent::Muon<S>::lr_ratio(descent::MuonLrAdjust::Original, 5, 3);
}

template <typename S>
void exercise_all() {
  exercise_muon<S>();
  exercise_sparse<descent::SparseAdam<S>>();
  exercise_sparse<descent::AdaGrad<S>>();
  exercise_lbfgs<S>();
  exercise_clip_and_factory<S>();
  exercise_schedulers<S>();
  exercise_averaging<S>();
  descent::detail::for_each_optimizer<S>(
      [](const auto&, auto tag) { exercise<S>(typename decltype(tag)::type()); });
}

}  // namespace

void descent_strict_warnings() {
  exercise_all<float>();
  exercise_all<double>();
  exercise_mixed_precision<Eigen::half>();
  exercise_mixed_precision<Eigen::bfloat16>();
  descent::MinibatchSampler sampler(10, 3, 1);
  (void)sampler.next();
}
