#include "plmscope/fourier_lasso.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "plmscope/check.h"
#include "plmscope/parallel.h"

namespace plmscope {
namespace {

using cd = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;
// Per-cell sums are threaded only when a pass is long enough to pay for a team.
constexpr std::int64_t kParallelSamples = 1 << 16;

std::int64_t ipow(int q, int s) {
  std::int64_t v = 1;
  for (int i = 0; i < s; ++i) v *= q;
  return v;
}

enum Mode { kFull, kActive, kStrong };  // which blocks a sweep visits

// One block with everything the solver keeps for it.
struct Block {
  int s = 0;                        // cell dimension
  std::int64_t cells = 1;           // q^s
  std::vector<int> sites;           // site set (kind sites)
  std::vector<int> nz_sites;        // frequency kind: nonzero sites of k ...
  std::vector<int> nz_k;            // ... and their entries
  bool is_freq = false;
  std::vector<std::uint8_t> mask;
  std::vector<std::int64_t> mirror; // index of -j for every cell frequency j
  double weight = 1;
  std::vector<double> count;        // sum of weights per cell
  double inv_lipschitz = 0;         // 1 / (max count * cells / W); 0 for an empty block
  std::vector<cd> F;                // coefficients over the cell-frequency grid
  std::vector<double> g;            // the block's function over the cells
  bool nonzero = false;
  double gradient = std::numeric_limits<double>::infinity();  // max |grad| when last at 0
};

class Solver {
 public:
  Solver(const std::uint8_t* x, std::int64_t M, int n, int q, const double* y, const double* w,
         const std::vector<LassoBlock>& spec, const LassoOptions& opt)
      : M_(M), n_(n), q_(q), w_(w), opt_(opt), xt_(static_cast<std::size_t>(M) * n),
        r_(y, y + M), omega_(q) {
    for (std::int64_t m = 0; m < M; ++m)
      for (int i = 0; i < n; ++i) xt_[static_cast<std::size_t>(i) * M + m] = x[m * n + i];
    for (int t = 0; t < q; ++t) omega_[t] = std::polar(1.0, 2 * kPi * t / q);
    twiddle_pos_.resize(static_cast<std::size_t>(q) * q);
    twiddle_neg_.resize(static_cast<std::size_t>(q) * q);
    for (int j = 0; j < q; ++j)
      for (int t = 0; t < q; ++t) {
        const int e = (j * t) % q;
        twiddle_pos_[j * q + t] = omega_[e];
        twiddle_neg_[j * q + t] = omega_[(q - e) % q];
      }
    threads_ = M >= kParallelSamples ? resolve_threads(opt.nthreads) : 1;
    double sw = 0, swy = 0, swyy = 0;
    for (std::int64_t m = 0; m < M; ++m) {
      const double wm = w ? w[m] : 1.0;
      sw += wm;
      swy += wm * y[m];
    }
    const double mean = sw > 0 ? swy / sw : 0;
    for (std::int64_t m = 0; m < M; ++m) {
      const double wm = w ? w[m] : 1.0;
      swyy += wm * (y[m] - mean) * (y[m] - mean);
    }
    total_weight_ = sw;
    const double sd = sw > 0 ? std::sqrt(swyy / sw) : 0;
    tol_ = opt.tol * (sd > 0 ? sd : 1.0);
    blocks_.reserve(spec.size());
    for (const auto& b : spec) blocks_.push_back(make_block(b));
  }

  double lambda_max() {
    double lmax = 0;
    std::vector<double> H;
    std::vector<cd> G;
    for (auto& b : blocks_) {
      if (b.weight <= 0) continue;
      histogram(b, H);
      gradient_at_zero(b, H, G);
      for (std::int64_t j = 0; j < b.cells; ++j)
        if (b.mask[j]) lmax = std::max(lmax, std::abs(G[j]) / b.weight);
    }
    return lmax;
  }

  // Converges at lambda; returns the number of sweeps.
  int solve(double lambda) {
    // The first sweep at a new penalty visits only the blocks the sequential strong rule
    // keeps (a zero block whose gradient was below 2 lambda - lambda_prev stays zero, almost
    // always); a sweep that skipped blocks never certifies convergence, a full one does.
    int sweeps = 0;
    Mode mode = std::isfinite(lambda_prev_) && lambda < lambda_prev_ ? kStrong : kFull;
    while (sweeps < opt_.max_sweeps) {
      ++sweeps;
      const double moved = sweep(lambda, mode);
      if (moved <= tol_) {
        if (skipped_ == 0) break;  // every block was visited: converged
        mode = kFull;
      } else {
        mode = kActive;
      }
    }
    lambda_prev_ = lambda;
    return sweeps;
  }

  // Starts from coefficients `start` (one path point's layout): F is masked and made
  // conjugate-symmetric, and the residual follows.
  void warm_start(const cd* start) {
    std::vector<double> g;
    for (auto& b : blocks_) {
      for (std::int64_t j = 0; j < b.cells; ++j) b.F[j] = b.mask[j] ? start[j] : cd(0, 0);
      start += b.cells;
      symmetrize(b, b.F);
      b.nonzero = std::any_of(b.F.begin(), b.F.end(), [](const cd& v) { return v != cd(0, 0); });
      if (!b.nonzero || b.inv_lipschitz == 0) {
        std::fill(b.F.begin(), b.F.end(), cd(0, 0));
        b.nonzero = false;
        continue;
      }
      synthesize(b, b.F, g);
      subtract(b, g);
      b.g = g;
    }
  }

  std::int64_t active() const {
    std::int64_t k = 0;
    for (const auto& b : blocks_)
      if (b.nonzero)
        for (std::int64_t j = 0; j < b.cells; ++j) k += b.mask[j] && b.F[j] != cd(0, 0);
    return k;
  }

  void write_coefficients(cd* out) const {
    for (const auto& b : blocks_) out = std::copy(b.F.begin(), b.F.end(), out);
  }

  void predict(const std::uint8_t* xv, std::int64_t Mv, double* out) const {
    for (std::int64_t m = 0; m < Mv; ++m) {
      const std::uint8_t* row = xv + m * n_;
      double f = 0;
      for (const auto& b : blocks_)
        if (b.nonzero) f += b.g[row_cell(b, row)];
      out[m] = f;
    }
  }

 private:
  Block make_block(const LassoBlock& spec) {
    Block b;
    b.weight = spec.weight;
    PLMSCOPE_CHECK(std::isfinite(spec.weight) && spec.weight >= 0,
                   "block weights must be finite and >= 0, got " << spec.weight);
    if (!spec.freq.empty()) {
      PLMSCOPE_CHECK(spec.sites.empty(), "a block is either a site set or a frequency, not both");
      PLMSCOPE_CHECK(static_cast<int>(spec.freq.size()) == n_,
                     "a frequency block needs n=" << n_ << " entries, got " << spec.freq.size());
      b.is_freq = true;
      b.s = 1;
      for (int i = 0; i < n_; ++i) {
        PLMSCOPE_CHECK(spec.freq[i] < q_, "frequency entry " << int(spec.freq[i])
                                                             << " is outside [0, q=" << q_ << ")");
        if (spec.freq[i]) {
          b.nz_sites.push_back(i);
          b.nz_k.push_back(spec.freq[i]);
        }
      }
      PLMSCOPE_CHECK(!b.nz_sites.empty(), "a frequency block needs a nonzero frequency");
    } else {
      b.sites = spec.sites;
      b.s = static_cast<int>(spec.sites.size());
      for (std::size_t i = 0; i < spec.sites.size(); ++i) {
        PLMSCOPE_CHECK(spec.sites[i] >= 0 && spec.sites[i] < n_,
                       "block site " << spec.sites[i] << " is outside [0, n=" << n_ << ")");
        PLMSCOPE_CHECK(i == 0 || spec.sites[i] > spec.sites[i - 1],
                       "block sites must be strictly increasing");
      }
    }
    PLMSCOPE_CHECK(b.s <= 24 && ipow(q_, b.s) <= (std::int64_t(1) << 24),
                   "a block has q^s = " << q_ << "^" << b.s << " cells: at most 2^24 allowed");
    b.cells = ipow(q_, b.s);
    PLMSCOPE_CHECK(static_cast<std::int64_t>(spec.mask.size()) == b.cells,
                   "a block's mask needs q^s = " << b.cells << " entries, got " << spec.mask.size());
    b.mask = spec.mask;
    b.mirror.resize(b.cells);
    for (std::int64_t j = 0; j < b.cells; ++j) {
      std::int64_t rest = j, neg = 0, place = 1;
      for (int a = 0; a < b.s; ++a) {
        const std::int64_t digit = rest % q_;
        rest /= q_;
        neg += ((q_ - digit) % q_) * place;
        place *= q_;
      }
      b.mirror[j] = neg;
    }
    for (std::int64_t j = 0; j < b.cells; ++j)
      PLMSCOPE_CHECK(b.mask[j] == b.mask[b.mirror[j]],
                     "a block's mask must hold -j with every j (real functions)");
    b.F.assign(b.cells, cd(0, 0));
    b.g.assign(b.cells, 0.0);
    b.count.assign(b.cells, 0.0);
    accumulate(b, nullptr, b.count);
    b.inv_lipschitz = 0;
    const double curvature = largest_curvature(b);
    if (curvature > 0) b.inv_lipschitz = 1 / curvature;
    return b;
  }

  // Largest eigenvalue of the block's Hessian F -> mask . DFT(count . g(F)) / W, by power
  // iteration (counts are fixed, so once per block). The bound max(count) q^s / W is tight
  // only for balanced cells; with the exact value a one-coefficient block is solved in one
  // step and FISTA needs few steps elsewhere.
  double largest_curvature(const Block& b) const {
    const double most = *std::max_element(b.count.begin(), b.count.end());
    if (!(most > 0)) return 0;
    std::vector<cd> v(b.cells), hv(b.cells);
    std::vector<double> g;
    // a start with real and imaginary parts reaches every eigenvector of a complex block
    for (std::int64_t j = 0; j < b.cells; ++j)
      v[j] = b.mask[j] ? cd(1 + 0.01 * (j % 7), 0.5 + 0.013 * (j % 5)) : cd(0, 0);
    symmetrize(b, v);
    double estimate = 0;
    for (int it = 0; it < 30; ++it) {
      double norm = 0;
      for (const auto& c : v) norm += std::norm(c);
      norm = std::sqrt(norm);
      if (!(norm > 0)) return most * double(b.cells) / total_weight_;
      for (auto& c : v) c /= norm;
      synthesize(b, v, g);
      for (std::int64_t a = 0; a < b.cells; ++a) hv[a] = cd(b.count[a] * g[a] / total_weight_, 0);
      dft(b, hv, -1);
      for (std::int64_t j = 0; j < b.cells; ++j) if (!b.mask[j]) hv[j] = cd(0, 0);
      double next = 0;
      for (const auto& c : hv) next += std::norm(c);
      next = std::sqrt(next);
      const bool done = std::abs(next - estimate) <= 1e-3 * next;
      estimate = next;
      v.swap(hv);
      if (done) break;
    }
    // power iteration approaches from below: a small margin keeps the step safe
    return std::min(1.1 * estimate, most * double(b.cells) / total_weight_);
  }

  // Cell of sample m (column-major data).
  inline std::int64_t cell(const Block& b, std::int64_t m) const {
    if (b.is_freq) {
      int acc = 0;
      for (std::size_t i = 0; i < b.nz_sites.size(); ++i)
        acc += b.nz_k[i] * xt_[static_cast<std::size_t>(b.nz_sites[i]) * M_ + m];
      return acc % q_;
    }
    std::int64_t c = 0;
    for (int site : b.sites) c = c * q_ + xt_[static_cast<std::size_t>(site) * M_ + m];
    return c;
  }

  inline std::int64_t row_cell(const Block& b, const std::uint8_t* row) const {
    if (b.is_freq) {
      int acc = 0;
      for (std::size_t i = 0; i < b.nz_sites.size(); ++i) acc += b.nz_k[i] * row[b.nz_sites[i]];
      return acc % q_;
    }
    std::int64_t c = 0;
    for (int site : b.sites) c = c * q_ + row[site];
    return c;
  }

  // Cells of samples [lo, hi) into out: the passes are bound by this arithmetic where the
  // data sit in cache, so the common site-set sizes get loops of their own.
  void cells_into(const Block& b, std::int64_t lo, std::int64_t hi, std::uint32_t* out) const {
    const std::int64_t len = hi - lo;
    const auto col = [&](int site) { return xt_.data() + static_cast<std::size_t>(site) * M_ + lo; };
    const std::uint32_t q = static_cast<std::uint32_t>(q_);
    if (!b.is_freq && b.s == 0) {
      std::fill(out, out + len, 0u);
    } else if (!b.is_freq && b.s == 1) {
      const std::uint8_t* a = col(b.sites[0]);
      for (std::int64_t m = 0; m < len; ++m) out[m] = a[m];
    } else if (!b.is_freq && b.s == 2) {
      const std::uint8_t *a = col(b.sites[0]), *c = col(b.sites[1]);
      for (std::int64_t m = 0; m < len; ++m) out[m] = a[m] * q + c[m];
    } else if (!b.is_freq && b.s == 3) {
      const std::uint8_t *a = col(b.sites[0]), *c = col(b.sites[1]), *e = col(b.sites[2]);
      for (std::int64_t m = 0; m < len; ++m) out[m] = (a[m] * q + c[m]) * q + e[m];
    } else {
      for (std::int64_t m = 0; m < len; ++m) out[m] = static_cast<std::uint32_t>(cell(b, lo + m));
    }
  }

  // Runs f(lo, hi, cells of b) over [lo, hi) in chunks that stay in L1.
  template <class F>
  void chunked(const Block& b, std::int64_t lo, std::int64_t hi, F&& f) const {
    constexpr std::int64_t kChunk = 2048;
    std::uint32_t buf[kChunk];
    for (std::int64_t a = lo; a < hi; a += kChunk) {
      const std::int64_t e = std::min(hi, a + kChunk);
      cells_into(b, a, e, buf);
      f(a, e, buf);
    }
  }

  // out[c] = sum over samples in cell c of w_m * v_m (v = nullptr: of w_m).
  void accumulate(const Block& b, const double* v, std::vector<double>& out) const {
    out.assign(b.cells, 0.0);
    auto run = [&](std::int64_t lo, std::int64_t hi, double* h) {
      chunked(b, lo, hi, [&](std::int64_t a, std::int64_t e, const std::uint32_t* c) {
        const std::int64_t len = e - a;
        if (!w_ && v) {
          for (std::int64_t m = 0; m < len; ++m) h[c[m]] += v[a + m];
        } else {
          for (std::int64_t m = 0; m < len; ++m) {
            const double wm = w_ ? w_[a + m] : 1.0;
            h[c[m]] += v ? wm * v[a + m] : wm;
          }
        }
      });
    };
    over_samples(b.cells, out, run);
  }

  // out (cells, zeroed by the caller) += the sums run(lo, hi, h) adds into h over samples
  // [lo, hi): the samples split over the threads, each into its own sums, added at the end.
  template <class Run>
  void over_samples(std::int64_t cells, std::vector<double>& out, Run&& run) const {
    if (threads_ <= 1) {
      run(0, M_, out.data());
      return;
    }
    std::vector<std::vector<double>> part(threads_, std::vector<double>(cells, 0.0));
    parallel_team(threads_, [&](int t, int team) {
      run(M_ * t / team, M_ * (t + 1) / team, part[t].data());
    });
    for (const auto& p : part)
      for (std::int64_t c = 0; c < cells; ++c) out[c] += p[c];
  }

  void histogram(const Block& b, std::vector<double>& H) const { accumulate(b, r_.data(), H); }

  // r_m -= d[cell(m)]
  void subtract(const Block& b, const std::vector<double>& d) {
    auto run = [&](std::int64_t lo, std::int64_t hi) {
      double* r = r_.data();
      chunked(b, lo, hi, [&](std::int64_t a, std::int64_t e, const std::uint32_t* c) {
        for (std::int64_t m = 0; m < e - a; ++m) r[a + m] -= d[c[m]];
      });
    };
    if (threads_ <= 1) {
      run(0, M_);
      return;
    }
    parallel_team(threads_, [&](int t, int team) { run(M_ * t / team, M_ * (t + 1) / team); });
  }

  // Separable DFT over Z_q^s: out[j] = sum_a in[a] omega^(sign <j,a>).
  void dft(const Block& b, std::vector<cd>& data, int sign) const {
    std::vector<cd> line(q_), in(q_);
    const cd* table = sign > 0 ? twiddle_pos_.data() : twiddle_neg_.data();
    std::int64_t stride = 1;
    for (int axis = 0; axis < b.s; ++axis) {
      const std::int64_t block = stride * q_;
      for (std::int64_t base = 0; base < b.cells; base += block)
        for (std::int64_t off = 0; off < stride; ++off) {
          cd* p = data.data() + base + off;
          for (int t = 0; t < q_; ++t) in[t] = p[t * stride];
          for (int j = 0; j < q_; ++j) {
            const cd* tw = table + static_cast<std::size_t>(j) * q_;
            double re = 0, im = 0;
            for (int t = 0; t < q_; ++t) {
              re += in[t].real() * tw[t].real() - in[t].imag() * tw[t].imag();
              im += in[t].real() * tw[t].imag() + in[t].imag() * tw[t].real();
            }
            line[j] = cd(re, im);
          }
          for (int j = 0; j < q_; ++j) p[j * stride] = line[j];
        }
      stride = block;
    }
  }

  // Gradient of the smooth loss with respect to F at F = 0 for residual sums H.
  void gradient_at_zero(const Block& b, const std::vector<double>& H, std::vector<cd>& G) const {
    G.assign(b.cells, cd(0, 0));
    for (std::int64_t a = 0; a < b.cells; ++a) G[a] = cd(-H[a] / total_weight_, 0);
    dft(b, G, -1);
  }

  // Real function on the cells of coefficients F.
  void synthesize(const Block& b, const std::vector<cd>& F, std::vector<double>& g) const {
    std::vector<cd> t(F);
    dft(b, t, +1);
    g.resize(b.cells);
    for (std::int64_t a = 0; a < b.cells; ++a) g[a] = t[a].real();
  }

  // Makes F exactly conjugate-symmetric (rounding in the DFTs breaks it by ulps).
  static void symmetrize(const Block& b, std::vector<cd>& F) {
    for (std::int64_t j = 0; j < b.cells; ++j) {
      const std::int64_t k = b.mirror[j];
      if (k == j) F[j] = cd(F[j].real(), 0);
      else if (j < k) F[k] = std::conj(F[j]);
    }
  }

  // The block's subproblem objective at F (g: its function over the cells, written).
  double objective(const Block& b, const std::vector<cd>& F, const std::vector<double>& Rp,
                   double tau, std::vector<double>& g) const {
    synthesize(b, F, g);
    double quad = 0, lin = 0, pen = 0;
    for (std::int64_t a = 0; a < b.cells; ++a) {
      quad += b.count[a] * g[a] * g[a];
      lin += Rp[a] * g[a];
    }
    for (std::int64_t j = 0; j < b.cells; ++j)
      if (b.mask[j]) pen += std::abs(F[j]);
    return (0.5 * quad - lin) / total_weight_ + tau * pen;
  }

  // Minimises the block's subproblem with partial residual sums Rp; returns max |dF|.
  // The step comes from a power-iteration estimate of the block's curvature, which can fall
  // short when its top eigenvalues are close: a solve that ends above where it started
  // (FISTA diverging) is undone and redone with half the step, which the block keeps.
  double solve_block(Block& b, const std::vector<double>& Rp, double tau) {
    std::vector<double> g;
    const double before = objective(b, b.F, Rp, tau, g);
    for (int attempt = 0; attempt < 30; ++attempt) {
      std::vector<cd> F = fista(b, Rp, tau, b.inv_lipschitz);
      const double after = objective(b, F, Rp, tau, g);
      if (after <= before + 1e-10 * (std::abs(before) + 1e-300)) {
        double moved = 0;
        for (std::int64_t j = 0; j < b.cells; ++j) moved = std::max(moved, std::abs(F[j] - b.F[j]));
        b.F.swap(F);
        return moved;
      }
      b.inv_lipschitz *= 0.5;
    }
    return 0;  // no step lowers the objective: the block stays where it is
  }

  std::vector<cd> fista(const Block& b, const std::vector<double>& Rp, double tau,
                        double step) const {
    std::vector<cd> F = b.F, Y = b.F, G(b.cells);
    std::vector<double> gy;
    double t = 1;
    for (int it = 0; it < opt_.max_inner; ++it) {
      synthesize(b, Y, gy);
      for (std::int64_t a = 0; a < b.cells; ++a)
        G[a] = cd((b.count[a] * gy[a] - Rp[a]) / total_weight_, 0);
      dft(b, G, -1);
      double change = 0;
      std::vector<cd> Fn(b.cells, cd(0, 0));
      for (std::int64_t j = 0; j < b.cells; ++j) {
        if (!b.mask[j]) continue;
        const cd z = Y[j] - step * G[j];
        const double mag = std::abs(z), cut = step * tau;
        Fn[j] = mag > cut ? z * (1 - cut / mag) : cd(0, 0);
      }
      symmetrize(b, Fn);
      for (std::int64_t j = 0; j < b.cells; ++j) change = std::max(change, std::abs(Fn[j] - F[j]));
      const double tn = 0.5 * (1 + std::sqrt(1 + 4 * t * t));
      for (std::int64_t j = 0; j < b.cells; ++j) Y[j] = Fn[j] + ((t - 1) / tn) * (Fn[j] - F[j]);
      F.swap(Fn);
      t = tn;
      if (change <= tol_) break;
    }
    return F;
  }

  // One pass over the blocks (only the nonzero ones when active_only); returns max |dF|.
  // A block's residual update is applied in the same pass over the samples as the next
  // block's histogram: the sweep is bound by memory traffic, and this halves it.
  double sweep(double lambda, Mode mode) {
    double moved = 0;
    std::vector<double> H, Rp, gnew;
    std::vector<cd> G;
    const Block* pending = nullptr;  // block whose update d_ is not yet in the residual
    const double strong = 2 * lambda - lambda_prev_;
    skipped_ = 0;
    for (auto& b : blocks_) {
      if (b.inv_lipschitz == 0) continue;  // no sample reaches the block
      if (!b.nonzero && ((mode == kActive) ||
                         (mode == kStrong && b.weight > 0 && b.gradient < strong * b.weight))) {
        ++skipped_;
        continue;
      }
      const double tau = b.weight > 0 ? lambda * b.weight : 0.0;
      histogram_after(pending, b, H);
      pending = nullptr;
      if (!b.nonzero && b.weight > 0) {
        gradient_at_zero(b, H, G);
        b.gradient = 0;
        for (std::int64_t j = 0; j < b.cells; ++j)
          if (b.mask[j]) b.gradient = std::max(b.gradient, std::abs(G[j]));
        if (b.gradient <= tau) continue;
      }
      Rp.resize(b.cells);
      for (std::int64_t a = 0; a < b.cells; ++a) Rp[a] = H[a] + b.count[a] * b.g[a];
      const double step_moved = solve_block(b, Rp, tau);
      if (step_moved == 0) continue;
      moved = std::max(moved, step_moved);
      synthesize(b, b.F, gnew);
      d_.resize(b.cells);
      for (std::int64_t a = 0; a < b.cells; ++a) d_[a] = gnew[a] - b.g[a];
      pending = &b;
      b.g.swap(gnew);
      b.nonzero = std::any_of(b.F.begin(), b.F.end(), [](const cd& v) { return v != cd(0, 0); });
    }
    if (pending) subtract(*pending, d_);
    return moved;
  }

  // H = per-cell residual sums of b, after r_m -= d_[cell(prev, m)] when prev is given.
  void histogram_after(const Block* prev, const Block& b, std::vector<double>& H) {
    if (!prev) {
      histogram(b, H);
      return;
    }
    H.assign(b.cells, 0.0);
    auto run = [&](std::int64_t lo, std::int64_t hi, double* h) {
      double* r = r_.data();
      const double* d = d_.data();
      std::uint32_t before[2048];
      chunked(b, lo, hi, [&](std::int64_t a, std::int64_t e, const std::uint32_t* c) {
        const std::int64_t len = e - a;
        cells_into(*prev, a, e, before);
        for (std::int64_t m = 0; m < len; ++m) r[a + m] -= d[before[m]];
        if (w_)
          for (std::int64_t m = 0; m < len; ++m) h[c[m]] += w_[a + m] * r[a + m];
        else
          for (std::int64_t m = 0; m < len; ++m) h[c[m]] += r[a + m];
      });
    };
    over_samples(b.cells, H, run);
  }

  std::int64_t M_;
  int n_, q_;
  const double* w_;
  LassoOptions opt_;
  std::vector<std::uint8_t> xt_;
  std::vector<double> r_;
  std::vector<cd> omega_, twiddle_pos_, twiddle_neg_;  // omega^(+-jt) for j, t in [0, q)
  std::vector<Block> blocks_;
  std::vector<double> d_;  // the pending residual update of a sweep
  std::int64_t skipped_ = 0;  // blocks the last sweep left out
  double lambda_prev_ = std::numeric_limits<double>::quiet_NaN();  // last penalty solved
  double total_weight_ = 0, tol_ = 0;
  int threads_ = 1;
};

}  // namespace

std::int64_t lasso_cells(const std::vector<LassoBlock>& blocks, int q) {
  std::int64_t total = 0;
  for (const auto& b : blocks) total += ipow(q, b.freq.empty() ? int(b.sites.size()) : 1);
  return total;
}

LassoPathResult fourier_lasso_path(const std::uint8_t* x, std::int64_t M, int n, int q,
                                   const double* y, const double* w,
                                   const std::vector<LassoBlock>& blocks,
                                   const double* lambdas, int L, const std::uint8_t* xv,
                                   std::int64_t Mv, const double* yv, const double* wv,
                                   std::complex<double>* coef, double* pred,
                                   const LassoOptions& options,
                                   const std::complex<double>* start) {
  PLMSCOPE_CHECK(q >= 2 && q <= 256, "q must be in [2, 256], got q=" << q);
  PLMSCOPE_CHECK(n >= 1, "n must be >= 1, got n=" << n);
  PLMSCOPE_CHECK(M >= 1, "need at least one sample, got M=" << M);
  PLMSCOPE_CHECK(L >= 0 && Mv >= 0, "L and Mv must be >= 0");
  for (std::int64_t i = 0; i < M * n; ++i)
    PLMSCOPE_CHECK(x[i] < q, "x holds " << int(x[i]) << ", outside [0, q=" << q << ")");
  for (std::int64_t i = 0; i < Mv * n; ++i)
    PLMSCOPE_CHECK(xv[i] < q, "xv holds " << int(xv[i]) << ", outside [0, q=" << q << ")");
  for (std::int64_t m = 0; m < M; ++m) {
    PLMSCOPE_CHECK(std::isfinite(y[m]), "y[" << m << "] is not finite");
    PLMSCOPE_CHECK(!w || (std::isfinite(w[m]) && w[m] >= 0), "w[" << m << "] must be >= 0");
  }
  for (int l = 0; l < L; ++l)
    PLMSCOPE_CHECK(lambdas[l] >= 0 && (l == 0 || lambdas[l] <= lambdas[l - 1]),
                   "lambdas must be >= 0 and decreasing");
  Solver solver(x, M, n, q, y, w, blocks, options);
  LassoPathResult result;
  if (start) {
    // near the answer already: lambda_max would need the unpenalised fit first
    solver.warm_start(start);
    result.lambda_max = std::numeric_limits<double>::quiet_NaN();
  } else {
    solver.solve(std::numeric_limits<double>::infinity());  // unpenalised blocks only
    result.lambda_max = solver.lambda_max();
  }
  const std::int64_t cells = lasso_cells(blocks, q);
  double best = std::numeric_limits<double>::infinity();
  int worse = 0;
  for (int l = 0; l < L; ++l) {
    result.sweeps.push_back(solver.solve(lambdas[l]));
    result.active.push_back(solver.active());
    solver.write_coefficients(coef + static_cast<std::int64_t>(l) * cells);
    double* p = pred + static_cast<std::int64_t>(l) * Mv;
    if (Mv) solver.predict(xv, Mv, p);
    result.lambdas_done = l + 1;
    if (options.max_active >= 0 && result.active.back() > options.max_active) break;
    if (yv && Mv) {
      double sse = 0;
      for (std::int64_t m = 0; m < Mv; ++m) sse += (wv ? wv[m] : 1.0) * (yv[m] - p[m]) * (yv[m] - p[m]);
      if (sse < best) best = sse;
      worse = sse > (1 + options.rise) * best ? worse + 1 : 0;
      if (worse >= options.patience) break;
    }
  }
  return result;
}

}  // namespace plmscope
