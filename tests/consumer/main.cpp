// Minimizes f(x) = ½‖x − c‖² with Adam through the installed headers and
// exits non-zero unless it converges.
#include <cstdio>

#include <Eigen/Core>
#include <descent/descent.hpp>

int main() {
  const Eigen::VectorXd c = Eigen::VectorXd::LinSpaced(5, -2.0, 2.0);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(5);
  descent::Adam<double>::Options options;
  options.lr = 0.05;
  descent::Adam<double> adam(options);
  descent::StepLR<double> schedule(adam, /*step_size=*/200, /*gamma=*/0.5);
  for (int t = 0; t < 1000; ++t) {
    adam.step(x, x - c);
    schedule.step();
  }
  const double error = (x - c).norm();
  std::printf("descent %.*s: |x - c| = %.3g after %lld steps\n",
              static_cast<int>(adam.name().size()), adam.name().data(), error,
              static_cast<long long>(adam.iterations()));
  return error < 1e-4 ? 0 : 1;
}
