#pragma once
// The digits examples' data and network (digits.cpp, digits_mpi.cpp): the UCI
// handwritten digits read from their CSV, the stratified split, and the
// 64-64-10 ReLU MLP whose parameters live in one flat vector; not part of
// the library.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <descent/minibatch.hpp>
#include <zlib.h>

namespace example::digits {

// float, not double: see digits.cpp.
using Scalar = float;
using Index = Eigen::Index;
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

constexpr Index kInputs = 64, kHidden = 64, kClasses = 10;
constexpr Index kParams = kHidden * kInputs + kHidden + kClasses * kHidden + kClasses;

// ---------------------------------------------------------------------------
// The data.

// One sample per column of x, its features scaled to [0, 1]; y the digits.
struct Dataset {
  Matrix x;
  std::vector<int> y;
  Index size() const { return x.cols(); }
};

// --data if given; else the copy in the source tree (its path is compiled in
// as DESCENT_DIGITS_CSV); else examples/data/digits.csv.gz under the working
// directory.
inline std::string locate_data(const std::optional<std::string>& given) {
  if (given) return *given;
  std::vector<std::string> tried;
#ifdef DESCENT_DIGITS_CSV
  tried.emplace_back(DESCENT_DIGITS_CSV);
#endif
  tried.emplace_back("examples/data/digits.csv.gz");
  std::error_code ignored;
  for (const std::string& path : tried) {
    if (std::filesystem::is_regular_file(path, ignored)) return path;
  }
  std::string message = "digits: cannot find the data; tried:";
  for (const std::string& path : tried) message.append("\n  ").append(path);
  message.append(
      "\npass --data PATH (the file is examples/data/digits.csv.gz in descent's sources)");
  throw std::runtime_error(message);
}

// Reads the CSV, gzip-compressed or not (gzread passes plain files through):
// one sample a line, 64 pixel counts in 0..16, then the digit.
inline Dataset read_digits(const std::string& path) {
  const std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) throw std::runtime_error("digits: cannot open " + path + ": " + std::strerror(errno));
  std::string text;
  std::vector<char> buffer(1 << 16);
  int got;
  while ((got = gzread(file.get(), buffer.data(), unsigned(buffer.size()))) > 0) {
    text.append(buffer.data(), std::size_t(got));
  }
  int code;
  const char* what = gzerror(file.get(), &code);
  if (got < 0 || code != Z_OK) {  // a truncated gzip ends with got == 0 and Z_BUF_ERROR
    throw std::runtime_error(code == Z_ERRNO
                                 ? "digits: cannot read " + path + ": " + std::strerror(errno)
                                 : "digits: " + std::string(what));  // what names the file
  }

  std::vector<Scalar> features;
  std::vector<int> labels;
  long line_number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const auto fail = [&](const std::string& what) {
      return std::runtime_error("digits: " + path + ":" + std::to_string(line_number) + ": " +
                                what);
    };
    const char* p = line.data();
    const char* const stop = p + line.size();
    for (Index column = 0;; ++column) {
      int value = 0;
      const auto [next, error] = std::from_chars(p, stop, value);
      if (error != std::errc() || (next != stop && *next != ',')) {
        throw fail("column " + std::to_string(column + 1) + " is not an integer");
      }
      if (column < kInputs) {
        if (value < 0 || value > 16) throw fail("a pixel count outside 0..16");
        features.push_back(Scalar(value) / Scalar(16));
      } else if (column == kInputs) {
        if (value < 0 || value >= kClasses) throw fail("a label outside 0..9");
        labels.push_back(value);
      }
      p = next;
      if (p == stop) {
        if (column != kInputs) {
          throw fail(std::to_string(column + 1) + " columns, expected " +
                     std::to_string(kInputs + 1));
        }
        break;
      }
      ++p;
    }
  }
  if (labels.empty()) throw std::runtime_error("digits: " + path + " holds no samples");
  Dataset data;
  data.x = Eigen::Map<const Matrix>(features.data(), kInputs, Index(labels.size()));
  data.y = std::move(labels);
  return data;
}

// The samples of one digit in a random order: one batch of a MinibatchSampler
// over all of them, which is the same permutation on every standard library.
inline std::vector<Index> shuffled_members(const std::vector<int>& y, int digit,
                                           std::uint64_t seed) {
  std::vector<Index> members;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] == digit) members.push_back(Index(i));
  }
  if (members.empty()) return members;
  const long count = long(members.size());
  descent::MinibatchSampler shuffle(count, count, seed + std::uint64_t(digit));
  std::vector<Index> shuffled;
  for (const Index k : shuffle.next()) shuffled.push_back(members[std::size_t(k)]);
  return shuffled;
}

// Per digit, the first round(fraction·count) of its shuffled samples go to the
// second part, the rest to the first.
inline std::pair<std::vector<Index>, std::vector<Index>> stratified_split(const std::vector<int>& y,
                                                                          double fraction,
                                                                          std::uint64_t seed) {
  std::vector<Index> first, second;
  for (int digit = 0; digit < kClasses; ++digit) {
    const std::vector<Index> members = shuffled_members(y, digit, seed);
    const auto in_second = std::size_t(std::lround(fraction * double(members.size())));
    for (std::size_t k = 0; k < members.size(); ++k) {
      (k < in_second ? second : first).push_back(members[k]);
    }
  }
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  return {first, second};
}

inline Dataset subset(const Dataset& data, const std::vector<Index>& rows) {
  Dataset part;
  part.x = data.x(Eigen::all, rows);
  for (const Index i : rows) part.y.push_back(data.y[std::size_t(i)]);
  return part;
}

// A fold in 0..k−1 for each sample: per digit, its shuffled samples dealt out
// in turn, continuing from one digit to the next so that the folds differ in
// size by one at most.
inline std::vector<int> stratified_folds(const std::vector<int>& y, int k, std::uint64_t seed) {
  std::vector<int> fold(y.size());
  long dealt = 0;
  for (int digit = 0; digit < kClasses; ++digit) {
    for (const Index i : shuffled_members(y, digit, seed)) fold[std::size_t(i)] = int(dealt++ % k);
  }
  return fold;
}

// ---------------------------------------------------------------------------
// The network.

// Views of the layers in a flat vector of kParams values: W1 (64×64), b1 (64),
// W2 (10×64), b2 (10), each column-major, one after the other.
struct Layers {
  explicit Layers(Scalar* p)
      : w1(p, kHidden, kInputs),
        b1(p + kHidden * kInputs, kHidden),
        w2(p + kHidden * (kInputs + 1), kClasses, kHidden),
        b2(p + kHidden * (kInputs + 1) + kClasses * kHidden, kClasses) {}

  Eigen::Map<Matrix> w1;
  Eigen::Map<Vector> b1;
  Eigen::Map<Matrix> w2;
  Eigen::Map<Vector> b2;
};

// He-uniform W1 (a ReLU follows it), Glorot-uniform W2 (softmax follows),
// zero biases. The draws use the top 53 bits of std::mt19937_64, whose output
// the standard fixes, and a correctly rounded sqrt, so the initial weights are
// the same bits with every standard library (std::normal_distribution's are
// not).
inline Vector initial_params(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto fill = [&rng](Scalar* w, Index n, double bound) {
    for (Index i = 0; i < n; ++i) {
      const double u = double(rng() >> 11) * 0x1p-53;  // in [0, 1)
      w[i] = Scalar((2 * u - 1) * bound);
    }
  };
  Vector params = Vector::Zero(kParams);
  Layers layers(params.data());
  fill(layers.w1.data(), layers.w1.size(), std::sqrt(6.0 / double(kInputs)));
  fill(layers.w2.data(), layers.w2.size(), std::sqrt(6.0 / double(kHidden + kClasses)));
  return params;
}

// Replaces each column of logits by its softmax; returns the sum over the
// columns of −log p(label).
inline double softmax_cross_entropy(Matrix& z, const int* labels) {
  double total = 0;
  for (Index j = 0; j < z.cols(); ++j) {
    auto p = z.col(j);
    const Scalar top = p.maxCoeff();
    const Scalar label_logit = p(labels[j]) - top;
    p.array() = (p.array() - top).exp();
    const Scalar sum = p.sum();
    p /= sum;
    total += std::log(double(sum)) - double(label_logit);
  }
  return total;
}

struct Score {
  double loss;      // mean cross-entropy
  double accuracy;  // fraction classified correctly
};

// The parameters, their gradient, the Map views of both, and the
// intermediate values of a forward pass. Not copyable: the views point into
// its own vectors.
class Mlp {
 public:
  explicit Mlp(const Vector& initial)
      : params_(initial), grad_(Vector::Zero(kParams)), w_(params_.data()), g_(grad_.data()) {}
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;

  Vector& params() { return params_; }
  const Vector& grad() const { return grad_; }
  // The views of params() and grad(), layer by layer.
  Layers& layers() { return w_; }
  const Layers& grad_layers() const { return g_; }

  // The gradient of the mean cross-entropy over the batch, into grad().
  void backprop(const Dataset& data, const std::vector<Index>& batch) {
    const auto n = Index(batch.size());
    x_ = data.x(Eigen::all, batch);
    labels_.clear();
    for (const Index i : batch) labels_.push_back(data.y[std::size_t(i)]);
    forward(x_);
    softmax_cross_entropy(z_, labels_.data());
    // d(loss)/d(logits) = (softmax − one-hot) / n, then back through the layers.
    for (Index j = 0; j < n; ++j) z_(labels_[std::size_t(j)], j) -= Scalar(1);
    z_ /= Scalar(n);
    g_.w2.noalias() = z_ * h_.transpose();
    g_.b2 = z_.rowwise().sum();
    dh_.noalias() = w_.w2.transpose() * z_;
    dh_.array() = (h_.array() > Scalar(0)).select(dh_.array(), Scalar(0));
    g_.w1.noalias() = dh_ * x_.transpose();
    g_.b1 = dh_.rowwise().sum();
  }

  Score evaluate(const Dataset& data) {
    forward(data.x);
    const double loss = softmax_cross_entropy(z_, data.y.data());
    long correct = 0;
    for (Index j = 0; j < data.size(); ++j) {
      Index predicted;
      z_.col(j).maxCoeff(&predicted);
      correct += predicted == data.y[std::size_t(j)];
    }
    return {loss / double(data.size()), double(correct) / double(data.size())};
  }

 private:
  // h = relu(W1·x + b1), z = W2·h + b2, for every column of x at once.
  void forward(const Matrix& x) {
    h_.noalias() = w_.w1 * x;
    h_.colwise() += w_.b1;
    h_ = h_.cwiseMax(Scalar(0));
    z_.noalias() = w_.w2 * h_;
    z_.colwise() += w_.b2;
  }

  Vector params_, grad_;
  Layers w_, g_;
  Matrix x_, h_, z_, dh_;
  std::vector<int> labels_;
};

}  // namespace example::digits
