#pragma once
/// \file
/// Writing and reading the checkpoint format of checkpoint.hpp: a Writer
/// that builds the bytes in memory, a Reader that checks them whole
/// (magic, version, checksum, kind, scalar type) before anything is parsed,
/// and save_file's write-to-temporary-then-rename.

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <istream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "../checkpoint.hpp"

namespace descent::detail {

constexpr char kMagic[8] = {'D', 'E', 'S', 'C', 'E', 'N', 'T', '\x1a'};
constexpr std::uint32_t kFormatVersion = 1;
enum class ObjectKind : std::uint8_t { Optimizer = 1, Scheduler = 2 };

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32.
inline std::uint32_t crc32(const unsigned char* data, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

/// Appends little-endian fields to a byte string.
class Writer {
 public:
  Writer(ObjectKind object, std::string_view kind, int scalar_bytes) {
    bytes_.insert(bytes_.end(), kMagic, kMagic + sizeof kMagic);
    put(kFormatVersion);
    put(static_cast<std::uint8_t>(object));
    put(static_cast<std::uint8_t>(scalar_bytes));
    put(static_cast<std::uint16_t>(kind.size()));
    bytes_.insert(bytes_.end(), kind.begin(), kind.end());
    put(std::uint64_t{0});  // payload length, filled in by finish()
    payload_start_ = bytes_.size();
  }

  void i64(std::int64_t v) { put(static_cast<std::uint64_t>(v)); }
  void f64(double v) { put(v); }
  void u32(std::uint32_t v) { put(v); }
  void name(std::string_view s) {
    put(static_cast<std::uint16_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  template <typename S>
  void array(const S* data, std::int64_t n) {
    put(static_cast<std::uint64_t>(n));
    for (std::int64_t i = 0; i < n; ++i) put(data[i]);
  }

  /// Completes the length and checksum and writes everything to out.
  void finish(std::ostream& out, std::string_view who) {
    const std::uint64_t payload = bytes_.size() - payload_start_;
    for (int b = 0; b < 8; ++b) {
      bytes_[payload_start_ - 8 + std::size_t(b)] = static_cast<unsigned char>(payload >> (8 * b));
    }
    put(crc32(bytes_.data(), bytes_.size()));
    out.write(reinterpret_cast<const char*>(bytes_.data()),
              static_cast<std::streamsize>(bytes_.size()));
    if (!out) throw CheckpointError(std::string(who) + ": writing the checkpoint failed");
  }

 private:
  template <typename T>
  void put(T v) {
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    // The format is little-endian; so are the machines this targets. A
    // big-endian host would reverse `raw` here.
    bytes_.insert(bytes_.end(), raw, raw + sizeof(T));
  }

  std::vector<unsigned char> bytes_;
  std::size_t payload_start_ = 0;
};

/// Reads a whole checkpoint from a stream and checks its frame before any
/// field is parsed; then hands out the payload's fields. Every failure is a
/// CheckpointError that starts with `who`.
class Reader {
 public:
  Reader(std::istream& in, std::string who, ObjectKind object, std::string_view kind,
         int scalar_bytes)
      : who_(std::move(who)) {
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) fail("reading the stream failed");
    if (bytes_.size() < sizeof kMagic) {
      fail("truncated: " + std::to_string(bytes_.size()) + " bytes, not even a header");
    }
    if (std::memcmp(bytes_.data(), kMagic, sizeof kMagic) != 0) {
      fail("not a descent checkpoint (bad magic)");
    }
    pos_ = sizeof kMagic;
    const auto version = get<std::uint32_t>("format version");
    if (version != kFormatVersion) {
      fail("format version " + std::to_string(version) + ", this library reads version " +
           std::to_string(kFormatVersion));
    }
    const auto got_object = get<std::uint8_t>("object");
    const auto got_scalar = get<std::uint8_t>("scalar size");
    const std::string got_kind = name("kind");
    const auto payload = get<std::uint64_t>("payload length");
    if (payload > bytes_.size() - pos_ || bytes_.size() - pos_ - payload != 4) {
      fail("truncated or padded: " + std::to_string(bytes_.size()) + " bytes where the header " +
           "announces " + std::to_string(pos_ + payload + 4));
    }
    std::uint32_t stored = 0;
    std::memcpy(&stored, bytes_.data() + pos_ + payload, 4);
    if (stored != crc32(bytes_.data(), bytes_.size() - 4)) {
      fail("checksum mismatch: the checkpoint is corrupt");
    }
    if (got_object != static_cast<std::uint8_t>(object)) {
      fail(std::string("the checkpoint holds a ") + (object == ObjectKind::Optimizer
                                                         ? "scheduler, not an optimizer"
                                                         : "optimizer, not a scheduler"));
    }
    if (got_kind != kind) fail("the checkpoint is for " + got_kind + ", not " + std::string(kind));
    if (got_scalar != scalar_bytes) {
      fail(std::string("the checkpoint holds ") + scalar_name(got_scalar) + ", not " +
           scalar_name(scalar_bytes));
    }
    end_ = pos_ + payload;
  }

  std::int64_t i64(const char* what) { return static_cast<std::int64_t>(get<std::uint64_t>(what)); }
  double f64(const char* what) { return get<double>(what); }
  std::uint32_t u32(const char* what) { return get<std::uint32_t>(what); }
  /// A count of the elements that follow, each at least element_bytes long:
  /// refused unless that many could still be in the payload, so a corrupt
  /// count never sizes an allocation.
  std::uint32_t count(const char* what, std::size_t element_bytes) {
    const std::uint32_t n = u32(what);
    need(std::uint64_t(n) * element_bytes, what);
    return n;
  }
  std::string name(const char* what) {
    const auto n = get<std::uint16_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  /// An array of S of exactly `expected` elements.
  template <typename S, typename Vector>
  Vector array(std::int64_t expected, const char* what) {
    const auto n = get<std::uint64_t>(what);
    if (n != static_cast<std::uint64_t>(expected)) {
      fail(std::string(what) + " has " + std::to_string(n) + " elements where the state size is " +
           std::to_string(expected));
    }
    const std::size_t limit = end_ ? end_ : bytes_.size();
    if (n > (limit - pos_) / sizeof(S)) fail(std::string("truncated in ") + what);
    Vector v(static_cast<Eigen::Index>(n));
    if (n > 0) std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(S));
    pos_ += n * sizeof(S);
    return v;
  }

  /// Requires that the payload has been read to its end.
  void finish() {
    if (pos_ != end_) fail(std::to_string(end_ - pos_) + " unexpected bytes after the payload");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(who_ + ": " + what);
  }

 private:
  static const char* scalar_name(int bytes) {
    return bytes == 4 ? "float" : bytes == 8 ? "double" : "an unknown scalar type";
  }

  void need(std::uint64_t n, const char* what) const {
    const std::size_t limit = end_ ? end_ : bytes_.size();
    if (n > limit - pos_) fail(std::string("truncated in ") + what);
  }

  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string who_;
  std::vector<unsigned char> bytes_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;  // end of the payload, once the frame is checked
};

/// Writes a checkpoint to `path` through a temporary file in the same folder
/// that is flushed to disk and then renamed over `path`, so a crash leaves
/// either the old file or the new one, never a torn one.
template <typename Save>
void save_file(const std::string& path, const std::string& who, const Save& save) {
  std::string bytes;
  {
    std::ostringstream out;
    save(out);
    bytes = out.str();
  }
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) throw CheckpointError(who + ": cannot open " + temporary + " for writing");
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  ok = std::fflush(file) == 0 && ok;
#if defined(__unix__) || defined(__APPLE__)
  ok = ::fsync(fileno(file)) == 0 && ok;
#endif
  ok = std::fclose(file) == 0 && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw CheckpointError(who + ": writing " + path + " failed");
  }
}

/// Opens `path` and calls load(stream). \throws CheckpointError if the
/// file cannot be opened.
template <typename Load>
void load_file(const std::string& path, const std::string& who, const Load& load) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(who + ": cannot open " + path);
  load(in);
}

}  // namespace descent::detail
