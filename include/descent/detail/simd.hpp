#pragma once
/// \file
/// The smallest SIMD layer the update kernels need: a packet of floats or
/// doubles with + − × ÷, max (a > b ? a : b, so b if either is NaN), min,
/// abs, sign, a correctly rounded sqrt and a selection by the sign of a
/// lane (if_positive, if_negative), for the widest vector
/// unit the translation unit is compiled for (AVX-512, AVX, SSE2), and a
/// one-lane stand-in with the same interface for the loop tails and for other
/// targets.
///
/// Compilers do not vectorize std::sqrt unless -fno-math-errno is given and
/// the optimizer's cost model agrees; the intrinsics here are IEEE vsqrtps /
/// vsqrtpd and vdivps / vdivpd under any flags. Define DESCENT_SIMD_BYTES to
/// 32, 16 or 0 to cap the width.
///
/// A packet's lanes and One compute the same bits: every operation is
/// correctly rounded, max picks the same operand, and no product is ever
/// fused with an add (see opaque()). So an element's result does not depend
/// on whether it falls in a packet or in a tail, and hence not on where a
/// vector, thread chunk or segment starts or ends.

#include <cmath>
#include <type_traits>

#include <Eigen/Core>

#if !defined(DESCENT_SIMD_BYTES)
#if defined(__AVX512F__)
#define DESCENT_SIMD_BYTES 64
#elif defined(__AVX__)
#define DESCENT_SIMD_BYTES 32
#elif defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define DESCENT_SIMD_BYTES 16
#else
#define DESCENT_SIMD_BYTES 0
#endif
#endif

// SSE2 needs only <emmintrin.h>: <immintrin.h>, every instruction set's
// intrinsics, would add half a second to the compile of every file that
// includes descent.
#if DESCENT_SIMD_BYTES >= 32
#include <immintrin.h>
#elif DESCENT_SIMD_BYTES >= 16
#include <emmintrin.h>
#endif

// Forces the inlining of the small functions a kernel body calls per packet
// (the bfloat16 conversions), which GCC otherwise leaves out of line in the
// large bodies of the adaptive methods, at a cost of more than 2x.
#if defined(__GNUC__) || defined(__clang__)
#define DESCENT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define DESCENT_ALWAYS_INLINE inline
#endif

namespace descent::detail::simd {

/// x, through an empty asm statement that claims to change it: every product
/// passes through this, so the compiler cannot contract it with an add or a
/// subtract into one fused multiply-add. GCC contracts by default
/// (-ffp-contract=fast, even in ISO mode, and across the intrinsics, whose
/// + and * are plain vector arithmetic), as does clang with
/// -ffp-contract=fast, and they did so differently in the packet loop and in
/// the tail, so that a parameter after one AdamW step depended on where it
/// fell. The asm emits no instruction. MSVC does not contract unless told to
/// (/fp:fast, /fp:contract).
template <typename T>
inline T opaque(T x) {
#if defined(__GNUC__) || defined(__clang__)
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__)
#if defined(__AVX512F__)
  __asm__("" : "+v"(x));  // any of xmm/ymm/zmm0-31
#else
  __asm__("" : "+x"(x));
#endif
#elif defined(__aarch64__)
  __asm__("" : "+w"(x));
#else
  __asm__("" : "+m"(x));  // through memory: valid on any target
#endif
#endif
  return x;
}

/// sign(a) for One<S> and Pack<S> alike: −1, ±0 (the zero's own sign) or 1,
/// and NaN for NaN. a is scaled by 2^200 (float) or 2^1200 (double), so that
/// any nonzero a, the smallest subnormal included, is at least 1 in
/// magnitude (larger ones overflow to ±inf), then clamped to [−1, 1] by max
/// and min, which return their second operand, the NaN, when either is NaN.
/// Built from the operations below, so a packet's lanes and One agree bit
/// for bit.
template <typename S, typename V>
inline V sign_of(V a) {
  const V k(sizeof(S) == sizeof(float) ? S(0x1p100) : S(0x1p600));
  return min(V(S(1)), max(V(S(-1)), a * k * k));
}

/// One lane: the scalar form of a packet, for tails and plain targets.
template <typename S>
struct One {
  static constexpr int size = 1;
  S v;
  One() = default;
  One(S s) : v(s) {}  // NOLINT: implicit broadcast, as for the packets
  static One load(const S* p) { return One(*p); }
  void store(S* p) const { *p = v; }
  // State kept in another type (bf16_state.hpp): q converts.
  template <typename Q, std::enable_if_t<std::is_class<Q>::value, int> = 0>
  DESCENT_ALWAYS_INLINE static One load(const Q& q) {
    return q.template load<One>();
  }
  template <typename Q, std::enable_if_t<std::is_class<Q>::value, int> = 0>
  DESCENT_ALWAYS_INLINE void store(const Q& q) const {
    q.store(*this);
  }
  friend One operator+(One a, One b) { return One(a.v + b.v); }
  friend One operator-(One a, One b) { return One(a.v - b.v); }
  friend One operator*(One a, One b) { return One(opaque(a.v * b.v)); }
  friend One operator/(One a, One b) { return One(a.v / b.v); }
  friend One sqrt(One a) { return One(std::sqrt(a.v)); }
  friend One max(One a, One b) { return One(a.v > b.v ? a.v : b.v); }
  // min: a < b ? a : b, so b if either is NaN, as max. abs: max(a, 0 − a),
  // built from the operations above so that a packet's lanes and One agree
  // bit for bit (a NaN comes out as 0 − NaN makes it).
  friend One min(One a, One b) { return One(a.v < b.v ? a.v : b.v); }
  friend One abs(One a) { return max(a, One(S(0)) - a); }
  friend One sign(One a) { return sign_of<S>(a); }
  // a > 0 ? x : y and a < 0 ? x : y: y where a is ±0 or NaN.
  friend One if_positive(One a, One x, One y) { return a.v > S(0) ? x : y; }
  friend One if_negative(One a, One x, One y) { return a.v < S(0) ? x : y; }
};

/// The widest packet of S; Pack<S>::size is 1 where there is none (and
/// for_each then uses One<S> throughout).
template <typename S>
struct Pack {
  static constexpr int size = 1;
};

// Pack<S> for one register type: T the register, PFX/SFX the intrinsics'
// prefix and suffix (_mm256_add_ps: _mm256, ps).
#define DESCENT_DEFINE_PACK(S, T, PFX, SFX)                                                        \
  template <>                                                                                      \
  struct Pack<S> {                                                                                 \
    static constexpr int size = int(sizeof(T) / sizeof(S));                                        \
    T v;                                                                                           \
    Pack() = default;                                                                              \
    explicit Pack(T x) : v(x) {}                                                                   \
    Pack(S s) : v(PFX##_set1_##SFX(s)) {}                                                          \
    static Pack load(const S* p) { return Pack(PFX##_loadu_##SFX(p)); }                            \
    void store(S* p) const { PFX##_storeu_##SFX(p, v); }                                           \
    template <typename Q, std::enable_if_t<std::is_class<Q>::value, int> = 0>                      \
    DESCENT_ALWAYS_INLINE static Pack load(const Q& q) {                                           \
      return q.template load<Pack>();                                                              \
    }                                                                                              \
    template <typename Q, std::enable_if_t<std::is_class<Q>::value, int> = 0>                      \
    DESCENT_ALWAYS_INLINE void store(const Q& q) const {                                           \
      q.store(*this);                                                                              \
    }                                                                                              \
    friend Pack operator+(Pack a, Pack b) { return Pack(PFX##_add_##SFX(a.v, b.v)); }              \
    friend Pack operator-(Pack a, Pack b) { return Pack(PFX##_sub_##SFX(a.v, b.v)); }              \
    friend Pack operator*(Pack a, Pack b) { return Pack(opaque(PFX##_mul_##SFX(a.v, b.v))); }      \
    friend Pack operator/(Pack a, Pack b) { return Pack(PFX##_div_##SFX(a.v, b.v)); }              \
    friend Pack sqrt(Pack a) { return Pack(PFX##_sqrt_##SFX(a.v)); }                               \
    friend Pack max(Pack a, Pack b) { return Pack(PFX##_max_##SFX(a.v, b.v)); }                    \
    friend Pack min(Pack a, Pack b) { return Pack(PFX##_min_##SFX(a.v, b.v)); }                    \
    friend Pack abs(Pack a) { return max(a, Pack(S(0)) - a); }                                     \
    friend Pack sign(Pack a) { return sign_of<S>(a); }                                             \
    friend Pack if_positive(Pack a, Pack x, Pack y) { return Pack(if_positive_v(a.v, x.v, y.v)); } \
    friend Pack if_negative(Pack a, Pack x, Pack y) { return Pack(if_negative_v(a.v, x.v, y.v)); } \
  }

// Lane by lane a > 0 ? x : y and a < 0 ? x : y for each register type, with
// ordered comparisons (false for NaN), as One's: the lanes of x or y, bit
// for bit.
#if DESCENT_SIMD_BYTES >= 64 && defined(__AVX512F__)
#define DESCENT_DEFINE_SELECT(T, SFX)                                                              \
  inline T if_positive_v(T a, T x, T y) {                                                          \
    return _mm512_mask_blend_##SFX(_mm512_cmp_##SFX##_mask(a, _mm512_setzero_##SFX(), _CMP_GT_OQ), \
                                   y, x);                                                          \
  }                                                                                                \
  inline T if_negative_v(T a, T x, T y) {                                                          \
    return _mm512_mask_blend_##SFX(_mm512_cmp_##SFX##_mask(a, _mm512_setzero_##SFX(), _CMP_LT_OQ), \
                                   y, x);                                                          \
  }
DESCENT_DEFINE_SELECT(__m512, ps)
DESCENT_DEFINE_SELECT(__m512d, pd)
#elif DESCENT_SIMD_BYTES >= 32 && defined(__AVX__)
#define DESCENT_DEFINE_SELECT(T, SFX)                                                          \
  inline T if_positive_v(T a, T x, T y) {                                                      \
    return _mm256_blendv_##SFX(y, x, _mm256_cmp_##SFX(a, _mm256_setzero_##SFX(), _CMP_GT_OQ)); \
  }                                                                                            \
  inline T if_negative_v(T a, T x, T y) {                                                      \
    return _mm256_blendv_##SFX(y, x, _mm256_cmp_##SFX(a, _mm256_setzero_##SFX(), _CMP_LT_OQ)); \
  }
DESCENT_DEFINE_SELECT(__m256, ps)
DESCENT_DEFINE_SELECT(__m256d, pd)
#elif DESCENT_SIMD_BYTES >= 16
#define DESCENT_DEFINE_SELECT(T, SFX)                                 \
  inline T if_positive_v(T a, T x, T y) {                             \
    const T m = _mm_cmpgt_##SFX(a, _mm_setzero_##SFX());              \
    return _mm_or_##SFX(_mm_and_##SFX(m, x), _mm_andnot_##SFX(m, y)); \
  }                                                                   \
  inline T if_negative_v(T a, T x, T y) {                             \
    const T m = _mm_cmplt_##SFX(a, _mm_setzero_##SFX());              \
    return _mm_or_##SFX(_mm_and_##SFX(m, x), _mm_andnot_##SFX(m, y)); \
  }
DESCENT_DEFINE_SELECT(__m128, ps)
DESCENT_DEFINE_SELECT(__m128d, pd)
#endif
#undef DESCENT_DEFINE_SELECT

#if DESCENT_SIMD_BYTES >= 64 && defined(__AVX512F__)
DESCENT_DEFINE_PACK(float, __m512, _mm512, ps);
DESCENT_DEFINE_PACK(double, __m512d, _mm512, pd);
#elif DESCENT_SIMD_BYTES >= 32 && defined(__AVX__)
DESCENT_DEFINE_PACK(float, __m256, _mm256, ps);
DESCENT_DEFINE_PACK(double, __m256d, _mm256, pd);
#elif DESCENT_SIMD_BYTES >= 16
DESCENT_DEFINE_PACK(float, __m128, _mm, ps);
DESCENT_DEFINE_PACK(double, __m128d, _mm, pd);
#endif

#undef DESCENT_DEFINE_PACK

/// Adds the upper half of v[0, 2·Half) to the lower half, then the upper
/// half of what is left to its lower, down to v[0], and returns v[0]: a
/// fixed pairwise tree (Half a power of 2, or 0 for v[0] alone). The trip
/// counts are constants, so that the compiler unrolls the adds into packets
/// of doubles (a loop over the widths kept the values on the stack).
template <int Half>
inline double fold_halves(double* v) {
  if constexpr (Half >= 1) {
    for (int k = 0; k < Half; ++k) v[k] = v[k] + v[k + Half];
    return fold_halves<Half / 2>(v);
  } else {
    return v[0];
  }
}

/// The lanes of a Pack<S> or One<S> as doubles, added in fold_halves' tree.
/// On AVX-512 the tree is made in registers: the compiler's code for the
/// array went through the stack, and LARS's norm pass spent half its time
/// there. (Zero-masked extracts and conversions: GCC 12 warns that the
/// plain forms' undefined upper source may be used uninitialized.)
template <typename S, typename V>
inline double lanes_in_double(V pack) {
#if DESCENT_SIMD_BYTES >= 64 && defined(__AVX512F__)
  if constexpr (V::size > 1) {
    const auto half = [](__m512d v, int k) {
      return k == 0 ? _mm512_maskz_extractf64x4_pd(0xF, v, 0)
                    : _mm512_maskz_extractf64x4_pd(0xF, v, 1);
    };
    __m512d eight;
    if constexpr (std::is_same<S, float>::value) {
      const __m512d both = _mm512_castps_pd(pack.v);
      eight = _mm512_add_pd(_mm512_maskz_cvtps_pd(0xFF, _mm256_castpd_ps(half(both, 0))),
                            _mm512_maskz_cvtps_pd(0xFF, _mm256_castpd_ps(half(both, 1))));
    } else {
      eight = pack.v;
    }
    const __m256d four = _mm256_add_pd(half(eight, 0), half(eight, 1));
    const __m128d two = _mm_add_pd(_mm256_castpd256_pd128(four), _mm256_extractf128_pd(four, 1));
    return _mm_cvtsd_f64(two) + _mm_cvtsd_f64(_mm_unpackhi_pd(two, two));
  }
#endif
  S stored[V::size];
  pack.store(stored);
  double lanes[V::size];
  for (int k = 0; k < V::size; ++k) lanes[k] = double(stored[k]);
  return fold_halves<V::size / 2>(lanes);
}

/// Calls body(V{}, i) for i in [begin, end): V = Pack<S> for every whole
/// packet, then One<S> for the tail; the first argument only carries the
/// type. body reads and writes lanes i … i + V::size − 1. Packets start at
/// begin; an element's result is the same in a packet and in the tail (see
/// the file comment), so any split of a range gives the bits of the whole.
template <typename S, typename Body>
inline void for_each(Eigen::Index begin, Eigen::Index end, const Body& shared_body) {
  // A local copy: the compiler can then keep the captured pointers and
  // coefficients in registers, since no store through those pointers can
  // reach an object whose address never escapes.
  const Body body = shared_body;
  using P = Pack<S>;
  Eigen::Index i = begin;
  if constexpr (P::size > 1) {
    for (; i + P::size <= end; i += P::size) body(P{}, i);
  }
  for (; i < end; ++i) body(One<S>{}, i);
}

}  // namespace descent::detail::simd
