// Hostile inputs: files that are no checkpoints, failing streams, well-sealed
// checkpoints with impossible contents, counters at their limits. Each is
// refused with a CheckpointError (or a std::overflow_error for a count that
// cannot grow) and changes nothing. (Saves that race or are killed half-way:
// test_save_file.cpp.)

#include "../fuzz/checkpoint_targets.hpp"
#include "folder.hpp"
#include "support.hpp"
#include "variants.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <descent/descent.hpp>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

using Catch::Matchers::Contains;
using descent::CheckpointError;
using support::bytes_of;
using support::Folder;
using support::require_refused;
using support::write_file;

namespace {

/// load_file(path) must throw CheckpointError containing `part` and leave
/// target as it was.
template <typename T>
void require_file_refused(T& target, const std::string& path, const std::string& part) {
  const std::string before = bytes_of(target);
  try {
    target.load_file(path);
    FAIL("no CheckpointError; expected one about " << part);
  } catch (const CheckpointError& e) {
    INFO("message: " << e.what());
    CHECK_THAT(std::string(e.what()), Contains(part));
  }
  CHECK(bytes_of(target) == before);
}

/// Offset of the payload and of its first fields (checkpoint.hpp):
/// iterations, skipped steps, lr, state size.
std::size_t payload_at(const std::string& bytes) {
  return checkpoint_targets::payload_offset(bytes);
}

std::string with_i64(const std::string& bytes, std::size_t at, std::int64_t value) {
  return checkpoint_targets::with_field(bytes, at, static_cast<std::uint64_t>(value), 8);
}

template <typename S>
std::string with_scalar(const std::string& bytes, std::size_t at, S value) {
  std::uint64_t raw = 0;
  std::memcpy(&raw, &value, sizeof(S));
  return checkpoint_targets::with_field(bytes, at, raw, int(sizeof(S)));
}

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

/// A stepped Adam over 4 parameters, its checkpoint, and where its fields are.
struct SteppedAdam {
  descent::Adam<double> adam;
  std::string bytes;
  std::size_t iterations_at = 0;
  SteppedAdam(descent::Adam<double>::Options options = {}) : adam(options) {
    Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(4, -1, 1);
    adam.step(x, x);
    adam.step(x, x);
    bytes = bytes_of(adam);
    iterations_at = payload_at(bytes);
  }
  std::size_t skipped_at() const { return iterations_at + 8; }
  std::size_t size_at() const { return iterations_at + 24; }
  /// Element i of the last state arrays: v_max (empty without amsgrad) is
  /// last, its length just before the checksum; v before it.
  std::size_t v_at(std::size_t i, bool amsgrad = false) const {
    const std::size_t v_max_bytes = amsgrad ? 4 * 8 : 0;
    return bytes.size() - 4 - v_max_bytes - 8 - 4 * 8 + i * 8;
  }
  std::size_t v_max_at(std::size_t i) const { return bytes.size() - 4 - 4 * 8 + i * 8; }
};

}  // namespace

TEST_CASE("hostile: files that are no checkpoints are refused before they are read", "[hostile]") {
  Folder folder;
  descent::Adam<float> adam;
  Eigen::VectorXf x = Eigen::VectorXf::Ones(3);
  adam.step(x, x);

  require_file_refused(adam, "/dev/zero", "/dev/zero is not a regular file");
  require_file_refused(adam, folder / "", "is a directory");
  require_file_refused(adam, folder / "missing", "cannot open");

  const std::string fifo = folder / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  require_file_refused(adam, fifo, "fifo is not a regular file");  // and does not wait

  // 20 GB of zeros (a sparse file): refused after its first 8 bytes.
  const std::string sparse = folder / "sparse";
  write_file(sparse, "");
  REQUIRE(::truncate(sparse.c_str(), 20'000'000'000) == 0);
  require_file_refused(adam, sparse, "not a descent checkpoint (bad magic)");

  // A valid header announcing more than the file holds: refused from the
  // file's size, before the payload is read.
  std::string header = bytes_of(adam);
  const std::size_t payload = payload_at(header);
  header.resize(payload);
  const std::uint64_t announced = 30'000'000'000;
  for (int b = 0; b < 8; ++b) header[payload - 8 + std::size_t(b)] = char(announced >> (8 * b));
  write_file(sparse, header);
  REQUIRE(::truncate(sparse.c_str(), 20'000'000'000) == 0);
  require_file_refused(adam, sparse, "truncated or padded: the file holds 20000000000 bytes");

  // A file that a read fails on (reading address 0 of our own memory).
  if (::access("/proc/self/mem", R_OK) == 0) {
    require_file_refused(adam, "/proc/self/mem", "reading /proc/self/mem failed");
  }
  if (::geteuid() != 0) {  // root reads any file
    const std::string locked = folder / "locked";
    write_file(locked, bytes_of(adam));
    REQUIRE(::chmod(locked.c_str(), 0) == 0);
    require_file_refused(adam, locked, "Permission denied");
  }

  // A checkpoint followed by more bytes fills no file exactly.
  const std::string padded = folder / "padded";
  write_file(padded, bytes_of(adam) + "x");
  require_file_refused(adam, padded, "truncated or padded");
}

TEST_CASE("hostile: a stream announcing more than it holds is refused without that memory",
          "[hostile]") {
  descent::Adam<double> adam;
  std::string bytes = bytes_of(adam);
  const std::size_t payload = payload_at(bytes);
  const std::uint64_t announced = std::uint64_t{1} << 60;  // an exabyte
  for (int b = 0; b < 8; ++b) bytes[payload - 8 + std::size_t(b)] = char(announced >> (8 * b));
  require_refused(
      adam, bytes,
      "truncated: " + std::to_string(bytes.size()) + " bytes where the header announces");
  const std::uint64_t impossible = ~std::uint64_t{0};
  for (int b = 0; b < 8; ++b) bytes[payload - 8 + std::size_t(b)] = char(impossible >> (8 * b));
  require_refused(adam, bytes, "impossible length");
}

TEST_CASE("hostile: checkpoints saved one after another into a stream load back in order",
          "[hostile]") {
  descent::Adam<double> adam({0.01});
  descent::StepLR<double> schedule(adam, 2, 0.5);
  descent::SGD<double> sgd({0.1, 0.9});
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(6, -1, 1);
  for (int t = 0; t < 3; ++t) {
    adam.step(x, x);
    sgd.step(x, x);
    schedule.step();
  }
  std::stringstream stream;
  adam.save(stream);
  schedule.save(stream);
  sgd.save(stream);

  descent::Adam<double> adam2;
  descent::StepLR<double> schedule2(adam2, 5);
  descent::SGD<double> sgd2;
  adam2.load(stream);
  schedule2.load(stream);
  sgd2.load(stream);
  CHECK(bytes_of(adam2) == bytes_of(adam));
  CHECK(bytes_of(schedule2) == bytes_of(schedule));
  CHECK(bytes_of(sgd2) == bytes_of(sgd));
  CHECK(stream.peek() == std::char_traits<char>::eof());
}

TEST_CASE("hostile: failing streams and devices throw CheckpointError", "[hostile]") {
  descent::Adam<double> adam;
  Eigen::VectorXd x = Eigen::VectorXd::Ones(40);
  adam.step(x, x);

  SECTION("a full device fails the save that wrote to it") {
    std::ofstream full("/dev/full", std::ios::binary);
    REQUIRE(full.is_open());
    CHECK_THROWS_WITH(adam.save(full), Contains("descent::Adam::save: writing the checkpoint"));
    std::ofstream throwing("/dev/full", std::ios::binary);
    throwing.exceptions(std::ios::badbit | std::ios::failbit);
    CHECK_THROWS_AS(adam.save(throwing), CheckpointError);
  }
  SECTION("save_file refuses to replace what is not a regular file") {
    CHECK_THROWS_WITH(adam.save_file("/dev/full"),
                      Contains("/dev/full exists and is not a regular file"));
    struct stat st {};
    REQUIRE(::stat("/dev/full", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  }
  SECTION("a stream that throws on its own reports through CheckpointError") {
    const std::string good = bytes_of(adam);
    std::istringstream truncated(good.substr(0, good.size() / 2));
    truncated.exceptions(std::ios::badbit | std::ios::failbit | std::ios::eofbit);
    descent::Adam<double> target;
    CHECK_THROWS_WITH(target.load(truncated), Contains("reading the stream failed"));
    std::istringstream whole(good);
    whole.exceptions(std::ios::badbit | std::ios::failbit | std::ios::eofbit);
    target.load(whole);
    CHECK(bytes_of(target) == good);
  }
}

TEST_CASE("hostile: step counts and state sizes that cannot be are refused", "[hostile]") {
  SteppedAdam s;
  descent::Adam<double> target;
  require_refused(target, with_i64(s.bytes, s.iterations_at, kMax),
                  "iterations 9223372036854775807 is not in [0, 2^63 − 1)");
  require_refused(target, with_i64(s.bytes, s.iterations_at, -1), "iterations -1 is not in");
  require_refused(target, with_i64(s.bytes, s.skipped_at(), -5), "skipped steps -5 is negative");
  require_refused(target, with_i64(s.bytes, s.size_at(), 0), "state size 0 is not −1 (none)");
  require_refused(target, with_i64(s.bytes, s.size_at(), -2), "state size -2 is not");

  // GradientDescent keeps no arrays, so only the size check bounds its size.
  descent::GradientDescent<float> gd;
  Eigen::VectorXf y = Eigen::VectorXf::Ones(3);
  gd.step(y, y);
  const std::string gd_bytes = bytes_of(gd);
  descent::GradientDescent<float> gd_target;
  require_refused(gd_target, with_i64(gd_bytes, payload_at(gd_bytes) + 24, std::int64_t{1} << 62),
                  "state size 4611686018427387904 is not −1 (none) or in [1, 2305843009213693951]");

  // A step count with no state: a step always builds the state.
  descent::Adam<double> fresh;
  const std::string unstepped = bytes_of(fresh);
  require_refused(target, with_i64(unstepped, payload_at(unstepped), 5),
                  "iterations 5 with no state");
}

TEST_CASE("hostile: negative or NaN sums of squares are refused, +inf is kept", "[hostile]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  SteppedAdam s;
  descent::Adam<double> target;
  require_refused(target, with_scalar(s.bytes, s.v_at(2), -1.0),
                  "state array v[2] is -1: a sum of squares is never negative nor NaN");
  require_refused(target, with_scalar(s.bytes, s.v_at(0), nan), "state array v[0] is nan");
  require_refused(target, with_scalar(s.bytes, s.v_at(3), -0.0 - 1e-300), "v[3] is -1e-300");

  // +inf is what a float gradient above 1.8e19 makes of v: it loads.
  std::istringstream in(with_scalar(s.bytes, s.v_at(1), inf));
  target.load(in);
  CHECK(target.iterations() == 2);

  descent::Adam<double>::Options amsgrad;
  amsgrad.amsgrad = true;
  SteppedAdam ams(amsgrad);
  descent::Adam<double> ams_target(amsgrad);
  require_refused(ams_target, with_scalar(ams.bytes, ams.v_max_at(1), nan),
                  "state array v_max[1] is nan");

  descent::AdaGrad<float> adagrad;
  Eigen::VectorXf x = Eigen::VectorXf::Ones(2);
  adagrad.step(x, x);
  const std::string a = bytes_of(adagrad);
  descent::AdaGrad<float> adagrad_target;
  require_refused(adagrad_target, with_scalar(a, a.size() - 4 - 4, -2.0f),
                  "state array sum[1] is -2");

  descent::RMSprop<double> rmsprop;
  Eigen::VectorXd z = Eigen::VectorXd::Ones(2);
  rmsprop.step(z, z);
  const std::string r = bytes_of(rmsprop);
  // square_avg is first: count u32, then its length u64 and elements, then
  // two empty arrays (length u64 each) before the checksum.
  const std::size_t square_avg_at = r.size() - 4 - 8 - 8 - 2 * 8;
  descent::RMSprop<double> rmsprop_target;
  require_refused(rmsprop_target, with_scalar(r, square_avg_at, nan),
                  "state array square_avg[0] is nan");
}

TEST_CASE("hostile: counters at their limits refuse or saturate, never overflow", "[hostile]") {
  SteppedAdam s;
  descent::Adam<double> adam;
  std::istringstream in(with_i64(s.bytes, s.iterations_at, kMax - 1));
  adam.load(in);
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(4, -1, 1);
  adam.step(x, x);  // the last step it can count
  CHECK(adam.iterations() == kMax);
  const Eigen::VectorXd before = x;
  const std::string state = bytes_of(adam);
  CHECK_THROWS_AS(adam.step(x, x), std::overflow_error);
  CHECK(support::bitwise_equal(x, before));
  CHECK(bytes_of(adam) == state);
  adam.reset();
  adam.step(x, x);
  CHECK(adam.iterations() == 1);
}

TEMPLATE_LIST_TEST_CASE(
    "hostile: every optimizer loaded two steps before the last takes them at once", "[hostile]",
    support::AllOptimizers) {
  // Nothing an optimizer keeps may be recomputed step by step from its step
  // count after a load (NAdam's product of momentum coefficients is state).
  using S = typename TestType::Scalar;
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  TestType opt;
  Vector x = Vector::LinSpaced(4, S(-1), S(1));
  opt.step(x, x);
  const std::string bytes = bytes_of(opt);
  TestType loaded;
  std::istringstream in(with_i64(bytes, payload_at(bytes), kMax - 2));
  loaded.load(in);
  loaded.step(x, x);
  loaded.step(x, x);
  CHECK(loaded.iterations() == kMax);
  CHECK_THROWS_AS(loaded.step(x, x), std::overflow_error);
}

TEST_CASE("hostile: NAdam's mu_product outside [0, 1] is refused", "[hostile]") {
  descent::NAdam<double> nadam;
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(4, -1, 1);
  nadam.step(x, x);
  const std::string bytes = bytes_of(nadam);
  const std::size_t at = bytes.size() - 4 - 8;  // the last value, before the checksum
  double product = 0;
  std::memcpy(&product, bytes.data() + at, 8);
  CHECK(product == Approx(0.9 * (1 - 0.5 * std::pow(0.96, 0.004))).epsilon(1e-15));
  for (const double bad : {-1e-300, 1.0000000000000002, std::nan(""), HUGE_VAL}) {
    descent::NAdam<double> target;
    require_refused(target, with_scalar(bytes, at, bad), "mu_product");
  }
  descent::NAdam<double> zero;
  std::istringstream in(with_scalar(bytes, at, 0.0));
  zero.load(in);  // a product that underflowed is a product
  CHECK(zero.iterations() == 1);
}

TEST_CASE("hostile: skipped steps saturate at 2^63 - 1", "[hostile]") {
  descent::Adam<double>::Options skip;
  skip.nonfinite = descent::NonFinite::Skip;
  descent::Adam<double> adam(skip);
  Eigen::VectorXd x = Eigen::VectorXd::Ones(4);
  adam.step(x, x);
  const std::string bytes = bytes_of(adam);
  std::istringstream in(with_i64(bytes, payload_at(bytes) + 8, kMax));
  adam.load(in);
  Eigen::VectorXd bad = x;
  bad(1) = std::numeric_limits<double>::quiet_NaN();
  adam.step(x, bad);
  CHECK(adam.skipped_steps() == kMax);
  CHECK(adam.iterations() == 1);
}

namespace {

#ifndef DESCENT_HOSTILE_SWEEP_STRIDE
#define DESCENT_HOSTILE_SWEEP_STRIDE 1
#endif
/// The offsets between the sweep's writes: 1, or the sanitizer presets' 3,
/// which still writes extreme bytes into every field of 2 bytes or more (from
/// a write that starts in it or just before it) and starts a write exactly at
/// a third of the fields.
constexpr std::size_t kSweepStride = DESCENT_HOSTILE_SWEEP_STRIDE;
static_assert(kSweepStride >= 1 && kSweepStride <= 3, "a stride that misses no field");

/// The fuzzer's structure-aware mutation, done exhaustively: at every offset
/// (every kSweepStride-th) of a seed checkpoint's payload, each extreme value
/// as an i64/f64 and as a u32, resealed. Every load must be refused cleanly
/// or load an object that saves, reloads and steps (checkpoint_targets.hpp).
/// Only objects of the seed's own kind are tried: the others stop at the
/// header. Four ctest entries share the seeds: largest first, each to the
/// part with the fewest bytes so far; this sweeps part `part` of `parts` and
/// returns the number of inputs it tried.
std::size_t sweep_seed_fields(std::size_t part, std::size_t parts) {
  std::vector<std::pair<std::string, std::string>> seeds;  // name, bytes
  if (DIR* dir = ::opendir(DESCENT_FUZZ_CORPUS)) {
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.size() <= 4 || name.substr(name.size() - 4) != ".bin") continue;
      std::ifstream in(std::string(DESCENT_FUZZ_CORPUS) + "/" + name, std::ios::binary);
      REQUIRE(in.good());
      seeds.emplace_back(name, std::string((std::istreambuf_iterator<char>(in)),
                                           std::istreambuf_iterator<char>()));
    }
    ::closedir(dir);
  }
  REQUIRE(seeds.size() >= 20);
  std::sort(seeds.begin(), seeds.end(), [](const auto& a, const auto& b) {
    return a.second.size() != b.second.size() ? a.second.size() > b.second.size()
                                              : a.first < b.first;
  });
  std::vector<std::size_t> load(parts, 0);
  std::size_t inputs = 0;
  for (const auto& [seed, good] : seeds) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    load[std::size_t(least)] += good.size();
    if (std::size_t(least) != part) continue;
    const std::size_t begin = payload_at(good);
    REQUIRE(begin > 0);
    const std::string kind = good.substr(16, begin - 24);
    for (std::size_t at = begin; at + 4 < good.size(); at += kSweepStride) {
      const checkpoint_targets::Check check{
          [&, &seed = seed](const char* what) { FAIL(seed << ", offset " << at << ": " << what); },
          kind};
      for (const std::uint64_t v : checkpoint_targets::kExtremes64) {
        checkpoint_targets::all_targets(checkpoint_targets::with_field(good, at, v, 8), check);
        ++inputs;
      }
      for (const std::uint32_t v : checkpoint_targets::kExtremes32) {
        checkpoint_targets::all_targets(checkpoint_targets::with_field(good, at, v, 4), check);
        ++inputs;
      }
    }
  }
  return inputs;
}

}  // namespace

// One ctest entry per part, so that they run side by side.
#define DESCENT_SWEEP_PART(k)                                                                  \
  TEST_CASE("hostile: every field of every seed checkpoint set to an extreme value, seeds " #k \
            " of 4",                                                                           \
            "[hostile][long]") {                                                               \
    CHECK(sweep_seed_fields(k - 1, 4) > 2000 / kSweepStride);                                  \
  }
DESCENT_SWEEP_PART(1)
DESCENT_SWEEP_PART(2)
DESCENT_SWEEP_PART(3)
DESCENT_SWEEP_PART(4)
#undef DESCENT_SWEEP_PART
