#pragma once
/// \file
/// Writing and reading the checkpoint format of checkpoint.hpp: a Writer
/// that builds the bytes in memory, a Reader that checks the header, then
/// reads exactly the payload the header announces and checks its checksum
/// before any field is parsed, and the files: save_file's unique temporary,
/// fsync and rename, load_file's regular-file check.

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <istream>
#include <limits>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#if defined(__unix__) || defined(__APPLE__)
#define DESCENT_POSIX_FILES 1
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#include <fstream>
#endif

#include "../checkpoint.hpp"

namespace descent::detail {

constexpr char kMagic[8] = {'D', 'E', 'S', 'C', 'E', 'N', 'T', '\x1a'};
constexpr std::uint32_t kFormatVersion = 1;
enum class ObjectKind : std::uint8_t {
  Optimizer = 1,
  Scheduler = 2,
  Average = 3,
  Wrapper = 4,
  LossScaler = 5,
  ParamGroups = 6
};

/// "an optimizer", "a scheduler", "a weight average", "an optimizer
/// wrapper", "a loss scaler" or "parameter groups", for messages.
inline const char* object_name(std::uint8_t kind) {
  switch (kind) {
    case static_cast<std::uint8_t>(ObjectKind::Optimizer):
      return "an optimizer";
    case static_cast<std::uint8_t>(ObjectKind::Scheduler):
      return "a scheduler";
    case static_cast<std::uint8_t>(ObjectKind::Average):
      return "a weight average";
    case static_cast<std::uint8_t>(ObjectKind::Wrapper):
      return "an optimizer wrapper";
    case static_cast<std::uint8_t>(ObjectKind::LossScaler):
      return "a loss scaler";
    case static_cast<std::uint8_t>(ObjectKind::ParamGroups):
      return "parameter groups";
    default:
      return "an unknown object";
  }
}

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
    // Reserved up front: besides saving reallocations, this keeps GCC 12's
    // -Wstringop-overflow from misreading the first inserts into an empty
    // vector where save() is inlined.
    bytes_.reserve(256);
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
  /// A nested record (a wrapped optimizer's checkpoint): length u64, bytes.
  void bytes(const std::string& b) {
    put(static_cast<std::uint64_t>(b.size()));
    bytes_.insert(bytes_.end(), b.begin(), b.end());
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
    bool ok = false;
    try {
      out.write(reinterpret_cast<const char*>(bytes_.data()),
                static_cast<std::streamsize>(bytes_.size()));
      // Flushed here, so that a full device or a closed pipe fails this call
      // rather than a later, unrelated one.
      ok = static_cast<bool>(out.flush());
    } catch (const std::exception&) {  // a stream with exceptions() set
    }
    if (!ok) throw CheckpointError(std::string(who) + ": writing the checkpoint failed");
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

/// Whether b is exactly one checkpoint as its header announces (16 + K
/// header bytes, 8 of payload length, P of payload, 4 of checksum).
inline bool one_record(const std::string& b) {
  if (b.size() < 24) return false;
  const auto byte = [&b](std::size_t i) { return std::uint64_t(static_cast<unsigned char>(b[i])); };
  const std::uint64_t kind = byte(14) | byte(15) << 8;
  if (b.size() < 24 + kind) return false;
  std::uint64_t payload = 0;
  for (std::size_t k = 0; k < 8; ++k) payload |= byte(16 + kind + k) << (8 * k);
  return b.size() >= 28 + kind && b.size() - 28 - kind == payload;
}

#if DESCENT_POSIX_FILES
/// The stream buffer of load_file: reads a regular file through its
/// descriptor and knows how many of its bytes are left, so that the Reader
/// refuses a header that announces more (or fewer) bytes than the file
/// holds before reading any of it.
class FileBuffer : public std::streambuf {
 public:
  FileBuffer(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~FileBuffer() override { ::close(fd_); }
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  /// Bytes of the file not yet handed to the reader.
  std::uint64_t remaining() const {
    const auto buffered = static_cast<std::uint64_t>(egptr() - gptr());
    return size_ > read_ ? size_ - read_ + buffered : buffered;
  }
  /// errno of a failed read, or 0.
  int error() const { return error_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    ssize_t n;
    do {
      n = ::read(fd_, buffer_, sizeof buffer_);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      if (n < 0) error_ = errno;
      return traits_type::eof();
    }
    read_ += static_cast<std::uint64_t>(n);
    setg(buffer_, buffer_, buffer_ + n);
    return traits_type::to_int_type(buffer_[0]);
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::uint64_t read_ = 0;
  int error_ = 0;
  char buffer_[1 << 16];
};
#endif

/// Reads one checkpoint from a stream: first the header, whose magic,
/// version, kind and scalar type are checked before anything else is read;
/// then exactly the payload and checksum that the header announces, in
/// chunks, so memory grows only with bytes the stream really delivers;
/// then the checksum. The stream is left just past the checkpoint, so
/// several saved one after another load back in order. Then hands out the
/// payload's fields. Every failure is a CheckpointError that starts with
/// `who`.
class Reader {
 public:
  Reader(std::istream& in, std::string who, ObjectKind object, std::string_view kind,
         int scalar_bytes)
      : who_(std::move(who)) {
    try {
      read_frame(in, object, kind, scalar_bytes);
    } catch (const CheckpointError&) {
      throw;
    } catch (const std::exception& e) {  // a stream with exceptions() set
      fail(std::string("reading the stream failed: ") + e.what());
    }
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
  /// A nested record written by Writer::bytes.
  std::string bytes(const char* what) {
    const auto n = get<std::uint64_t>(what);
    need(n, what);
    std::string b(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return b;
  }
  /// An array of S of exactly `expected` elements.
  template <typename S, typename Vector>
  Vector array(std::int64_t expected, const char* what) {
    const auto n = get<std::uint64_t>(what);
    if (n != static_cast<std::uint64_t>(expected)) {
      fail(std::string(what) + " has " + std::to_string(n) + " elements where the state size is " +
           std::to_string(expected));
    }
    if (n > (end_ - pos_) / sizeof(S)) fail(std::string("truncated in ") + what);
    Vector v(static_cast<Eigen::Index>(n));
    if (n > 0) std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(S));
    pos_ += n * sizeof(S);
    return v;
  }

  /// Whether the payload has been read to its end.
  bool at_end() const noexcept { return pos_ == end_; }

  /// Requires that the payload has been read to its end.
  void finish() {
    if (pos_ != end_) fail(std::to_string(end_ - pos_) + " unexpected bytes after the payload");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(who_ + ": " + what);
  }

  /// Runs check(), the check a constructor makes of its arguments, on values
  /// read from the checkpoint, and fails with its words, after `prefix`, if
  /// it throws std::invalid_argument: each argument check is written once,
  /// for both.
  template <typename Check>
  void validate(const Check& check, const char* prefix = "") const {
    try {
      check();
    } catch (const std::invalid_argument& e) {
      fail(prefix + std::string(e.what()));
    }
  }

 private:
  static const char* scalar_name(int bytes) {
    return bytes == 4 ? "float" : bytes == 8 ? "double" : "an unknown scalar type";
  }

  void read_frame(std::istream& in, ObjectKind object, std::string_view kind, int scalar_bytes) {
    // The header: magic, version, object, scalar size, kind name, payload
    // length (checkpoint.hpp).
    if (!read(in, sizeof kMagic) || std::memcmp(bytes_.data(), kMagic, sizeof kMagic) != 0) {
      if (bytes_.size() < sizeof kMagic) {
        fail("truncated: " + std::to_string(bytes_.size()) + " bytes, not even a header");
      }
      fail("not a descent checkpoint (bad magic)");
    }
    end_ = sizeof kMagic + 8;
    if (!read(in, 8)) fail("truncated in the header");
    pos_ = sizeof kMagic;
    const auto version = get<std::uint32_t>("format version");
    if (version != kFormatVersion) {
      fail("format version " + std::to_string(version) + ", this library reads version " +
           std::to_string(kFormatVersion));
    }
    const auto got_object = get<std::uint8_t>("object");
    const auto got_scalar = get<std::uint8_t>("scalar size");
    const auto kind_length = get<std::uint16_t>("kind");
    if (!read(in, std::size_t{kind_length} + 8)) fail("truncated in the header");
    end_ = bytes_.size();
    const std::string got_kind(reinterpret_cast<const char*>(bytes_.data() + pos_), kind_length);
    pos_ += kind_length;
    const auto payload = get<std::uint64_t>("payload length");
    if (got_object != static_cast<std::uint8_t>(object)) {
      fail(std::string("the checkpoint holds ") + object_name(got_object) + ", not " +
           object_name(static_cast<std::uint8_t>(object)));
    }
    if (got_kind != kind) fail("the checkpoint is for " + got_kind + ", not " + std::string(kind));
    if (got_scalar != scalar_bytes) {
      fail(std::string("the checkpoint holds ") + scalar_name(got_scalar) + ", not " +
           scalar_name(scalar_bytes));
    }

    // The payload and checksum: exactly as many bytes as announced.
    const std::uint64_t header = bytes_.size();
    const std::uint64_t rest_max = std::numeric_limits<std::size_t>::max() - header - 4;
    if (payload > rest_max) fail("the header announces an impossible length " + to_string(payload));
    const std::uint64_t announced = header + payload + 4;
#if DESCENT_POSIX_FILES
    if (const auto* file = dynamic_cast<const FileBuffer*>(in.rdbuf())) {
      if (file->remaining() != payload + 4) {
        fail("truncated or padded: the file holds " + to_string(header + file->remaining()) +
             " bytes where the header announces " + to_string(announced));
      }
    }
#endif
    if (!read(in, static_cast<std::size_t>(payload + 4))) {
      if (in.bad()) fail("reading the stream failed");
      fail("truncated: " + std::to_string(bytes_.size()) + " bytes where the header announces " +
           to_string(announced));
    }
    std::uint32_t stored = 0;
    std::memcpy(&stored, bytes_.data() + bytes_.size() - 4, 4);
    if (stored != crc32(bytes_.data(), bytes_.size() - 4)) {
      fail("checksum mismatch: the checkpoint is corrupt");
    }
    pos_ = static_cast<std::size_t>(header);
    end_ = bytes_.size() - 4;
  }

  /// Appends the next n bytes of the stream to bytes_; false if it ends
  /// first. Reads in chunks that grow with what arrived, so a length no
  /// stream delivers never sizes an allocation.
  bool read(std::istream& in, std::size_t n) {
    constexpr std::size_t kFirstChunk = std::size_t{1} << 16;
    while (n > 0) {
      const std::size_t have = bytes_.size();
      const std::size_t chunk = std::min(n, std::max(kFirstChunk, have));
      bytes_.resize(have + chunk);
      in.read(reinterpret_cast<char*>(bytes_.data() + have), static_cast<std::streamsize>(chunk));
      const auto got = static_cast<std::size_t>(in.gcount());
      bytes_.resize(have + got);
      if (got < chunk) return false;
      n -= chunk;
    }
    return true;
  }

  static std::string to_string(std::uint64_t n) { return std::to_string(n); }

  void need(std::uint64_t n, const char* what) const {
    if (n > end_ - pos_) fail(std::string("truncated in ") + what);
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
  std::size_t end_ = 0;  // how far the fields may be read
};

#if DESCENT_POSIX_FILES
inline std::string errno_text(int error) { return std::strerror(error); }

/// Writes all of data to fd; false on an error.
inline bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

/// The folder of path, for its temporary and its fsync: "." if none.
inline std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
#endif

/// \brief Writes a checkpoint to `path` so that a reader, a crash or another
/// process saving to the same path at the same time only ever sees a
/// complete checkpoint there, the old or a new one.
///
/// The bytes go to a temporary file of a unique name in path's folder
/// (created exclusively: no other file is touched), which takes the
/// replaced file's permissions (new files get 0666 less the umask), is
/// flushed to disk and renamed over path; then the folder is flushed, so the
/// rename survives a power loss. A process killed in the middle may leave
/// its temporary, `<path>.tmp-<pid>-<n>`, behind; never a torn path. path
/// must be a regular file or not exist (a symbolic link is replaced by the
/// file, not followed).
template <typename Save>
void save_file(const std::string& path, const std::string& who, const Save& save) {
  std::string bytes;
  {
    std::ostringstream out;
    save(out);
    bytes = out.str();
  }
#if DESCENT_POSIX_FILES
  struct stat old {};
  const bool replacing = ::stat(path.c_str(), &old) == 0;
  if (replacing && !S_ISREG(old.st_mode)) {
    throw CheckpointError(who + ": " + path + " exists and is not a regular file");
  }
  static std::atomic<unsigned long> counter{0};
  const auto salt = static_cast<unsigned long>(
      std::chrono::steady_clock::now().time_since_epoch().count() & 0xFFFFFF);
  std::string temporary;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temporary = path + ".tmp-" + std::to_string(::getpid()) + "-" +
                std::to_string(salt + counter.fetch_add(1));
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt == 100)) {
      throw CheckpointError(who + ": cannot create " + temporary + ": " + errno_text(errno));
    }
  }
  int error = 0;
  if (!write_all(fd, bytes.data(), bytes.size())) error = errno;
  if (replacing && error == 0) {
    // The replaced file's permissions, and its owner where we may set it
    // (as root); otherwise the new file is ours.
    if (::fchown(fd, old.st_uid, old.st_gid) != 0) errno = 0;
    if (::fchmod(fd, old.st_mode & 07777) != 0) error = errno;
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && std::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temporary.c_str());
    throw CheckpointError(who + ": writing " + path + " failed: " + errno_text(error));
  }
  const int folder = ::open(folder_of(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (folder >= 0) {
    ::fsync(folder);
    ::close(folder);
  }
#else
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) throw CheckpointError(who + ": cannot open " + temporary + " for writing");
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  ok = std::fclose(file) == 0 && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw CheckpointError(who + ": writing " + path + " failed");
  }
#endif
}

/// Opens `path`, which must be a regular file, and calls load(stream); the
/// checkpoint must fill the file exactly.
/// \throws CheckpointError if the file cannot be opened or read, or is a
/// directory, a FIFO, a device or anything else but a regular file.
template <typename Load>
void load_file(const std::string& path, const std::string& who, const Load& load) {
#if DESCENT_POSIX_FILES
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw CheckpointError(who + ": cannot open " + path + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool folder = S_ISDIR(st.st_mode);
    ::close(fd);
    throw CheckpointError(who + ": " + path + " is " +
                          (folder ? "a directory" : "not a regular file"));
  }
  FileBuffer buffer(fd, static_cast<std::uint64_t>(st.st_size));
  std::istream in(&buffer);
  try {
    load(in);
  } catch (const CheckpointError&) {
    if (buffer.error() != 0) {
      throw CheckpointError(who + ": reading " + path + " failed: " + errno_text(buffer.error()));
    }
    throw;
  }
#else
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(who + ": cannot open " + path);
  load(in);
#endif
}

}  // namespace descent::detail
