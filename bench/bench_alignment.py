"""Global PAM250 alignment: plmscope.alignment against a bare parasail loop and Biopython.

Data (seed 0): a family of 400 proteins, each a copy of one random 350-residue sequence with
substitutions, insertions and deletions at a rate drawn from U(0, 0.8), so identities span
the whole range; --pairs (20,000) random pairs of them.

Every side runs inside ``pinned_threads`` at the same thread count (1 and all cores unless
--threads is given) and is timed as a warm median (one warm-up, then --trials runs).

Score and identity (traceback) rows:
  plmscope          align_pairs(..., identity=True, nthreads=threads): parasail
                    nw_trace_scan_16 (doubled PAM250, open 20 / extend 1, score halved),
                    identity from the traceback CIGAR, tasks of 64 pairs on a thread pool
  bare parasail     the loop a user writes around the same parasail call, same matrix and
                    penalties, same CIGAR count, on a thread pool of the same size
  Biopython         PairwiseAligner(PAM250, open -10, extend -0.5): align()[0] and
                    counts().identities, on the first --bio-pairs pairs; with more than one
                    thread on a warm process pool of that size (it holds the GIL)
Score-only rows: the same without traceback (align_pairs(..., identity=False); parasail
nw_scan_16; Biopython's PairwiseAligner.score()).
Rates are pairs/s; ratios are the peer's time per pair over plmscope's, same threads, same
run. Scores are checked to be identical to Biopython's and to the bare loop's; identity
differences against Biopython (ties between optimal alignments, docs/geometry.md) are
reported. Run: python bench/bench_alignment.py [--threads N --pairs 20000 --trials 3
--bio-pairs 1000 --bio-score-pairs 4000].
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import (machine_line, median_time, pinned_threads, print_table,  # noqa: E402
                    thread_counts)

from plmscope.alignment import align_pairs  # noqa: E402
from plmscope.alignment.scoring import biopython_aligner, parasail_matrix  # noqa: E402

AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
TASK = 64  # pairs per pool task, as plmscope uses


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


def bare_parasail(seqs, pairs, identity: bool, workers: int):
    """The plain parasail loop: same call, matrix and penalties as plmscope, no plmscope."""
    import parasail

    matrix = parasail_matrix()
    fn16, fn32 = ((parasail.nw_trace_scan_16, parasail.nw_trace_scan_32) if identity
                  else (parasail.nw_scan_16, parasail.nw_scan_32))
    score = np.empty(len(pairs))
    ident = np.empty(len(pairs)) if identity else None

    def one(start):
        for k in range(start, min(start + TASK, len(pairs))):
            i, j = pairs[k]
            r = fn16(seqs[i], seqs[j], 20, 1, matrix)
            if r.saturated:
                r = fn32(seqs[i], seqs[j], 20, 1, matrix)
            score[k] = r.score / 2.0
            if identity:
                same = total = 0
                for v in r.get_cigar().seq.tolist():
                    total += v >> 4
                    if v & 0xF == 7:  # '=' identical
                        same += v >> 4
                ident[k] = same / total

    starts = range(0, len(pairs), TASK)
    if workers == 1:
        for s in starts:
            one(s)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, starts))
    return score, ident


_BIO = {}


def _bio_init(seqs):
    _BIO["seqs"], _BIO["aligner"] = seqs, biopython_aligner()


def _bio_chunk(args):
    chunk, identity = args
    seqs, aligner = _BIO["seqs"], _BIO["aligner"]
    if not identity:
        return [(aligner.score(seqs[i], seqs[j]), 0.0) for i, j in chunk]
    out = []
    for i, j in chunk:
        aln = aligner.align(seqs[i], seqs[j])[0]
        out.append((aln.score, aln.counts().identities / aln.length))
    return out


class Biopython:
    """Biopython over pairs on `workers` processes (a warm pool), or in this process for 1."""

    def __init__(self, seqs, workers: int):
        self.workers = workers
        self.pool = None
        if workers > 1:
            self.pool = ProcessPoolExecutor(workers, initializer=_bio_init, initargs=(seqs,))
        else:
            _bio_init(seqs)

    def __call__(self, pairs, identity: bool):
        tasks = [(pairs[s:s + TASK].tolist(), identity) for s in range(0, len(pairs), TASK)]
        parts = self.pool.map(_bio_chunk, tasks) if self.pool else map(_bio_chunk, tasks)
        res = np.array([r for part in parts for r in part]).reshape(-1, 2)
        return res[:, 0], res[:, 1]

    def close(self):
        if self.pool:
            self.pool.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for every side (0 = report 1 thread and all cores)")
    ap.add_argument("--pairs", type=int, default=20_000)
    ap.add_argument("--bio-pairs", type=int, default=1_000,
                    help="pairs for Biopython with traceback (it is slow)")
    ap.add_argument("--bio-score-pairs", type=int, default=4_000,
                    help="pairs for Biopython's score()")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    seqs = make_family(400, 350, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    pairs = rng.integers(0, len(seqs), size=(args.pairs, 2))
    bio_pairs, bio_score_pairs = pairs[: args.bio_pairs], pairs[: args.bio_score_pairs]

    ref = align_pairs(seqs, pairs, identity=True)
    assert ref.backend == "parasail", "parasail is not installed or disagrees with Biopython"
    rows = []
    checks = []
    for threads in thread_counts(args.threads):
        with pinned_threads(threads) as pinned:
            t = pinned.threads
            bio = Biopython(seqs, t)
            try:
                for identity in (True, False):
                    what = "score+identity" if identity else "score only"
                    t_ours = median_time(lambda: align_pairs(seqs, pairs, identity=identity,
                                                             nthreads=t), args.trials)
                    t_bare = median_time(lambda: bare_parasail(seqs, pairs, identity, t),
                                         args.trials)
                    sub = bio_pairs if identity else bio_score_pairs
                    t_bio = median_time(lambda: bio(sub, identity), args.trials)
                    per_ours = t_ours / len(pairs)
                    for impl, secs, count in (("plmscope", t_ours, len(pairs)),
                                              ("bare parasail", t_bare, len(pairs)),
                                              ("Biopython", t_bio, len(sub))):
                        rows.append({"task": what, "impl": impl, "threads": t, "pairs": count,
                                     "seconds": secs, "pairs_per_s": count / secs,
                                     "vs_plmscope": secs / count / per_ours,
                                     "load": os.getloadavg()[0]})
                    if threads == thread_counts(args.threads)[0]:
                        b_score, b_ident = bare_parasail(seqs, pairs, identity, t)
                        o_score, o_ident = bio(sub, identity)
                        checks.append((identity, b_score, b_ident, o_score, o_ident, len(sub)))
            finally:
                bio.close()

    lengths = np.array([len(s) for s in seqs])
    print(f"{len(seqs)} proteins, length {lengths.min()}-{lengths.max()} (mean "
          f"{lengths.mean():.0f}); identity range {ref.identity.min():.2f}-"
          f"{ref.identity.max():.2f}")
    print(machine_line(args.threads) + "  (load: 1-minute average at the end; per row below)")
    print("vs_plmscope = peer seconds per pair / plmscope seconds per pair, same threads, "
          "same run (Biopython on its own first pairs)")
    print_table(rows, ["task", "impl", "threads", "pairs", "seconds", "pairs_per_s",
                       "vs_plmscope", "load"])
    for identity, b_score, b_ident, o_score, o_ident, m in checks:
        assert np.array_equal(b_score, ref.score), "the bare parasail loop's scores differ"
        same = bool(np.array_equal(o_score, ref.score[:m]))
        line = f"{'score+identity' if identity else 'score only'}: scores identical to " \
               f"Biopython's on {m} pairs: {same}"
        if identity:
            assert np.array_equal(b_ident, ref.identity)
            diff = np.abs(o_ident - ref.identity[:m])
            line += (f"; identity |diff| vs Biopython: max {diff.max():.4f}, mean "
                     f"{diff.mean():.5f}, pairs differing {np.mean(diff > 0):.1%}")
        print(line)


if __name__ == "__main__":
    main()
