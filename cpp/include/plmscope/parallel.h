#pragma once
/// Thread-parallel loops for the core's kernels.
///
/// `parallel_for(n, nthreads, f)` calls `f(i, thread_id)` for every i in [0, n), spread over
/// `resolve_threads(nthreads)` threads (0 = all cores). Iterations are handed out dynamically,
/// so uneven tasks balance. No exception leaves the parallel region: the first one thrown is
/// kept and rethrown on the calling thread after all threads have joined.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace plmscope {

/// Number of threads a kernel will use for a request of `nthreads` (0 = all cores).
inline int resolve_threads(int nthreads) {
#ifdef _OPENMP
  if (nthreads <= 0) return omp_get_max_threads();
  return nthreads;
#else
  (void)nthreads;
  return 1;
#endif
}

/// Threads worth using for about `work` elementary operations: one below a few hundred
/// thousand, where waking a thread team costs more than the work (and spinning idle
/// threads slow everything down on a loaded machine); else `resolve_threads(nthreads)`.
inline int threads_for_work(double work, int nthreads) {
  constexpr double kMinParallelWork = 262144.0;
  return work < kMinParallelWork ? 1 : resolve_threads(nthreads);
}

/// Threads worth starting for `work` operations at about 2^20 each (at least 1, at most
/// resolve_threads(nthreads)): a parallel region costs microseconds, or a scheduler time
/// slice when the machine is busy, so small calls stay on one thread.
inline int threads_for_share(double work, int nthreads) {
  constexpr double kWorkPerThread = 1 << 20;
  const int most = resolve_threads(nthreads);
  return static_cast<int>(std::max(1.0, std::min<double>(most, work / kWorkPerThread)));
}

/// Splits tasks of the given costs over `threads` shares: largest first, each to the
/// least-loaded share (within 4/3 of the best split). Returns the task indices per share.
inline std::vector<std::vector<std::int64_t>> balance_by_cost(const std::vector<double>& cost,
                                                              int threads) {
  std::vector<std::int64_t> order(cost.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return cost[a] > cost[b]; });
  std::vector<std::vector<std::int64_t>> owned(std::max(threads, 1));
  std::vector<double> load(owned.size(), 0.0);
  for (const std::int64_t i : order) {
    const auto t = std::min_element(load.begin(), load.end()) - load.begin();
    owned[t].push_back(i);
    load[t] += cost[i];
  }
  return owned;
}

/// Runs f(thread_id, team_size) once on each thread of a team of up to `nthreads` threads
/// (an OpenMP parallel region; just f(0, 1) without OpenMP or for one thread), for kernels
/// whose threads meet at team_barrier(). A team may be smaller than asked (thread limits):
/// f must cover all work for any team_size. f must not throw: no exception may leave a
/// region whose other threads wait at a barrier.
template <class F>
void parallel_team(int nthreads, F&& f) {
#ifdef _OPENMP
  if (nthreads > 1) {
#pragma omp parallel num_threads(nthreads)
    f(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  f(0, 1);
}

/// Waits until every thread of the enclosing parallel_team has reached this call.
inline void team_barrier() {
#ifdef _OPENMP
#pragma omp barrier
#endif
}

template <class F>
void parallel_for(std::int64_t n, int nthreads, F&& f) {
  if (n <= 0) return;
  const int nt = static_cast<int>(std::min<std::int64_t>(resolve_threads(nthreads), n));
  if (nt <= 1) {
    for (std::int64_t i = 0; i < n; ++i) f(i, 0);
    return;
  }
  std::exception_ptr first;
  std::mutex guard;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t i = 0; i < n; ++i) {
      try {
        f(i, tid);
      } catch (...) {
        std::lock_guard<std::mutex> lock(guard);
        if (!first) first = std::current_exception();
      }
    }
  }
#else
  for (std::int64_t i = 0; i < n; ++i) f(i, 0);
#endif
  if (first) std::rethrow_exception(first);
}

}  // namespace plmscope
