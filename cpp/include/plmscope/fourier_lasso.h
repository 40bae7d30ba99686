#pragma once
/// Sparse regression of scored variants on the q-ary Fourier basis (a complex Lasso).
///
/// The model is f(x) = sum_b g_b(c_b(x)): a sum of blocks, each a real function of a small
/// "cell" c_b(x) of the variant. A block is either
///   - a site set S (s sites): c(x) = x restricted to S, a cell of Z_q^s; its coefficients
///     are the Fourier coefficients F[k] of the frequencies k supported on S (cell frequency
///     j in Z_q^s is k with k[S_i] = j_i), or
///   - one frequency k in Z_q^n: c(x) = <k, x> mod q, a cell of Z_q (s = 1); cell frequency j
///     is j k mod q (a mask of {1, q-1} holds k and -k).
/// g_b(a) = Re sum_{j in mask_b} F_b[j] omega^<j,a>. The masks say which cell frequencies are
/// free; the rest stay 0. The loss is
///   (1 / 2W) sum_m w_m (y_m - f(x_m))^2 + lambda sum_b weight_b sum_{j in mask_b} |F_b[j]|,
/// W = sum_m w_m: a Lasso on complex coefficients (the modulus is penalised, so the phase of a
/// coefficient costs nothing) that keeps f real because masks are closed under j -> -j.
///
/// Why blocks: a block sees the data only through per-cell sums (counts and residuals), so
/// one pass over the M samples updates all (q-1)^s coefficients of a block, and no M x K
/// design matrix is ever formed (10^7 answers x 16,436 order <= 2 terms fit in O(M + K)).
/// Solver: block coordinate descent over the residual with an active set and exact
/// zero-block checks (a block at 0 is optimal iff every |gradient| <= lambda weight); each
/// block's subproblem (q^s cells) is solved by FISTA with O(q^s s q) DFTs.
/// Thread-safe for distinct outputs.
#include <complex>
#include <cstdint>
#include <vector>

namespace plmscope {

struct LassoBlock {
  std::vector<int> sites;           // site-set block: its sites (empty for the intercept)
  std::vector<std::uint8_t> freq;   // frequency block: k (n entries); empty for a site set
  std::vector<std::uint8_t> mask;   // q^s flags: 1 where the cell frequency is free
  double weight = 1.0;              // penalty factor (0: unpenalised)
};

struct LassoOptions {
  double tol = 1e-6;        // converged when no coefficient moves by more than tol * sd(y)
  int max_sweeps = 500;     // sweeps per lambda (over the active set and the full set)
  int max_inner = 50;       // FISTA iterations per block subproblem
  std::int64_t max_active = -1;  // stop the path once more coefficients are nonzero (-1: never)
  int nthreads = 1;         // threads over samples within one fit (0 = all cores)
  // With validation targets: stop the path once the validation error has stayed above
  // (1 + rise) times its minimum for `patience` points (the penalty is past its best).
  int patience = 4;
  double rise = 0.01;
};

struct LassoPathResult {
  double lambda_max = 0;            // smallest lambda at which every penalised block is 0
  int lambdas_done = 0;             // path points computed (fewer when max_active stopped it)
  std::vector<int> sweeps;          // block sweeps per path point
  std::vector<std::int64_t> active; // nonzero coefficients per path point
};

/// Total cells (sum of q^s over blocks): the length of one path point's coefficients.
std::int64_t lasso_cells(const std::vector<LassoBlock>& blocks, int q);

/// Fits the lasso path for `lambdas` (decreasing, warm started) on M samples x (row-major
/// M x n bytes) with targets y and weights w (nullptr: all 1). For each computed path point l:
/// coef[l * cells ...] holds every block's F over its cell-frequency grid (concatenated in
/// block order; zeros off the mask), and pred[l * Mv ...] the fitted f at the Mv rows of xv.
/// lambda_max is computed from the data (after fitting the unpenalised blocks) before the
/// path; an empty lambda list computes only it. yv/wv (may be nullptr): validation targets
/// and weights for early stopping (see LassoOptions::patience). start (may be nullptr): one
/// path point's coefficients to start from (e.g. a neighbouring fit at the same lambda); the
/// path then starts there and lambda_max is NaN.
LassoPathResult fourier_lasso_path(const std::uint8_t* x, std::int64_t M, int n, int q,
                                   const double* y, const double* w,
                                   const std::vector<LassoBlock>& blocks,
                                   const double* lambdas, int L, const std::uint8_t* xv,
                                   std::int64_t Mv, const double* yv, const double* wv,
                                   std::complex<double>* coef, double* pred,
                                   const LassoOptions& options,
                                   const std::complex<double>* start = nullptr);

}  // namespace plmscope
