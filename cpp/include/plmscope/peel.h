#pragma once
/// The q-SFT peeling decoder.
///
/// Input: for C subsampling groups, the bins U[c][j][p] = sum over k with M_c^T k = j of
/// F[k] omega^<k, d_p> (j in Z_q^b flattened most-significant first, p over P delays).
/// Delays are R blocks of n + 1 rows: a base row d and its unit shifts d + e_1 .. d + e_n
/// (identity delays: one block with d = 0; NSO delays: R random bases).
///
/// Each bin is classified as a zero-ton (energy sum_p |U|^2 at most `zeroton_energy`), a
/// singleton, or a multiton. A singleton's frequency is read from the phases: for site i,
/// z_i = sum_r conj(U[base_r]) U[base_r + e_i] has phase 2 pi k_i / q (the soft, noise-averaged
/// decision over the R repeats); its value is the projection F = P^-1 sum_p U_p omega^-<k,d_p>.
/// Sites whose phase falls near a decision boundary also keep their runner-up digit (list
/// decoding over at most 2^8 combinations, fewer for small q^b). A candidate is accepted when
/// it hashes back to its own bin (M_c^T k == j) and the residual
/// sum_p |U_p - F omega^<k,d_p>|^2 is the smallest of the list and at most `singleton_residual`. Each accepted coefficient is
/// subtracted from its bin in every group (peeling), and only the bins that changed are
/// examined in the next round, until a round finds nothing new.
///
/// Deterministic for any thread count: candidates are found in parallel, then accepted in
/// (group, bin) order; a frequency found in several groups' bins in one round is peeled once
/// with the mean of its estimates. O((bins examined) (n R + P) + (found) C P) per round.
#include <complex>
#include <cstdint>
#include <vector>

namespace plmscope {

struct PeelParams {
  int q = 2;
  int n = 1;
  int b = 1;
  int num_groups = 1;      // C
  int num_repeats = 1;     // R; P = R (n + 1)
  double zeroton_energy = 0;      // bins with sum_p |U_p|^2 <= this are empty
  double singleton_residual = 0;  // largest residual energy of an accepted singleton
  int max_rounds = 100;
  int nthreads = 0;
};

struct PeelResult {
  std::vector<std::uint8_t> frequencies;  // K x n, in the order found
  std::vector<std::complex<double>> values;
  std::vector<std::int64_t> singletons_per_round;
  std::int64_t bins_left = 0;   // bins still above the zero-ton energy at the end
  double residual_energy = 0;   // sum over all bins and delays of |U|^2 at the end
};

/// Decodes in place: on return U holds the residual bins.
/// `bins`: C x q^b x P complex, C-contiguous. `matrices`: C x n x b, entries in [0, q).
/// `delays`: P x n, entries in [0, q), laid out as described above.
PeelResult peel(std::complex<double>* bins, const std::uint8_t* matrices,
                const std::uint8_t* delays, const PeelParams& params);

}  // namespace plmscope
