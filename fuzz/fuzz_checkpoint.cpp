// libFuzzer target over the checkpoint loaders. For every input and every
// kind of optimizer and scheduler: load() either succeeds, and then the
// object saves, reloads to the same bytes and steps, or throws
// CheckpointError and leaves the object byte for byte as it was. Anything
// else (a crash, another exception, a sanitizer report) is a finding.
//
// Inputs are tried twice: as they are, and with the trailing CRC-32
// recomputed, so that mutations reach the payload parser instead of stopping
// at the checksum.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <type_traits>

#include <descent/descent.hpp>

namespace {

template <typename T>
std::string bytes_of(const T& object) {
  std::ostringstream out;
  object.save(out);
  return out.str();
}

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_checkpoint: %s\n", what);
  std::abort();
}

template <typename T, typename Use>
void try_load(T& target, const std::string& input, const Use& use) {
  const std::string before = bytes_of(target);
  std::istringstream in(input);
  try {
    target.load(in);
  } catch (const descent::CheckpointError&) {
    if (bytes_of(target) != before) finding("a refused load changed the object");
    return;
  }
  const std::string after = bytes_of(target);
  std::istringstream again(after);
  target.load(again);
  if (bytes_of(target) != after) finding("a loaded object does not save to the same bytes");
  use(target);
}

template <typename Opt>
void optimizer(const std::string& input) {
  using S = typename Opt::Scalar;
  Opt opt;
  try_load(opt, input, [](Opt& o) {
    const Eigen::Index n = o.state_size() < 0 ? 3 : o.state_size();
    if (n > 4096) return;  // a valid but large state: stepping it proves nothing more
    Eigen::Matrix<S, Eigen::Dynamic, 1> x = Eigen::Matrix<S, Eigen::Dynamic, 1>::Ones(n);
    o.step(x, x);
  });
}

/// Steps a loaded scheduler: step(), or step(metric) for ReduceLROnPlateau.
template <typename Sched>
void step_once(Sched& s) {
  try {
    if constexpr (std::is_same_v<Sched, descent::ReduceLROnPlateau<double>>) {
      s.step(1.0);
    } else {
      s.step();
    }
  } catch (const std::invalid_argument&) {
    // A loaded schedule may step to an lr it refuses; refusing is fine.
  }
}

template <typename Sched>
void scheduler(const std::string& input, Sched&& make) {
  descent::GradientDescent<double> gd;
  auto sched = make(gd);
  try_load(sched, input, [](auto& s) { step_once(s); });
}

/// The composites, whose checkpoints hold their children's.
void composites(const std::string& input) {
  descent::GradientDescent<double> gd;
  descent::LinearLR<double> warmup(gd, 0.1, 1.0, 5);
  descent::CosineAnnealingLR<double> cosine(gd, 20);
  descent::SequentialLR<double> sequential({&warmup, &cosine}, {5});
  try_load(sequential, input, [](auto& s) { step_once(s); });
  descent::ConstantLR<double> constant(gd, 0.5, 3);
  descent::ExponentialLR<double> exponential(gd, 0.9);
  descent::ChainedScheduler<double> chained({&constant, &exponential});
  try_load(chained, input, [](auto& s) { step_once(s); });
}

void all_targets(const std::string& input) {
  optimizer<descent::GradientDescent<float>>(input);
  optimizer<descent::SGD<double>>(input);
  optimizer<descent::Momentum<float>>(input);
  optimizer<descent::Nesterov<double>>(input);
  optimizer<descent::AdaGrad<float>>(input);
  optimizer<descent::RMSprop<double>>(input);
  optimizer<descent::Adam<float>>(input);
  optimizer<descent::Adam<double>>(input);
  optimizer<descent::AdamW<float>>(input);
  scheduler(input, [](descent::Optimizer<double>& o) { return descent::StepLR<double>(o, 3); });
  scheduler(input, [](descent::Optimizer<double>& o) {
    return descent::LambdaLR<double>(o, [](long e) { return 1.0 / double(e + 1); });
  });
  scheduler(input, [](descent::Optimizer<double>& o) {
    return descent::MultiStepLR<double>(o, {2, 5});
  });
  scheduler(input,
            [](descent::Optimizer<double>& o) { return descent::ExponentialLR<double>(o, 0.9); });
  scheduler(input, [](descent::Optimizer<double>& o) {
    return descent::CosineAnnealingLR<double>(o, 10, 0.001);
  });
  scheduler(input, [](descent::Optimizer<double>& o) { return descent::LinearLR<double>(o); });
  scheduler(input, [](descent::Optimizer<double>& o) { return descent::ConstantLR<double>(o); });
  scheduler(input,
            [](descent::Optimizer<double>& o) { return descent::OneCycleLR<double>(o, 0.1, 20); });
  scheduler(input,
            [](descent::Optimizer<double>& o) { return descent::ReduceLROnPlateau<double>(o); });
  composites(input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  all_targets(input);
  if (size >= 4) {
    const std::uint32_t crc = descent::detail::crc32(data, size - 4);
    for (int b = 0; b < 4; ++b)
      input[size - 4 + std::size_t(b)] = static_cast<char>(crc >> (8 * b));
    all_targets(input);
  }
  return 0;
}
