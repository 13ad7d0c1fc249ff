// descent's variants against PyTorch 1.13: weight decay, maximize,
// dampening, lr_decay, centered RMSprop, RMSprop momentum, AMSGrad, AdamW,
// and the momentum buffer under a changing lr. The reference trajectories are
// torch_reference::kVariants (tools/make_torch_reference.py), each with the
// descent optimizer and key=value options that reproduce it, built here with
// make_optimizer: the data names options exactly as a user would.
//
// Double only, closed-loop on the problem of test_torch_reference.cpp
// (g(x) = a*(x - c) + 0.05*x*x*x), to 1e-10 relative with an absolute floor
// of 1e-14, as there.

#include "data/torch_reference.hpp"
#include "instantiations.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/make_optimizer.hpp>

namespace {

namespace tr = torch_reference;
using Vec = Eigen::Matrix<double, tr::kDim, 1>;

constexpr double kRel = 1e-10;
constexpr double kAbs = 1e-14;

Vec gradient(const Vec& x) {
  Vec g;
  for (int i = 0; i < tr::kDim; ++i) {
    g(i) = tr::kA[i] * (x(i) - tr::kC[i]) + tr::kCubic * x(i) * x(i) * x(i);
  }
  return g;
}

std::map<std::string, std::string> parse_options(const std::string& text) {
  std::map<std::string, std::string> options;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto eq = item.find('=');
    REQUIRE(eq != std::string::npos);
    options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return options;
}

/// The worst error |descent − torch| / max(|torch|, kAbs/kRel) over the run.
double run(const tr::Variant& ref, const std::map<std::string, std::string>& options) {
  const auto opt = descent::make_optimizer<double>(ref.optimizer, options);
  Vec x(tr::kX0[0], tr::kX0[1], tr::kX0[2]);
  double worst = 0;
  int step = 0;
  for (int k = 0; k < tr::kNumRecorded; ++k) {
    while (step < tr::kRecordedSteps[k]) {
      ++step;
      if (ref.halve_every > 0 && step > 1 && (step - 1) % ref.halve_every == 0) {
        opt->set_lr(opt->lr() / 2);
      }
      const Vec g = gradient(x);
      opt->step(x, ref.negate ? Vec(-g) : g);
    }
    for (int i = 0; i < tr::kDim; ++i) {
      const double want = ref.params[k][i];
      const double err = std::abs(x(i) - want) / std::max(std::abs(want), kAbs / kRel);
      worst = err <= worst ? worst : err;  // NaN wins
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("torch variants: every case within 1e-10 of PyTorch 1.13", "[torch][variants]") {
  for (const tr::Variant& ref : tr::kVariants) {
    const double worst = run(ref, parse_options(ref.options));
    INFO(ref.torch_call << " as descent::make_optimizer(\"" << ref.optimizer << "\", {"
                        << ref.options << "}): worst error " << worst);
    CHECK(worst <= kRel);
  }
}

// The data resolves each convention: dropping the option under test, or
// swapping PyTorch's momentum buffer for Keras's, moves the trajectory far
// beyond the tolerance.
TEST_CASE("torch variants: the data tells the conventions apart", "[torch][variants]") {
  const std::map<std::string, std::pair<std::string, std::string>> changes = {
      {"sgd_momentum_halved", {"momentum_form", "keras"}},
      {"rmsprop_momentum_halved", {"momentum_form", "keras"}},
      {"rmsprop_centered", {"centered", "false"}},
      {"adam_amsgrad", {"amsgrad", "false"}},
      {"adamw_amsgrad", {"amsgrad", "false"}},
      {"adam_amsgrad_wd_max", {"amsgrad", "false"}},
      {"gd_weight_decay", {"weight_decay", "0"}},
      {"rmsprop_centered_momentum_wd", {"momentum", "0"}},
      {"adam_weight_decay", {"decoupled_weight_decay", "true"}},
      {"adamw_default", {"decoupled_weight_decay", "false"}},
      {"adagrad_lr_decay", {"lr_decay", "0"}},
      {"sgd_dampening", {"dampening", "0"}},
  };
  int checked = 0;
  for (const tr::Variant& ref : tr::kVariants) {
    const auto change = changes.find(ref.id);
    if (change == changes.end()) continue;
    auto options = parse_options(ref.options);
    options[change->second.first] = change->second.second;
    const double worst = run(ref, options);
    INFO(ref.torch_call << " with " << change->second.first << "=" << change->second.second
                        << ": worst error " << worst);
    CHECK(worst > 1e4 * kRel);
    ++checked;
  }
  CHECK(checked == int(changes.size()));
}
