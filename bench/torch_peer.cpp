#include "torch_peer.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <torch/version.h>

namespace bench {
namespace {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TorchSpec& spec,
                                                        const torch::Tensor& params) {
  namespace optim = torch::optim;
  switch (spec.kind) {
    case TorchOptimizer::SgdMomentum:
      return std::make_unique<optim::SGD>(
          std::vector{params},
          optim::SGDOptions(spec.lr).momentum(spec.momentum).weight_decay(spec.weight_decay));
    case TorchOptimizer::Adagrad:
      return std::make_unique<optim::Adagrad>(
          std::vector{params}, optim::AdagradOptions(spec.lr).lr_decay(spec.lr_decay));
    case TorchOptimizer::RMSprop:
      return std::make_unique<optim::RMSprop>(std::vector{params}, optim::RMSpropOptions(spec.lr)
                                                                       .alpha(spec.alpha)
                                                                       .momentum(spec.momentum)
                                                                       .centered(spec.centered));
    case TorchOptimizer::Adam:
      return std::make_unique<optim::Adam>(
          std::vector{params},
          optim::AdamOptions(spec.lr).amsgrad(spec.amsgrad).weight_decay(spec.weight_decay));
    case TorchOptimizer::AdamW:
      return std::make_unique<optim::AdamW>(
          std::vector{params},
          optim::AdamWOptions(spec.lr).amsgrad(spec.amsgrad).weight_decay(spec.weight_decay));
  }
  throw std::logic_error("bench::make_optimizer: unknown TorchOptimizer");
}

template <typename S>
class TorchStepper final : public Stepper<S> {
 public:
  // params and grad are views of the same buffers the other contenders use;
  // libtorch allocates its state and temporaries itself.
  TorchStepper(const TorchSpec& spec, Index n, int threads)
      : buffers_(n, 0), previous_threads_(at::get_num_threads()) {
    const auto options = torch::TensorOptions().dtype(c10::CppTypeToScalarType<S>::value);
    params_ = torch::from_blob(buffers_.x.data(), {n}, options);
    params_.set_requires_grad(true);
    params_.mutable_grad() = torch::from_blob(buffers_.g.data(), {n}, options);
    optimizer_ = make_optimizer(spec, params_);
    at::set_num_threads(threads);
  }
  ~TorchStepper() override { at::set_num_threads(previous_threads_); }
  TorchStepper(const TorchStepper&) = delete;
  TorchStepper& operator=(const TorchStepper&) = delete;

  void step() override { optimizer_->step(); }
  std::vector<Span<S>> written() const override { return buffers_.written(); }

 private:
  Buffers<S> buffers_;
  int previous_threads_;
  torch::Tensor params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
};

}  // namespace

template <typename S>
std::unique_ptr<Stepper<S>> make_torch_stepper(const TorchSpec& spec, Index n, int threads) {
  return std::make_unique<TorchStepper<S>>(spec, n, threads);
}

template std::unique_ptr<Stepper<float>> make_torch_stepper(const TorchSpec&, Index, int);
template std::unique_ptr<Stepper<double>> make_torch_stepper(const TorchSpec&, Index, int);

std::string torch_version() { return TORCH_VERSION; }

}  // namespace bench
