#pragma once
/// \file
/// An optimizer checkpoint taken apart and put together again through the
/// checkpoint format (checkpoint.hpp) with detail::Reader and Writer, so
/// that descent::mpi::Sharded can gather its shards into one ordinary
/// checkpoint and cut one into shards for any number of ranks.

#include "check.hpp"
#include "serialize.hpp"

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

namespace descent::detail::mpi {

/// The fields of an optimizer checkpoint, in the order they are stored.
template <typename S>
struct CheckpointParts {
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  std::int64_t iterations = 0;
  std::int64_t skipped = 0;
  double lr = 0;
  std::int64_t state_size = -1;
  std::vector<std::pair<std::string, double>> options;
  std::vector<Vector> arrays;
  std::vector<std::pair<std::string, double>> values;  // state that is one number
};

/// Reads everything up to the state arrays.
template <typename S>
void read_head(Reader& r, CheckpointParts<S>& c) {
  c.iterations = r.i64("iterations");
  c.skipped = r.i64("skipped steps");
  c.lr = r.f64("lr");
  c.state_size = r.i64("state size");
  const std::uint32_t count = r.count("option count", 10);  // a record is at least 2 + 8 bytes
  c.options.clear();
  for (std::uint32_t k = 0; k < count; ++k) {
    std::string name = r.name("option name");
    const double value = r.f64("option value");
    c.options.emplace_back(std::move(name), value);
  }
}

/// Reads the named state values after the arrays, if the optimizer keeps
/// any (those that do not write no count).
template <typename S>
void read_values(Reader& r, CheckpointParts<S>& c) {
  c.values.clear();
  if (r.at_end()) return;
  const std::uint32_t count = r.count("state value count", 10);
  for (std::uint32_t k = 0; k < count; ++k) {
    std::string name = r.name("state value name");
    const double value = r.f64("state value");
    c.values.emplace_back(std::move(name), value);
  }
}

/// Reads the state arrays: array k holds state_size elements where used[k],
/// none otherwise, and the state values; then requires the end of the
/// payload.
template <typename S>
void read_arrays(Reader& r, CheckpointParts<S>& c, const std::vector<bool>& used) {
  const std::uint32_t count = r.count("state array count", 8);
  if (count != used.size()) {
    r.fail(std::to_string(count) + " state arrays where the optimizer keeps " +
           std::to_string(used.size()));
  }
  c.arrays.clear();
  for (const bool u : used) {
    const std::int64_t length = u && c.state_size > 0 ? c.state_size : 0;
    c.arrays.push_back(
        r.template array<S, typename CheckpointParts<S>::Vector>(length, "a state array"));
  }
  read_values(r, c);
  r.finish();
}

/// The bytes of the checkpoint of kind `kind` made of c: what save() of an
/// optimizer holding that state writes.
template <typename S>
std::string write_parts(const CheckpointParts<S>& c, std::string_view kind, std::string_view who) {
  Writer w(ObjectKind::Optimizer, kind, int(sizeof(S)));
  w.i64(c.iterations);
  w.i64(c.skipped);
  w.f64(c.lr);
  w.i64(c.state_size);
  w.u32(static_cast<std::uint32_t>(c.options.size()));
  for (const auto& [name, value] : c.options) {
    w.name(name);
    w.f64(value);
  }
  w.u32(static_cast<std::uint32_t>(c.arrays.size()));
  for (const auto& a : c.arrays) w.array(a.data(), a.size());
  if (!c.values.empty()) w.u32(static_cast<std::uint32_t>(c.values.size()));
  for (const auto& [name, value] : c.values) {
    w.name(name);
    w.f64(value);
  }
  std::ostringstream out;
  w.finish(out, who);
  return out.str();
}

/// What save() of opt writes.
template <typename Opt>
std::string bytes_of(const Opt& opt) {
  std::ostringstream out;
  opt.save(out);
  return out.str();
}

/// Which state arrays of Opt a checkpoint holds in full for these options
/// (Adam keeps no running maximum without amsgrad, SGD no velocity without
/// momentum): read off the checkpoint of a one-parameter Opt after one step,
/// whose arrays hold one element or none.
template <typename Opt>
std::vector<bool> used_arrays(const typename Opt::Options& options) {
  using S = typename Opt::Scalar;
  Opt probe(options);
  Eigen::Matrix<S, 1, 1> x(S(0)), g(S(0));
  probe.step(x, g);
  std::istringstream in(bytes_of(probe));
  Reader r(in, "descent::mpi", ObjectKind::Optimizer, probe.name(), int(sizeof(S)));
  CheckpointParts<S> head;
  read_head(r, head);
  const std::uint32_t count = r.count("state array count", 8);
  std::vector<bool> used;
  for (std::uint32_t k = 0; k < count; ++k) {
    const std::int64_t length = r.i64("array length");
    used.push_back(length == 1);
    for (std::int64_t i = 0; i < length; ++i) {
      if (sizeof(S) == 4) {
        r.u32("element");
      } else {
        r.f64("element");
      }
    }
  }
  CheckpointParts<S> values;
  read_values(r, values);
  r.finish();
  return used;
}

/// "lr=0.001, beta1=0.9, …": the options a checkpoint holds, as text.
template <typename S>
std::string options_text(const CheckpointParts<S>& c) {
  std::string out;
  for (const auto& [name, value] : c.options) {
    if (!out.empty()) out += ", ";
    out += name + "=" + to_text(value);
  }
  return out;
}

}  // namespace descent::detail::mpi
