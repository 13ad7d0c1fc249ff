// The README's program: fit y = a·x + b to noisy data by minibatch Adam with
// a step-decayed learning rate.
#include <cstdio>
#include <random>

#include <Eigen/Core>
#include <descent/descent.hpp>

int main() {
  // 256 samples of y = 3x − 2 + noise.
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0.0, 0.1);
  Eigen::ArrayXd x = Eigen::ArrayXd::LinSpaced(256, -1.0, 1.0);
  Eigen::ArrayXd y = 3.0 * x - 2.0;
  for (auto& yi : y) yi += noise(rng);

  Eigen::Vector2d w(0.0, 0.0);  // (a, b)

  // The lecture's defaults (beta1 0.9, beta2 0.999, eps 1e-8) with lr 0.1.
  descent::Adam<double>::Options options;
  options.lr = 0.1;
  descent::Adam<double> adam(options);
  descent::StepLR<double> schedule(adam, /*step_size=*/20, /*gamma=*/0.3);
  descent::MinibatchSampler batches(x.size(), /*batch_size=*/32, /*seed=*/7);

  for (long epoch = 0; epoch < 100; ++epoch) {
    while (batches.epoch() == epoch) {
      double ga = 0, gb = 0;  // gradient of the mean of ½(a·x + b − y)² over the batch
      const auto& batch = batches.next();
      for (const auto i : batch) {
        const double r = w(0) * x(i) + w(1) - y(i);
        ga += r * x(i) / double(batch.size());
        gb += r / double(batch.size());
      }
      adam.step(w, Eigen::Vector2d(ga, gb));
    }
    schedule.step();
    if (epoch % 20 == 0)
      std::printf("epoch %3ld  lr %.5f  a %.4f  b %.4f\n", epoch, adam.lr(), w(0), w(1));
  }
  std::printf("after %lld steps: a = %.4f, b = %.4f\n", static_cast<long long>(adam.iterations()),
              w(0), w(1));
}
