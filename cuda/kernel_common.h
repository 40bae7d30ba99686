#pragma once
/// Pieces shared by the CUDA kernels and by their host emulation
/// (tests/cpp/test_cuda_emulation.cpp): plain C++17 under g++, `__host__ __device__` under
/// nvcc. Each kernel is written as a sequence of phases, functions of (block's work item,
/// thread id, thread count, shared memory) separated by barriers, so that the host can run
/// the same phases thread by thread and check the index arithmetic without a GPU.
#include <cstdint>
#include <type_traits>
#include <utility>

#if defined(__CUDACC__)
#define PLMSCOPE_HD __host__ __device__ __forceinline__
#define PLMSCOPE_HDC __host__ __device__ constexpr
#else
#define PLMSCOPE_HD inline
#define PLMSCOPE_HDC constexpr
#endif

namespace plmscope::cuda {

/// A complex number laid out like std::complex<T> (and torch/CuPy/numpy complex).
template <class T>
struct alignas(2 * sizeof(T)) Cplx {
  T re, im;
};

template <class T>
PLMSCOPE_HD Cplx<T> operator+(Cplx<T> a, Cplx<T> b) { return {a.re + b.re, a.im + b.im}; }
template <class T>
PLMSCOPE_HD Cplx<T> operator-(Cplx<T> a, Cplx<T> b) { return {a.re - b.re, a.im - b.im}; }
template <class T>
PLMSCOPE_HD Cplx<T> operator*(T s, Cplx<T> a) { return {s * a.re, s * a.im}; }
template <class T>
PLMSCOPE_HD Cplx<T> cmul(Cplx<T> a, Cplx<T> w) {
  return {a.re * w.re - a.im * w.im, a.re * w.im + a.im * w.re};
}
/// a * (sg i), sg = +-1.
template <class T>
PLMSCOPE_HD Cplx<T> times_i(Cplx<T> a, T sg) { return {-sg * a.im, sg * a.re}; }

template <class E>
struct RealOf { using type = E; };
template <class T>
struct RealOf<Cplx<T>> { using type = T; };

template <class E>
struct IsComplex : std::false_type {};
template <class T>
struct IsComplex<Cplx<T>> : std::true_type {};

#if defined(__CUDACC__)
#define PLMSCOPE_UNROLL _Pragma("unroll")
#else
#define PLMSCOPE_UNROLL
#endif

/// Calls f(std::integral_constant<int, Q>{}) for the compile-time Q equal to q, one of
/// `Qs...`; returns false when q is none of them. This is the switch over sizes that picks
/// a kernel instantiation, shared by the launchers and the emulation.
template <int... Qs, class F>
bool dispatch_int(int q, F&& f) {
  return ((q == Qs ? (f(std::integral_constant<int, Qs>{}), true) : false) || ...);
}

/// ceil(a / b) for a >= 0, b > 0.
PLMSCOPE_HDC std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace plmscope::cuda
