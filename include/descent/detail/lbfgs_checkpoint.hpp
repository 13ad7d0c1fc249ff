#pragma once
/// \file
/// LBFGS::save() and load(): its state in the optimizer record of
/// checkpoint.hpp, with the history as a variable number of arrays.

#include "../lbfgs.hpp"
#include "check.hpp"
#include "serialize.hpp"

#include <cmath>
#include <cstdint>
#include <istream>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace descent {
namespace detail {

/// An LBFGS option as a checkpoint stores it.
template <typename T>
double lbfgs_field(T value) {
  if constexpr (std::is_enum<T>::value) {
    return double(static_cast<int>(value));
  } else {
    return double(value);
  }
}

/// Reads an LBFGS option back; false if d is not a value of T (enums and
/// ints: whole numbers in range; the enums' ranges are checked with the
/// other options).
template <typename T>
bool lbfgs_from_field(double d, T& out) {
  if constexpr (std::is_enum<T>::value || std::is_same<T, int>::value) {
    if (!(d >= double(std::numeric_limits<int>::min()) &&
          d <= double(std::numeric_limits<int>::max()) && d == std::floor(d))) {
      return false;
    }
    out = static_cast<T>(static_cast<int>(d));
  } else {
    if (std::isfinite(d) && !std::isfinite(static_cast<T>(d))) return false;
    out = static_cast<T>(d);
  }
  return true;
}

}  // namespace detail

template <typename Scalar_>
void LBFGS<Scalar_>::save(std::ostream& out) const {
  detail::Writer w(detail::ObjectKind::Optimizer, kName, int(sizeof(Scalar)));
  const State& st = state_;
  w.i64(st.n_iter);
  w.i64(skipped_);
  w.f64(double(options_.lr));
  w.i64(state_size_);
  std::uint32_t count = 0;
  for_each_option(options_, [&](const char*, const auto&) { ++count; });
  w.u32(count);
  for_each_option(options_, [&](const char* name, const auto& value) {
    w.name(name);
    w.f64(detail::lbfgs_field(value));
  });
  const std::size_t k = st.old_dirs.size();
  w.u32(static_cast<std::uint32_t>(3 + 2 * k));
  w.array(st.d.data(), st.d.size());
  w.array(st.prev_flat_grad.data(), st.prev_flat_grad.size());
  std::vector<Scalar> ro(k);
  for (std::size_t i = 0; i < k; ++i) ro[i] = st.ro[st.at(i)];
  w.array(ro.data(), std::int64_t(k));
  for (std::size_t i = 0; i < k; ++i) {
    w.array(st.old_dirs[st.at(i)].data(), st.old_dirs[st.at(i)].size());
    w.array(st.old_stps[st.at(i)].data(), st.old_stps[st.at(i)].size());
  }
  w.u32(4);
  w.name("func_evals");
  w.f64(double(st.func_evals));
  w.name("t");
  w.f64(double(st.t));
  w.name("H_diag");
  w.f64(double(st.H_diag));
  w.name("prev_loss");
  w.f64(double(st.prev_loss));
  w.finish(out, who("save"));
}

template <typename Scalar_>
void LBFGS<Scalar_>::load(std::istream& in) {
  detail::Reader r(in, who("load"), detail::ObjectKind::Optimizer, kName, int(sizeof(Scalar)));
  constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMaxSize =
      std::numeric_limits<std::ptrdiff_t>::max() / std::int64_t(sizeof(Scalar));
  const std::int64_t n_iter = r.i64("iterations");
  const std::int64_t skipped = r.i64("skipped steps");
  const double lr = r.f64("lr");
  const std::int64_t size = r.i64("state size");
  if (n_iter < 0 || n_iter == kMaxCount) {
    r.fail("iterations " + std::to_string(n_iter) + " is not in [0, 2^63 − 1)");
  }
  if (skipped < 0) r.fail("skipped steps " + std::to_string(skipped) + " is negative");
  if (!(lr >= 0) || !std::isfinite(static_cast<Scalar>(lr))) {
    r.fail("lr " + detail::to_text(lr) + " is not finite and >= 0");
  }
  if (size == 0 || size < -1 || size > kMaxSize) {
    r.fail("state size " + std::to_string(size) + " is not −1 (none) or in [1, " +
           std::to_string(kMaxSize) + "]");
  }
  if (n_iter > 0 && size < 0) {
    r.fail("iterations " + std::to_string(n_iter) + " with no state: a step builds it");
  }
  if (state_size_ >= 0 && size != state_size_) {
    r.fail("the checkpoint's state is for " + std::to_string(size) +
           " parameters, this optimizer's for " + std::to_string(state_size_) +
           " (reset() it first to load another size)");
  }

  std::map<std::string, double> stored;
  const std::uint32_t count = r.count("option count", 10);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name = r.name("option name");
    const double value = r.f64("option value");
    if (!stored.emplace(name, value).second) r.fail("option '" + name + "' appears twice");
  }
  Options options = options_;
  for_each_option(options, [&](const char* name, auto& field) {
    const auto it = stored.find(name);
    if (it == stored.end()) r.fail(std::string("option '") + name + "' is missing");
    if (!detail::lbfgs_from_field(it->second, field)) {
      r.fail(std::string("option '") + name + "' has the invalid value " +
             detail::to_text(it->second));
    }
    stored.erase(it);
  });
  if (!stored.empty()) r.fail("unknown option '" + stored.begin()->first + "'");
  r.validate([&] { checked(options); }, "invalid options: ");
  if (static_cast<Scalar>(lr) != options.lr) {
    r.fail("lr " + detail::to_text(lr) + " differs from the option lr " +
           detail::to_text(options.lr));
  }

  // Arrays: d, prev_flat_grad, ρ, then the pairs (y, s), oldest first.
  const std::uint32_t arrays = r.count("state array count", 8);
  if (arrays < 3 || arrays % 2 == 0) {
    r.fail(std::to_string(arrays) + " state arrays where LBFGS keeps 3 + 2·(pairs)");
  }
  const std::int64_t pairs = (std::int64_t(arrays) - 3) / 2;
  if (pairs > options.history_size) {
    r.fail(std::to_string(pairs) + " pairs where history_size is " +
           std::to_string(options.history_size));
  }
  if (pairs > 0 && pairs > n_iter - 1) {
    r.fail(std::to_string(pairs) + " pairs after " + std::to_string(n_iter) +
           " iterations, which store at most one each after the first");
  }
  const std::int64_t length = n_iter > 0 ? size : 0;
  State st;
  st.n_iter = n_iter;
  st.d = r.template array<Scalar, Vector>(length, "state array d");
  st.prev_flat_grad = r.template array<Scalar, Vector>(length, "state array prev_flat_grad");
  const Vector ro = r.template array<Scalar, Vector>(pairs, "state array ro");
  for (std::int64_t i = 0; i < pairs; ++i) {
    if (!(ro[i] > Scalar(0)) || !std::isfinite(ro[i])) {
      r.fail("ro[" + std::to_string(i) + "] is " + detail::to_text(ro[i]) +
             ": 1/(y·s) with y·s > min_curvature >= 0 is finite and > 0");
    }
    st.ro.push_back(ro[i]);
    const std::string y = "state array y[" + std::to_string(i) + "]";
    const std::string s = "state array s[" + std::to_string(i) + "]";
    st.old_dirs.push_back(r.template array<Scalar, Vector>(size, y.c_str()));
    st.old_stps.push_back(r.template array<Scalar, Vector>(size, s.c_str()));
  }

  const std::uint32_t values = r.u32("state value count");
  if (values != 4) r.fail(std::to_string(values) + " state values where LBFGS keeps 4");
  const auto value = [&r](const char* expected) {
    const std::string name = r.name("state value name");
    if (name != expected) {
      r.fail("state value '" + name + "' where LBFGS keeps '" + expected + "'");
    }
    return r.f64(expected);
  };
  const double func_evals = value("func_evals");
  const double t = value("t");
  const double h_diag = value("H_diag");
  const double prev_loss = value("prev_loss");
  if (!(func_evals >= 0 && func_evals <= 9007199254740992.0 &&
        func_evals == std::floor(func_evals))) {
    r.fail("func_evals " + detail::to_text(func_evals) + " is not a count in [0, 2^53]");
  }
  const auto fits = [](double v) { return !std::isfinite(v) || std::isfinite(Scalar(v)); };
  if (!fits(t)) r.fail("t " + detail::to_text(t) + " is out of the scalar type's range");
  if (!fits(prev_loss)) {
    r.fail("prev_loss " + detail::to_text(prev_loss) + " is out of the scalar type's range");
  }
  if (!(static_cast<Scalar>(h_diag) > 0) || !fits(h_diag)) {
    r.fail("H_diag " + detail::to_text(h_diag) + " is not > 0: it is 1 or (y·s)/(y·y), y·s > 0");
  }
  r.finish();

  st.func_evals = static_cast<std::int64_t>(func_evals);
  st.t = static_cast<Scalar>(t);
  st.H_diag = static_cast<Scalar>(h_diag);
  st.prev_loss = static_cast<Scalar>(prev_loss);
  options_ = options;
  state_ = std::move(st);
  skipped_ = skipped;
  state_size_ = size;
}

}  // namespace descent
