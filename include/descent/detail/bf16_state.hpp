#pragma once
/// \file
/// State arrays stored as Eigen::bfloat16 (the `state_storage` option): the
/// kernels' state pointers become Bf16State, which Pack<float> and
/// One<float> load by widening to float exactly and store by rounding to
/// nearest even (as `Eigen::bfloat16(float)`, NaN to a quiet NaN of the same
/// sign) or stochastically. A packet and the one-lane tail give the same bits,
/// so an element's result does not depend on where it falls.
///
/// Stochastic rounding adds 16 random bits to the float's bits and truncates,
/// which rounds up with probability equal to the fraction cut off. The bits
/// are a pure function of (seed, step t, array k, element index i): a hash,
/// not a generator's sequence, so threads, packets, tails and ParamGroups'
/// splits of a tensor all see the same bits, and runs repeat.

#include "../state_storage.hpp"
#include "check.hpp"
#include "simd.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

namespace descent::detail {

/// splitmix64's output function (Steele, Lea & Flood 2014).
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// MurmurHash3's 32-bit finalizer: a bijection whose every output bit
/// depends on every input bit.
constexpr std::uint32_t mix32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  return x ^ (x >> 16);
}

/// The key of array k's stochastic rounding at step t with seed.
constexpr std::uint64_t rounding_key(std::uint32_t seed, std::int64_t t, int k) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(t)) ^
                    static_cast<std::uint64_t>(k));
}

/// The 16 random bits that stochastic rounding adds to element i's float
/// bits, given the array's key.
constexpr std::uint32_t rounding_bits(std::uint64_t key, std::int64_t i) {
  const auto u = static_cast<std::uint64_t>(i);
  const std::uint32_t high = mix32(std::uint32_t(u >> 32) ^ std::uint32_t(key >> 32));
  return mix32(std::uint32_t(u) ^ std::uint32_t(key) ^ high) >> 16;
}

namespace simd {

DESCENT_ALWAYS_INLINE std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

/// f rounded to bfloat16 by adding `add` (< 2^16) to its bits and
/// truncating; a NaN becomes the quiet NaN of its sign, as Eigen makes it.
/// add = 0x7FFF + the kept part's lowest bit is round to nearest even.
DESCENT_ALWAYS_INLINE Eigen::bfloat16 narrow_one(float f, std::uint32_t add) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t r = std::isnan(f) ? ((u >> 16) & 0x8000u) | 0x7FC0u : (u + add) >> 16;
  return Eigen::bfloat16_impl::raw_uint16_to_bfloat16(static_cast<std::uint16_t>(r));
}

DESCENT_ALWAYS_INLINE std::uint32_t nearest_add(std::uint32_t u) {
  return 0x7FFFu + ((u >> 16) & 1u);
}

DESCENT_ALWAYS_INLINE One<float> widen(One<float>, const Eigen::bfloat16* p) {
  return One<float>(float(*p));
}
DESCENT_ALWAYS_INLINE void narrow_nearest(One<float> v, Eigen::bfloat16* p) {
  *p = narrow_one(v.v, nearest_add(bits_of(v.v)));
}
DESCENT_ALWAYS_INLINE void narrow_added(One<float> v, const std::uint32_t* add,
                                        Eigen::bfloat16* p) {
  *p = narrow_one(v.v, add[0]);
}

#if DESCENT_SIMD_BYTES >= 64 && defined(__AVX512F__)
// The maskz forms with a full mask are the plain instructions; the plain
// intrinsics pass GCC 12 an _mm512_undefined_*() operand that it reports as
// uninitialized once inlined (https://gcc.gnu.org/bugzilla/show_bug.cgi?id=105593).
constexpr __mmask16 kAll = 0xFFFF;
DESCENT_ALWAYS_INLINE Pack<float> widen(Pack<float>, const Eigen::bfloat16* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return Pack<float>(
      _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAll, _mm512_maskz_cvtepu16_epi32(kAll, h), 16)));
}
DESCENT_ALWAYS_INLINE void narrow_with(Pack<float> v, __m512i add, Eigen::bfloat16* p) {
  const __m512i u = _mm512_castps_si512(v.v);
  const __m512i r = _mm512_maskz_srli_epi32(kAll, _mm512_add_epi32(u, add), 16);
  const __m512i nan = _mm512_or_si512(
      _mm512_and_si512(_mm512_maskz_srli_epi32(kAll, u, 16), _mm512_set1_epi32(0x8000)),
      _mm512_set1_epi32(0x7FC0));
  const __m512i out = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v.v, v.v, _CMP_UNORD_Q), r, nan);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_maskz_cvtepi32_epi16(kAll, out));
}
DESCENT_ALWAYS_INLINE void narrow_nearest(Pack<float> v, Eigen::bfloat16* p) {
#if defined(__AVX512BF16__) && defined(__AVX512DQ__)
  // vcvtneps2bf16 rounds to nearest even in one instruction, but flushes
  // subnormal inputs to zero and keeps a NaN's payload: a packet holding
  // either (fpclass QNaN 0x01, subnormal 0x20, SNaN 0x80) takes the integer
  // path below, which gives Eigen's bits for every input.
  if (_mm512_fpclass_ps_mask(v.v, 0xA1) == 0) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v.v)));
    return;
  }
#endif
  const __m512i u = _mm512_castps_si512(v.v);
  narrow_with(v,
              _mm512_add_epi32(
                  _mm512_set1_epi32(0x7FFF),
                  _mm512_and_si512(_mm512_maskz_srli_epi32(kAll, u, 16), _mm512_set1_epi32(1))),
              p);
}
DESCENT_ALWAYS_INLINE void narrow_added(Pack<float> v, const std::uint32_t* add,
                                        Eigen::bfloat16* p) {
  narrow_with(v, _mm512_loadu_si512(add), p);
}
#elif DESCENT_SIMD_BYTES >= 32 && defined(__AVX2__)
DESCENT_ALWAYS_INLINE Pack<float> widen(Pack<float>, const Eigen::bfloat16* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return Pack<float>(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
}
DESCENT_ALWAYS_INLINE void narrow_with(Pack<float> v, __m256i add, Eigen::bfloat16* p) {
  const __m256i u = _mm256_castps_si256(v.v);
  const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, add), 16);
  const __m256i nan =
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000)),
                      _mm256_set1_epi32(0x7FC0));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v.v, v.v, _CMP_UNORD_Q));
  const __m256i out = _mm256_blendv_epi8(r, nan, is_nan);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm_packus_epi32(_mm256_castsi256_si128(out), _mm256_extracti128_si256(out, 1)));
}
DESCENT_ALWAYS_INLINE void narrow_nearest(Pack<float> v, Eigen::bfloat16* p) {
  const __m256i u = _mm256_castps_si256(v.v);
  narrow_with(v,
              _mm256_add_epi32(_mm256_set1_epi32(0x7FFF),
                               _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))),
              p);
}
DESCENT_ALWAYS_INLINE void narrow_added(Pack<float> v, const std::uint32_t* add,
                                        Eigen::bfloat16* p) {
  narrow_with(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(add)), p);
}
#elif DESCENT_SIMD_BYTES >= 16
// SSE2, four floats at a time; AVX without AVX2 (no 256-bit integer
// operations) runs it on each half of its packet.
DESCENT_ALWAYS_INLINE __m128 widen4(const Eigen::bfloat16* p) {
  const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h));  // h << 16
}
DESCENT_ALWAYS_INLINE void narrow4(__m128 v, __m128i add, Eigen::bfloat16* p) {
  const __m128i u = _mm_castps_si128(v);
  const __m128i r = _mm_srli_epi32(_mm_add_epi32(u, add), 16);
  const __m128i nan = _mm_or_si128(_mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(0x8000)),
                                   _mm_set1_epi32(0x7FC0));
  const __m128i is_nan = _mm_castps_si128(_mm_cmpunord_ps(v, v));
  const __m128i out = _mm_or_si128(_mm_and_si128(is_nan, nan), _mm_andnot_si128(is_nan, r));
  // SSE2 packs only with signed saturation: shifted to [−2^15, 2^15) and back.
  const __m128i shifted = _mm_sub_epi32(out, _mm_set1_epi32(0x8000));
  const __m128i packed = _mm_xor_si128(_mm_packs_epi32(shifted, shifted), _mm_set1_epi16(-0x8000));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), packed);
}
DESCENT_ALWAYS_INLINE __m128i nearest_add4(__m128 v) {
  const __m128i u = _mm_castps_si128(v);
  return _mm_add_epi32(_mm_set1_epi32(0x7FFF),
                       _mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(1)));
}
DESCENT_ALWAYS_INLINE __m128i load_add4(const std::uint32_t* add) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(add));
}
#if DESCENT_SIMD_BYTES >= 32 && defined(__AVX__)
DESCENT_ALWAYS_INLINE Pack<float> widen(Pack<float>, const Eigen::bfloat16* p) {
  return Pack<float>(_mm256_insertf128_ps(_mm256_castps128_ps256(widen4(p)), widen4(p + 4), 1));
}
DESCENT_ALWAYS_INLINE void narrow_nearest(Pack<float> v, Eigen::bfloat16* p) {
  const __m128 lo = _mm256_castps256_ps128(v.v), hi = _mm256_extractf128_ps(v.v, 1);
  narrow4(lo, nearest_add4(lo), p);
  narrow4(hi, nearest_add4(hi), p + 4);
}
DESCENT_ALWAYS_INLINE void narrow_added(Pack<float> v, const std::uint32_t* add,
                                        Eigen::bfloat16* p) {
  narrow4(_mm256_castps256_ps128(v.v), load_add4(add), p);
  narrow4(_mm256_extractf128_ps(v.v, 1), load_add4(add + 4), p + 4);
}
#else
DESCENT_ALWAYS_INLINE Pack<float> widen(Pack<float>, const Eigen::bfloat16* p) {
  return Pack<float>(widen4(p));
}
DESCENT_ALWAYS_INLINE void narrow_nearest(Pack<float> v, Eigen::bfloat16* p) {
  narrow4(v.v, nearest_add4(v.v), p);
}
DESCENT_ALWAYS_INLINE void narrow_added(Pack<float> v, const std::uint32_t* add,
                                        Eigen::bfloat16* p) {
  narrow4(v.v, load_add4(add), p);
}
#endif
#endif

}  // namespace simd

/// A kernel's pointer into a bfloat16 state array: p + i for element i,
/// whose index in the whole array is `index` (for the random bits of
/// stochastic rounding). V::load(s) widens V::size elements, v.store(s)
/// rounds them back.
struct Bf16State {
  Eigen::bfloat16* p;
  Eigen::Index index;
  std::uint64_t key;
  bool stochastic;

  Bf16State operator+(Eigen::Index i) const { return {p + i, index + i, key, stochastic}; }

  template <typename V>
  DESCENT_ALWAYS_INLINE V load() const {
    return simd::widen(V{}, p);
  }
  template <typename V>
  DESCENT_ALWAYS_INLINE void store(V v) const {
    if (stochastic) {
      store_stochastic(v, p, index, key);
    } else {
      simd::narrow_nearest(v, p);
    }
  }

  // Inline: a call in the loop, however rarely taken, clobbers every vector
  // register, and the loop then reloads its coefficients from the stack on
  // every packet of the hot path (rounding to nearest). Inline, the hash's
  // lanes vectorize too.
  template <typename V>
  DESCENT_ALWAYS_INLINE static void store_stochastic(V v, Eigen::bfloat16* to, Eigen::Index at,
                                                     std::uint64_t with) {
    std::uint32_t add[V::size];
    for (int l = 0; l < V::size; ++l) add[l] = rounding_bits(with, at + l);
    simd::narrow_added(v, add, to);
  }
};

/// The state pointers of an optimizer whose state is its Scalar: the
/// vectors' own data.
struct SameStorage {
  template <typename Vector, typename Vector16>
  auto operator()(int, Vector& v, Vector16&) const {
    return v.data();
  }
};

/// The state pointers of an optimizer whose state is bfloat16: array k of
/// step t, rounded to nearest or stochastically with seed.
struct Bf16Storage {
  bool stochastic;
  std::uint32_t seed;
  std::int64_t t;
  Eigen::Index offset;  // the index of element 0 for the random bits
  template <typename Vector, typename Vector16>
  Bf16State operator()(int k, Vector&, Vector16& v16) const {
    return {v16.data(), offset, rounding_key(seed, t, k), stochastic};
  }
};

/// The storage options: a StateStorage; BFloat16 only for float, whose
/// math it keeps; stochastic_rounding only with BFloat16, where it acts.
template <typename Scalar, typename Options>
void check_storage_options(std::string_view cls, const Options& o) {
  check_enum(cls, "state_storage", o.state_storage);
  if (o.state_storage == StateStorage::BFloat16 && !std::is_same<Scalar, float>::value) {
    throw_invalid_combination(
        cls,
        "state_storage BFloat16 needs float parameters: its math is float, "
        "and a double optimizer keeps double state; got BFloat16 with double");
  }
  if (o.stochastic_rounding && o.state_storage != StateStorage::BFloat16) {
    throw_invalid_combination(cls,
                              "stochastic_rounding rounds bfloat16 state and needs state_storage "
                              "BFloat16, got stochastic_rounding with state_storage Same");
  }
}

/// Calls f(storage), where storage(k, vector, vector16) is the kernel's
/// pointer to state array k: SameStorage, or, for a float optimizer with
/// state_storage BFloat16, Bf16Storage, its element 0 at index `offset`
/// (Optimizer::element_offset()) for the random bits. A double optimizer
/// refuses BFloat16 at construction, so it compiles only the first.
template <typename Scalar, typename Options, typename F>
void with_storage(const Options& o, std::int64_t t, Eigen::Index offset, F&& f) {
  if constexpr (std::is_same<Scalar, float>::value) {
    if (o.state_storage == StateStorage::BFloat16) {
      f(Bf16Storage{o.stochastic_rounding, o.rounding_seed, t, offset});
      return;
    }
  }
  f(SameStorage{});
}

}  // namespace descent::detail
