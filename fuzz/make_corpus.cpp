// Writes the seed corpus of fuzz_checkpoint: one small valid checkpoint of
// every optimizer (float and double), LBFGS, scheduler, weight average,
// optimizer wrapper (mixed precision among them) and loss scaler, after a few steps on 3
// parameters, and of the variants with optional state arrays.
//   make_corpus DIR

#include <cstdint>
#include <cstdio>
#include <string>

#include <descent/descent.hpp>

namespace {

template <typename T>
void write(const T& object, const std::string& path) {
  object.save_file(path);
  std::printf("wrote %s\n", path.c_str());
}

template <typename Opt>
void seed(const std::string& dir, const std::string& name,
          typename Opt::Options options = typename Opt::Options{}) {
  Opt opt(options);
  Eigen::Matrix<typename Opt::Scalar, 3, 1> x(1, -2, 3);
  for (int t = 0; t < 3; ++t) opt.step(x, x);
  write(opt, dir + "/" + name + ".bin");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  // Every optimizer of the registry, in both scalar types.
  const auto both = [&dir](const auto& entry, auto tag) {
    using Opt = typename decltype(tag)::type;
    const char* scalar = sizeof(typename Opt::Scalar) == 4 ? "_float" : "_double";
    seed<Opt>(dir, std::string(entry.name) + scalar);
  };
  descent::detail::for_each_optimizer<float>(both);
  descent::detail::for_each_optimizer<double>(both);
  // The variants whose state arrays are optional.
  auto amsgrad = descent::AdamW<float>::Options::pytorch();
  amsgrad.amsgrad = true;
  seed<descent::AdamW<float>>(dir, "adamw_amsgrad_float", amsgrad);
  auto centered = descent::RMSprop<double>::Options::pytorch();
  centered.centered = true;
  centered.momentum = 0.9;
  seed<descent::RMSprop<double>>(dir, "rmsprop_centered_momentum_double", centered);
  auto buffer = descent::SGD<double>::Options::pytorch();
  buffer.momentum = 0.9;
  buffer.dampening = 0.1;
  seed<descent::SGD<double>>(dir, "sgd_pytorch_double", buffer);
  // bfloat16 state (every array a bfloat16 value), rounded stochastically.
  auto bf16 = descent::Adam<float>::Options{};
  bf16.amsgrad = true;
  bf16.state_storage = descent::StateStorage::BFloat16;
  bf16.stochastic_rounding = true;
  bf16.rounding_seed = 7;
  seed<descent::Adam<float>>(dir, "adam_bf16_float", bf16);
  // Muon's matrix state (the registry's seeds above step a vector, which
  // Muon steps with AdamW): a 3×2 matrix.
  {
    descent::Muon<float> muon;
    Eigen::Matrix<float, 3, 2> w;
    w << 1, -2, 3, 0.5f, -1, 2;
    for (int t = 0; t < 3; ++t) muon.step(w, w);
    write(muon, dir + "/muon_matrix_float.bin");
  }
  // Adafactor's factors of a 2×3 matrix (the registry's seeds are vectors).
  {
    descent::Adafactor<double> adafactor;
    Eigen::Matrix<double, 2, 3> m;
    m << 1, -2, 3, 0.5, 0, -1;
    for (int t = 0; t < 3; ++t) adafactor.step(m, m);
    write(adafactor, dir + "/adafactor_matrix_double.bin");
  }
  // LBFGS, whose history has wrapped: 6 iterations, 2 pairs kept.
  const auto lbfgs = [&dir](auto scalar, const char* name, descent::LineSearch line_search) {
    using S = decltype(scalar);
    using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    typename descent::LBFGS<S>::Options o;
    o.max_iter = 2;
    o.history_size = 2;
    o.line_search = line_search;
    descent::LBFGS<S> opt(o);
    Vec x(3);
    x << S(1), S(-2), S(3);
    const auto f = [](const Vec& p, Vec& g) {
      g = p.cwiseProduct(Vec::LinSpaced(3, S(1), S(3)));
      return S(0.5) * p.dot(g);
    };
    for (int t = 0; t < 3; ++t) opt.step(x, f);
    write(opt, dir + "/" + name + ".bin");
  };
  lbfgs(float{}, "lbfgs_float", descent::LineSearch::None);
  lbfgs(double{}, "lbfgs_wolfe_double", descent::LineSearch::StrongWolfe);
  descent::GradientDescent<double> gd;
  descent::StepLR<double> step_lr(gd, 3);
  step_lr.step();
  write(step_lr, dir + "/step_lr_double.bin");
  descent::LambdaLR<double> lambda_lr(gd, [](std::int64_t e) { return 1.0 / double(e + 1); });
  lambda_lr.step();
  write(lambda_lr, dir + "/lambda_lr_double.bin");
  descent::MultiStepLR<double> multi_step(gd, {2, 5});
  multi_step.step();
  write(multi_step, dir + "/multi_step_lr_double.bin");
  descent::CosineAnnealingLR<double> cosine(gd, 10, 0.001);
  cosine.step();
  write(cosine, dir + "/cosine_annealing_lr_double.bin");
  descent::OneCycleLR<double> one_cycle(gd, 0.1, 20);
  one_cycle.step();
  write(one_cycle, dir + "/one_cycle_lr_double.bin");
  descent::ReduceLROnPlateau<double> plateau(gd);
  plateau.step(1.0);
  plateau.step(2.0);
  write(plateau, dir + "/reduce_lr_on_plateau_double.bin");
  descent::GradientDescent<double> swa_gd;  // its own: SWALR changes the lr
  descent::SWALR<double> swalr(swa_gd, 0.05, 5, descent::SWALR<double>::Anneal::linear);
  swalr.step();
  write(swalr, dir + "/swalr_double.bin");
  const auto average = [&dir](auto scalar, const char* name, auto options) {
    using S = decltype(scalar);
    descent::WeightAverage<S> a(options);
    Eigen::Matrix<S, 3, 1> x(1, -2, 3);
    for (int t = 0; t < 3; ++t) {
      x *= S(0.5);
      a.update(x);
    }
    write(a, dir + "/" + name + ".bin");
  };
  auto ema = descent::WeightAverage<float>::Options::ema(0.9);
  ema.overwrite_frequency = 2;
  average(float{}, "weight_average_ema_float", ema);
  average(double{}, "weight_average_swa_double", descent::WeightAverage<double>::Options::swa());
  {
    descent::Adam<double> adam;
    descent::Lookahead<double> lookahead(adam, {3, 0.5, false});
    Eigen::Vector3d x(1, -2, 3);
    for (int t = 0; t < 4; ++t) lookahead.step(x, x);
    write(lookahead, dir + "/lookahead_adam_double.bin");
    descent::SGD<float> sgd;
    descent::GradientAccumulation<float> accumulation(sgd, {3});
    Eigen::Vector3f y(1, -2, 3);
    for (int t = 0; t < 4; ++t) accumulation.step(y, y);
    write(accumulation, dir + "/gradient_accumulation_sgd_float.bin");
    descent::Adam<float> half_adam;
    descent::MixedPrecision<Eigen::half> half(half_adam);
    Eigen::Matrix<Eigen::half, 3, 1> h(Eigen::half(1), Eigen::half(-2), Eigen::half(3));
    for (int t = 0; t < 3; ++t) half.step(h, h);
    write(half, dir + "/mixed_precision_half_adam_float.bin");
    descent::Adam<float> bfloat16_adam;
    descent::MixedPrecision<Eigen::bfloat16> bfloat16(bfloat16_adam);
    Eigen::Matrix<Eigen::bfloat16, 3, 1> b(Eigen::bfloat16(1), Eigen::bfloat16(-2),
                                           Eigen::bfloat16(3));
    for (int t = 0; t < 3; ++t) bfloat16.step(b, b);
    write(bfloat16, dir + "/mixed_precision_bfloat16_adam_float.bin");
    descent::LossScaler::Options scaler_options;
    scaler_options.growth_interval = 3;
    descent::LossScaler scaler(scaler_options);
    for (const bool inf : {false, true, false, false, false, false}) scaler.update(inf);
    write(scaler, dir + "/loss_scaler_float.bin");
    descent::SGD<double>::Options sgd_options;
    sgd_options.momentum = 0.9;
    descent::ParamGroups<double> groups(
        {{descent::Adam<double>(), 2}, {descent::SGD<double>(sgd_options), 1}});
    Eigen::MatrixXd W = Eigen::MatrixXd::Ones(2, 3), dW = W * 0.5;
    Eigen::Matrix<double, 2, 2, Eigen::RowMajor> V, dV;
    V << 1, -2, 3, -4;
    dV = V * 0.25;
    Eigen::Vector3d bias(1, -2, 3), d_bias(0.5, 0.5, -1);
    for (int t = 0; t < 3; ++t) groups.step({{W, dW}, {V, dV}, {bias, d_bias}});
    write(groups, dir + "/param_groups_double.bin");
    descent::ScheduleFree<double> adamw_sf;
    Eigen::Vector3d z(1, -2, 3);
    for (int t = 0; t < 3; ++t) adamw_sf.step(z, z);
    adamw_sf.eval(z);
    write(adamw_sf, dir + "/schedule_free_adamw_double.bin");
    descent::ScheduleFree<float> sgd_sf(descent::ScheduleFree<float>::Options::sgd());
    Eigen::Vector3f w(1, -2, 3);
    for (int t = 0; t < 3; ++t) sgd_sf.step(w, w * 0.1f);
    write(sgd_sf, dir + "/schedule_free_sgd_float.bin");
  }
  descent::LinearLR<double> warmup(gd, 0.1, 1.0, 5);
  descent::CosineAnnealingLR<double> decay(gd, 20);
  descent::SequentialLR<double> sequential({&warmup, &decay}, {5});
  sequential.step();
  write(sequential, dir + "/sequential_lr_double.bin");
  descent::ConstantLR<double> constant(gd, 0.5, 3);
  descent::ExponentialLR<double> exponential(gd, 0.9);
  descent::ChainedScheduler<double> chained({&constant, &exponential});
  chained.step();
  write(chained, dir + "/chained_scheduler_double.bin");
  descent::MultiplicativeLR<double> multiplicative(gd, [](std::int64_t) { return 0.9; });
  multiplicative.step();
  write(multiplicative, dir + "/multiplicative_lr_double.bin");
  descent::PolynomialLR<double> polynomial(gd, 10, 2.0);
  polynomial.step();
  write(polynomial, dir + "/polynomial_lr_double.bin");
  descent::CosineAnnealingWarmRestarts<double> warm(gd, 3, 2, 0.001);
  warm.step();
  warm.step(4.5);  // a fractional T_cur, in the second run
  write(warm, dir + "/cosine_annealing_warm_restarts_double.bin");
  descent::CyclicLR<double>::Options cyclic_options;
  cyclic_options.step_size_up = 4;
  cyclic_options.mode = descent::CyclicLR<double>::Mode::triangular2;
  descent::CyclicLR<double> cyclic(gd, 0.01, 0.1, cyclic_options);
  cyclic.step();
  write(cyclic, dir + "/cyclic_lr_double.bin");
  auto warmup_cosine = descent::WarmupCosineLR<double>::optax(gd, 0.0, 0.1, 5, 20, 0.001);
  warmup_cosine.step();
  write(warmup_cosine, dir + "/warmup_cosine_lr_double.bin");
  // Schedulers that cycle momentum, on an SGD with momentum.
  descent::SGD<double>::Options sgd_options;
  sgd_options.momentum = 0.9;
  descent::SGD<double> sgd(sgd_options);
  cyclic_options.cycle_momentum = true;
  descent::CyclicLR<double> cyclic_momentum(sgd, 0.01, 0.1, cyclic_options);
  cyclic_momentum.step();
  write(cyclic_momentum, dir + "/cyclic_lr_momentum_double.bin");
  descent::OneCycleLR<double>::Options one_cycle_options;
  one_cycle_options.cycle_momentum = true;
  descent::OneCycleLR<double> one_cycle_momentum(sgd, 0.1, 20, one_cycle_options);
  one_cycle_momentum.step();
  write(one_cycle_momentum, dir + "/one_cycle_lr_momentum_double.bin");
}
