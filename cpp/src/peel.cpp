#include "plmscope/peel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "plmscope/check.h"
#include "plmscope/parallel.h"
#include "plmscope/qary_fft.h"

namespace plmscope {

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Candidate {
  enum Kind : std::uint8_t { Zeroton, Multiton, Singleton } kind = Zeroton;
  double residual = 0;
  std::complex<double> value;
  std::vector<std::uint8_t> k;
};

class Decoder {
 public:
  Decoder(std::complex<double>* bins, const std::uint8_t* matrices, const std::uint8_t* delays,
          const PeelParams& p)
      : U_(bins), M_(matrices), D_(delays), p_(p) {
    B_ = qary_length(p.q, p.b);
    P_ = static_cast<int>(p.num_repeats) * (p.n + 1);
    // Keep the list short enough that a wrong candidate rarely hashes into the bin: at
    // most 2^list_bits_ <= q^b / 16 candidates, and never more than 256.
    list_bits_ = 0;
    while (list_bits_ < 8 && (std::int64_t(2) << list_bits_) * 16 <= B_) ++list_bits_;
    roots_.resize(p.q);
    for (int v = 0; v < p.q; ++v) roots_[v] = std::polar(1.0, 2.0 * kPi * v / p.q);
  }

  PeelResult run() {
    PeelResult result;
    std::vector<std::int64_t> active;  // flat bin ids c * B + j
    for (std::int64_t id = 0; id < p_.num_groups * B_; ++id)
      if (energy(id) > p_.zeroton_energy) active.push_back(id);

    std::map<std::vector<std::uint8_t>, std::complex<double>> found;
    std::vector<std::vector<std::uint8_t>> order;  // first-found order, for a stable output
    for (int round = 0; round < p_.max_rounds && !active.empty(); ++round) {
      std::vector<Candidate> cand(active.size());
      const double work = double(active.size()) * p_.n * (p_.num_repeats + (1 << list_bits_));
      parallel_for(static_cast<std::int64_t>(active.size()), threads_for_work(work, p_.nthreads),
                   [&](std::int64_t i, int) { cand[i] = classify(active[i]); });

      // A frequency found in several groups' bins this round is peeled once, with the mean
      // of its estimates (independent noise per group); `active` is sorted, so the order
      // of acceptance is (group, bin) order whatever the thread count.
      std::map<std::vector<std::uint8_t>, std::pair<std::size_t, int>> first_and_count;
      std::vector<std::size_t> accepted;
      for (std::size_t i = 0; i < cand.size(); ++i) {
        if (cand[i].kind != Candidate::Singleton) continue;
        auto [it, inserted] = first_and_count.emplace(cand[i].k, std::make_pair(i, 1));
        if (inserted) {
          accepted.push_back(i);
        } else {
          cand[it->second.first].value += cand[i].value;
          ++it->second.second;
        }
      }
      for (std::size_t i : accepted) cand[i].value /= double(first_and_count[cand[i].k].second);
      result.singletons_per_round.push_back(static_cast<std::int64_t>(accepted.size()));
      if (accepted.empty()) break;

      std::vector<std::int64_t> changed;
      for (std::size_t i : accepted) {
        const Candidate& c = cand[i];
        auto [it, inserted] = found.emplace(c.k, c.value);
        if (inserted) order.push_back(c.k);
        else it->second += c.value;
        subtract(c.k, c.value, changed);
      }
      std::sort(changed.begin(), changed.end());
      changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
      active.clear();
      for (std::int64_t id : changed)
        if (energy(id) > p_.zeroton_energy) active.push_back(id);
    }

    for (const auto& k : order) {
      result.frequencies.insert(result.frequencies.end(), k.begin(), k.end());
      result.values.push_back(found[k]);
    }
    for (std::int64_t id = 0; id < p_.num_groups * B_; ++id) {
      const double e = energy(id);
      result.residual_energy += e;
      if (e > p_.zeroton_energy) ++result.bins_left;
    }
    return result;
  }

 private:
  const std::complex<double>* bin(std::int64_t id) const { return U_ + id * P_; }
  std::complex<double>* bin(std::int64_t id) { return U_ + id * P_; }

  double energy(std::int64_t id) const {
    const auto* u = bin(id);
    double e = 0;
    for (int d = 0; d < P_; ++d) e += std::norm(u[d]);
    return e;
  }

  // <k, d_p> mod q for every delay p.
  void delay_phases(const std::vector<std::uint8_t>& k, std::vector<int>& phase) const {
    phase.assign(P_, 0);
    for (int d = 0; d < P_; ++d) {
      int s = 0;
      for (int i = 0; i < p_.n; ++i) s += int(k[i]) * D_[d * p_.n + i];
      phase[d] = s % p_.q;
    }
  }

  // j = M_c^T k mod q, flattened most-significant first.
  std::int64_t hash(int c, const std::vector<std::uint8_t>& k) const {
    const std::uint8_t* M = M_ + static_cast<std::int64_t>(c) * p_.n * p_.b;
    std::int64_t j = 0;
    for (int t = 0; t < p_.b; ++t) {
      int s = 0;
      for (int i = 0; i < p_.n; ++i) s += int(k[i]) * M[i * p_.b + t];
      j = j * p_.q + s % p_.q;
    }
    return j;
  }

  // Soft NSO decision with a short list: each site's digit is the phase of z_i rounded to
  // a multiple of 2 pi / q; when that phase lies near a decision boundary the runner-up
  // digit is kept too. The candidates (all combinations over the least certain sites,
  // at most 2^list_bits_) must hash back to this bin (M_c^T k == j), which rejects a wrong
  // combination with probability 1 - q^-b; the one with the smallest residual is kept.
  Candidate classify(std::int64_t id) const {
    Candidate out;
    const auto* u = bin(id);
    const int n = p_.n, q = p_.q, b = p_.b, c = static_cast<int>(id / B_);
    std::vector<std::uint8_t> primary(n), runner_up(n);
    std::vector<double> margin(n);
    for (int i = 0; i < n; ++i) {
      std::complex<double> z = 0;
      for (int r = 0; r < p_.num_repeats; ++r) {
        const int base = r * (n + 1);
        z += std::conj(u[base]) * u[base + 1 + i];
      }
      if (z == std::complex<double>(0) || !std::isfinite(z.real()) || !std::isfinite(z.imag())) {
        // no usable phase (zero, or overflowed / NaN bins, whose rounding to a digit
        // below would be undefined behaviour): cannot be read as one coefficient
        out.kind = Candidate::Multiton;
        return out;
      }
      const double pos = std::arg(z) / (2.0 * kPi) * q;  // in (-q/2, q/2]
      const double nearest = std::round(pos);
      const long v = static_cast<long>(nearest), w = v + (pos >= nearest ? 1 : -1);
      primary[i] = static_cast<std::uint8_t>(((v % q) + q) % q);
      runner_up[i] = static_cast<std::uint8_t>(((w % q) + q) % q);
      margin[i] = 0.5 - std::abs(pos - nearest);  // distance to the boundary, in 1/q turns
    }
    // The target bin's digits, and the hash of the primary candidate.
    std::vector<int> target(b), h(b);
    std::int64_t rest = id % B_;
    for (int t = b - 1; t >= 0; --t) {
      target[t] = static_cast<int>(rest % q);
      rest /= q;
    }
    const std::uint8_t* M = M_ + static_cast<std::int64_t>(c) * n * b;
    for (int t = 0; t < b; ++t) {
      int sum = 0;
      for (int i = 0; i < n; ++i) sum += int(primary[i]) * M[i * b + t];
      h[t] = sum % q;
    }
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](int x, int y) { return margin[x] < margin[y]; });
    const int L = std::min(n, list_bits_);
    // Hash change of switching site order[s] to its runner-up digit.
    std::vector<int> delta(L * b);
    for (int s2 = 0; s2 < L; ++s2) {
      const int i = order[s2];
      const int step = ((int(runner_up[i]) - int(primary[i])) % q + q) % q;
      for (int t = 0; t < b; ++t) delta[s2 * b + t] = (step * M[i * b + t]) % q;
    }
    std::vector<int> phase;
    std::vector<std::uint8_t> k(n);
    bool any = false;
    for (std::uint32_t mask = 0; mask < (1u << L); ++mask) {
      bool match = true;
      for (int t = 0; t < b && match; ++t) {
        int sum = h[t];
        for (int s2 = 0; s2 < L; ++s2)
          if (mask >> s2 & 1u) sum += delta[s2 * b + t];
        match = sum % q == target[t];
      }
      if (!match) continue;
      k = primary;
      for (int s2 = 0; s2 < L; ++s2)
        if (mask >> s2 & 1u) k[order[s2]] = runner_up[order[s2]];
      delay_phases(k, phase);
      std::complex<double> value = 0;
      for (int d = 0; d < P_; ++d) value += u[d] * std::conj(roots_[phase[d]]);
      value /= double(P_);
      double residual = 0;
      for (int d = 0; d < P_; ++d) residual += std::norm(u[d] - value * roots_[phase[d]]);
      if (!any || residual < out.residual) {
        out.k = k;
        out.value = value;
        out.residual = residual;
        any = true;
      }
      if (mask == 0 && residual <= p_.singleton_residual) break;  // the usual case
    }
    out.kind = any && out.residual <= p_.singleton_residual ? Candidate::Singleton
                                                            : Candidate::Multiton;
    return out;
  }

  void subtract(const std::vector<std::uint8_t>& k, std::complex<double> value,
                std::vector<std::int64_t>& changed) {
    std::vector<int> phase;
    delay_phases(k, phase);
    for (int c = 0; c < p_.num_groups; ++c) {
      const std::int64_t id = c * B_ + hash(c, k);
      auto* u = bin(id);
      for (int d = 0; d < P_; ++d) u[d] -= value * roots_[phase[d]];
      changed.push_back(id);
    }
  }

  std::complex<double>* U_;
  const std::uint8_t* M_;
  const std::uint8_t* D_;
  PeelParams p_;
  std::int64_t B_ = 1;
  int P_ = 1;
  int list_bits_ = 0;
  std::vector<std::complex<double>> roots_;
};

}  // namespace

PeelResult peel(std::complex<double>* bins, const std::uint8_t* matrices,
                const std::uint8_t* delays, const PeelParams& params) {
  const PeelParams& p = params;
  PLMSCOPE_CHECK(p.q >= 2 && p.q <= 256, "q must be in [2, 256], got q=" << p.q);
  PLMSCOPE_CHECK(p.n >= 1, "n must be >= 1, got n=" << p.n);
  PLMSCOPE_CHECK(p.b >= 1 && p.b <= p.n, "b must be in [1, n=" << p.n << "], got b=" << p.b);
  PLMSCOPE_CHECK(p.num_groups >= 1, "num_groups must be >= 1, got " << p.num_groups);
  PLMSCOPE_CHECK(p.num_repeats >= 1, "num_repeats must be >= 1, got " << p.num_repeats);
  PLMSCOPE_CHECK(p.zeroton_energy >= 0 && p.singleton_residual >= 0,
                 "thresholds must be >= 0, got zeroton_energy=" << p.zeroton_energy
                     << ", singleton_residual=" << p.singleton_residual);
  const std::int64_t P = std::int64_t(p.num_repeats) * (p.n + 1);
  for (std::int64_t i = 0; i < std::int64_t(p.num_groups) * p.n * p.b; ++i)
    PLMSCOPE_CHECK(matrices[i] < p.q, "matrices entry " << i << " = " << int(matrices[i])
                                                        << " is outside [0, q=" << p.q << ")");
  for (std::int64_t i = 0; i < P * p.n; ++i)
    PLMSCOPE_CHECK(delays[i] < p.q, "delays entry " << i << " = " << int(delays[i])
                                                    << " is outside [0, q=" << p.q << ")");
  return Decoder(bins, matrices, delays, p).run();
}

}  // namespace plmscope
