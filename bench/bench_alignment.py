"""Global PAM250 alignment with identities: plmscope.alignment against single-core Biopython.

Data (seed 0): a family of 400 proteins, each a copy of one random 350-residue sequence with
substitutions, insertions and deletions at a rate drawn from U(0, 0.8), so identities span
the whole range; 20,000 random pairs of them (default).

Rows:
  plmscope parasail   align_pairs(..., identity=True): parasail nw_trace_scan (16-bit, doubled
                      PAM250, open 20 / extend 1, score halved), identity from the traceback
                      CIGAR, ThreadPoolExecutor over all cores (parasail releases the GIL)
  same, 1 thread      the fast path on one core
  score only          align_pairs(..., identity=False): parasail nw_scan, no traceback
  Biopython           PairwiseAligner(PAM250, open -10, extend -0.5), align()[0] and
                      counts().identities, one core, on the first --bio-pairs pairs (it is
                      slow); its rate is pairs/s, and the ratios compare rates
Scores are checked to be identical on the Biopython subset; identity differences (ties
between optimal alignments) are reported. Run: python bench/bench_alignment.py
[--pairs 20000 --trials 3 --bio-pairs 1000].
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import median_time, print_table  # noqa: E402

from plmscope.alignment import align_pairs  # noqa: E402

AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def make_family(count: int, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    base = rng.choice(AA, length)
    family = []
    for rate in rng.uniform(0.0, 0.8, count):
        out = []
        for c in base:
            r = rng.random()
            if r < rate / 3:
                continue  # deletion
            if r < 2 * rate / 3:
                out.append(rng.choice(AA))  # insertion before the residue
            out.append(rng.choice(AA) if 2 * rate / 3 <= r < rate else c)
        family.append("".join(out))
    return family


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20_000)
    ap.add_argument("--bio-pairs", type=int, default=1_000)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    seqs = make_family(400, 350, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    pairs = rng.integers(0, len(seqs), size=(args.pairs, 2))
    cores = os.cpu_count()

    fast = align_pairs(seqs, pairs, nthreads=0)
    assert fast.backend == "parasail", "parasail is not installed or disagrees with Biopython"
    t_fast = median_time(lambda: align_pairs(seqs, pairs, nthreads=0), args.trials)
    t_one = median_time(lambda: align_pairs(seqs, pairs, nthreads=1), args.trials)
    t_score = median_time(lambda: align_pairs(seqs, pairs, identity=False), args.trials)

    sub = pairs[: args.bio_pairs]
    align_pairs(seqs, sub[:20], backend="biopython")  # warm-up
    t0 = time.perf_counter()
    bio = align_pairs(seqs, sub, backend="biopython")
    t_bio = time.perf_counter() - t0
    bio_rate = len(sub) / t_bio

    same = bool(np.array_equal(bio.score, fast.score[: len(sub)]))
    diff = np.abs(bio.identity - fast.identity[: len(sub)])
    rows = [
        {"impl": "plmscope parasail", "threads": cores, "pairs": args.pairs,
         "seconds": t_fast, "pairs_per_s": args.pairs / t_fast,
         "vs_biopython": args.pairs / t_fast / bio_rate},
        {"impl": "plmscope parasail", "threads": 1, "pairs": args.pairs, "seconds": t_one,
         "pairs_per_s": args.pairs / t_one, "vs_biopython": args.pairs / t_one / bio_rate},
        {"impl": "plmscope score only", "threads": cores, "pairs": args.pairs,
         "seconds": t_score, "pairs_per_s": args.pairs / t_score,
         "vs_biopython": args.pairs / t_score / bio_rate},
        {"impl": "Biopython align+counts", "threads": 1, "pairs": len(sub), "seconds": t_bio,
         "pairs_per_s": bio_rate, "vs_biopython": 1.0},
    ]
    lengths = np.array([len(s) for s in seqs])
    print(f"{len(seqs)} proteins, length {lengths.min()}-{lengths.max()} (mean "
          f"{lengths.mean():.0f}); cores {cores}; load {os.getloadavg()[0]:.2f}")
    print("vs_biopython = pairs/s over single-core Biopython's pairs/s (with identities)")
    print_table(rows, ["impl", "threads", "pairs", "seconds", "pairs_per_s", "vs_biopython"])
    print(f"scores identical to Biopython on {len(sub)} pairs: {same}; identity |diff|: "
          f"max {diff.max():.4f}, mean {diff.mean():.5f}, pairs differing "
          f"{np.mean(diff > 0):.1%}; identity range {fast.identity.min():.2f}-"
          f"{fast.identity.max():.2f}")


if __name__ == "__main__":
    main()
