#pragma once
/// \file
/// Wrapper, the base of the classes that wrap an optimizer (Lookahead,
/// GradientAccumulation): the wrapped optimizer, threads for the wrapper's
/// own pass, and checkpoints that nest the wrapped optimizer's.

#include "../checkpoint.hpp"
#include "../optimizer.hpp"
#include "check.hpp"
#include "kernel.hpp"
#include "serialize.hpp"
#include "thread_pool.hpp"

#include <cstdint>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

namespace descent::detail {

/// \brief What every optimizer wrapper shares: it holds an optimizer by
/// reference, steps it through its public step(), and adds its own state.
///
/// A wrapper's checkpoint (object 4 of checkpoint.hpp) holds the wrapper's
/// state followed by the wrapped optimizer's whole checkpoint, so one
/// save()/load() pair resumes both.
template <typename Scalar_>
class Wrapper {
 public:
  /// The element type: float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// Storage of the wrapper's state.
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  virtual ~Wrapper() = default;

  /// The wrapped optimizer: its lr, options, step count and threads are its
  /// own, and a scheduler drives it directly.
  Optimizer<Scalar>& inner() const noexcept { return *inner_; }

  /// The class name, e.g. "Lookahead".
  virtual std::string_view name() const noexcept = 0;

  /// Lets the wrapper's own pass use n threads above 65 536 elements, as
  /// Optimizer::set_threads() (the wrapped optimizer has its own setting);
  /// the result is bitwise the same. \throws std::invalid_argument if n < 1.
  void set_threads(int n) {
    check_at_least(name(), "threads", n, 1);
    threads_ = n;
  }

  /// The thread count set by set_threads().
  int threads() const noexcept { return threads_; }

  /// \brief Writes the wrapper's state and then the wrapped optimizer's
  /// checkpoint, in the format of checkpoint.hpp.
  /// \throws CheckpointError if writing fails.
  void save(std::ostream& out) const {
    Writer w(ObjectKind::Wrapper, name(), int(sizeof(Scalar)));
    write_state(w);
    std::ostringstream nested;
    inner_->save(nested);
    w.bytes(nested.str());
    w.finish(out, who("save"));
  }

  /// \brief Reads back what save() wrote into this wrapper and its wrapped
  /// optimizer, so that the next step continues the saved run bit for bit.
  /// \throws CheckpointError if the checkpoint is of another kind or scalar
  ///   type, corrupt or invalid, or if the wrapped optimizer refuses its
  ///   part (another kind, another size); then neither has changed.
  void load(std::istream& in) {
    Reader r(in, who("load"), ObjectKind::Wrapper, name(), int(sizeof(Scalar)));
    auto commit = stage_state(r);
    const std::string nested = r.bytes("wrapped optimizer checkpoint");
    if (!detail::one_record(nested))
      r.fail("the wrapped optimizer's checkpoint is not one whole record");
    r.finish();
    std::istringstream nested_in(nested);
    inner_->load(nested_in);  // all or nothing, and the last thing that can fail
    commit();
  }

  /// save() to a file through a temporary file and a rename, as
  /// Optimizer::save_file().
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }

  /// load() from a file, which the checkpoint must fill exactly.
  /// \throws CheckpointError as load(), or if the file cannot be read.
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

 protected:
  /// Wraps `inner`, which must outlive the wrapper.
  explicit Wrapper(Optimizer<Scalar>& inner) : inner_(&inner) {}
  /// Copies wrap the same optimizer.
  Wrapper(const Wrapper&) = default;
  /// As the copy constructor.
  Wrapper& operator=(const Wrapper&) = default;

  /// Writes the wrapper's own state.
  virtual void write_state(Writer& w) const = 0;
  /// Reads and checks it without changing anything; returns what makes it
  /// current, which cannot fail.
  virtual std::function<void()> stage_state(Reader& r) = 0;

  /// "descent::<name>::<method>".
  std::string who(const char* method) const {
    return "descent::" + std::string(name()) + "::" + method;
  }

  /// Checks that params is a writable contiguous dense object of Scalar;
  /// returns its storage.
  template <typename Params>
  Scalar* checked_params(Params& params, const char* method) const {
    using P = std::remove_cv_t<std::remove_reference_t<Params>>;
    static_assert(is_dense<P>, "descent: params must be an Eigen dense object");
    static_assert(std::is_same<typename P::Scalar, Scalar>::value,
                  "descent: params must hold the optimizer's Scalar");
    static_assert(has_direct_access<P>(),
                  "descent: params must expose its storage (a Matrix, Array, Map or contiguous "
                  "Block), not an expression");
    if (!is_contiguous(params)) {
      throw std::invalid_argument(who(method) +
                                  ": params must be stored contiguously (inner stride 1, no gaps)");
    }
    return params.data();
  }

  /// Refuses params of another size than the n the state is built for.
  void check_size(Index got, Index built_for, const char* method) const {
    if (built_for >= 0 && got != built_for) {
      throw std::invalid_argument(who(method) + ": params has " + std::to_string(got) +
                                  " elements but the state was built for " +
                                  std::to_string(built_for) + " (call reset() to change the size)");
    }
  }

  /// Runs a kernel body over n elements on threads() threads.
  template <typename Body>
  void run(Index n, const Body& body) {
    const bool parallel = threads_ > 1 && n >= kParallelThreshold;
    if (parallel) pool_.reserve(threads_ - 1);
    for_each_element<Scalar>(n, parallel ? pool_.get() : nullptr, body);
  }

 private:
  Optimizer<Scalar>* inner_;
  int threads_ = 1;
  PoolHandle pool_;
};

}  // namespace descent::detail
