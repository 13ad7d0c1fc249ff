// Writes the seed corpus of fuzz_checkpoint: one small valid checkpoint of
// every optimizer and scheduler, after a few steps on 3 parameters.
//   make_corpus DIR

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
void seed(const std::string& dir, const std::string& name) {
  Opt opt;
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
  seed<descent::GradientDescent<float>>(dir, "gradient_descent_float");
  seed<descent::SGD<double>>(dir, "sgd_double");
  seed<descent::Momentum<float>>(dir, "momentum_float");
  seed<descent::Nesterov<double>>(dir, "nesterov_double");
  seed<descent::AdaGrad<float>>(dir, "adagrad_float");
  seed<descent::RMSprop<double>>(dir, "rmsprop_double");
  seed<descent::Adam<float>>(dir, "adam_float");
  seed<descent::Adam<double>>(dir, "adam_double");
  descent::GradientDescent<double> gd;
  descent::StepLR<double> step_lr(gd, 3);
  step_lr.step();
  write(step_lr, dir + "/step_lr_double.bin");
  descent::LambdaLR<double> lambda_lr(gd, [](long e) { return 1.0 / double(e + 1); });
  lambda_lr.step();
  write(lambda_lr, dir + "/lambda_lr_double.bin");
}
