// libFuzzer target over the checkpoint loaders (checkpoint_targets.hpp says
// what is checked for every input and every kind of optimizer and
// scheduler).
//
// Inputs are tried twice: as they are, and with the trailing CRC-32
// recomputed. The custom mutator is structure-aware: most mutations keep a
// valid frame (header intact, payload length and checksum recomputed) and
// either overwrite a field of the payload with an extreme value (−1,
// 2^63 − 1, NaN, −inf, …) or let libFuzzer mutate the payload bytes, so
// that they reach the loaders' semantic checks rather than stopping at the
// checksum.

#include "checkpoint_targets.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// Compiled in checkpoint_targets_float.cpp, in parallel with this file.
extern template void checkpoint_targets::optimizer_targets<float>(const std::string&,
                                                                  const checkpoint_targets::Check&);

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_checkpoint: %s\n", what);
  std::abort();
}

/// A small deterministic generator, seeded by libFuzzer.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : std::size_t(next() % n); }
};

/// Rewrites the payload length field after the payload changed size.
void set_payload_length(std::string& bytes, std::size_t payload_at) {
  const std::uint64_t payload = bytes.size() - payload_at - 4;
  for (int b = 0; b < 8; ++b) {
    bytes[payload_at - 8 + std::size_t(b)] = static_cast<char>(payload >> (8 * b));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const checkpoint_targets::Check every_kind{finding, ""};
  std::string input(reinterpret_cast<const char*>(data), size);
  checkpoint_targets::all_targets(input, every_kind);
  if (size >= 4) {
    checkpoint_targets::reseal(input);
    checkpoint_targets::all_targets(input, every_kind);
  }
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int seed) {
  Random random{seed};
  std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t payload_at = checkpoint_targets::payload_offset(bytes);
  const std::size_t choice = random.below(8);
  if (payload_at == 0 || bytes.size() < payload_at + 4 || choice == 0) {
    return LLVMFuzzerMutate(data, size, max_size);  // the plain byte mutations
  }
  const std::size_t payload = bytes.size() - payload_at - 4;
  if (choice <= 4 && payload > 0) {
    // One field set to an extreme value, at any offset of the payload.
    const std::size_t at = payload_at + random.below(payload);
    if (random.below(2) == 0) {
      const auto& values = checkpoint_targets::kExtremes64;
      bytes = checkpoint_targets::with_field(
          bytes, at, values[random.below(sizeof values / sizeof values[0])], 8);
    } else {
      const auto& values = checkpoint_targets::kExtremes32;
      bytes = checkpoint_targets::with_field(
          bytes, at, values[random.below(sizeof values / sizeof values[0])], 4);
    }
  } else {
    // libFuzzer's mutations of the payload alone; the frame is rebuilt.
    std::string body = bytes.substr(payload_at, payload);
    const std::size_t room = max_size > payload_at + 4 ? max_size - payload_at - 4 : 0;
    if (room == 0) return LLVMFuzzerMutate(data, size, max_size);
    body.resize(std::max(room, body.size()));
    const std::size_t n =
        LLVMFuzzerMutate(reinterpret_cast<std::uint8_t*>(body.data()), payload, room);
    bytes = bytes.substr(0, payload_at) + body.substr(0, n) + std::string(4, '\0');
    set_payload_length(bytes, payload_at);
    checkpoint_targets::reseal(bytes);
  }
  if (bytes.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, bytes.data(), bytes.size());
  return bytes.size();
}
