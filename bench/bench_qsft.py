"""q-SFT: plmscope against the PyPI packages sparse-transform 0.2.1 and qsft 0.0.2.

Cases (C = 2 subsamples, NSO delays, 2 repeats, b = 4):
  * paper: q = 20, n = 10, 7,040,000 queries, surrogate oracle = the published GB1 transform
    (``gb1-q20-n10/randomcoils.npz`` under ``PLMSCOPE_DATA``) + Gaussian noise at its residual level
    on the real test set; R^2 is measured on the real ``test_x`` / ``test_y``.
  * small: q = 4, n = 10, 11,264 queries, a seeded synthetic truth (40 coefficients of order
    1..3 in conjugate pairs, |F| in [0.5, 1], SNR 10); R^2 on 10,000 random variants with
    noisy answers (the ceiling is SNR / (1 + SNR) = 0.909).

Identical inputs: the peers get plmscope's subsampling matrices and delays and the very same
oracle answers (each point is answered once by the surrogate and served from a table). The
peers shift delays by -e_i where plmscope shifts by +e_i, so they are run on the reflected
function g(x) = f(-x) with delay bases -d_r: g is then asked exactly at plmscope's points
(-(M l - d_r - e_i) = M(-l) + d_r + e_i) and its transform G[k] = F[-k] is mapped back. The
peers are given the true noise sd; plmscope estimates it from the bins ("auto").

Times: design = drawing M and D and computing every query point; dedup = plmscope's
de-duplication (the peers ask duplicates twice and have none); transform = from the answers
to the bins (plmscope: gather, mean, q^b-point FFTs; peers: their FFTs); decode = the
peeling decoder (plmscope: noise estimate + C++ peel; peers: their ``transform`` call);
refine = plmscope's refit and re-peel after peeling, which its result (and the recall
quoted) includes; plmscope runs decoder="peel", the peers' algorithm. The ratios a user sees
are design_x (design + dedup) and decode_x (decode + refine); design_x_no_dedup and decode_x_no_refine are shown beside them. Every
side runs inside ``bench/common.py``'s ``pinned_threads`` at 1 thread and at all cores
(plmscope's nthreads the same), and every time is a median of warm runs: plmscope --trials
(small) / --paper-trials (paper) runs of ``recover`` after one warm-up, each peer
--peer-trials / --paper-peer-trials runs after one warm-up. "bare FFT" is ``qary_fft`` of
the (C P, q^b) samples alone, the transform phase's floor, and "transform_warm" the transform
phase repeated on the same answers, timed in turns with the bare FFT (warm-up, then median): on
this VM memory freed for more than ~0.5 s is handed back to the host and costs ~2.5 ms/MB
to touch again, which the phase inside a run pays for its fresh bins after the oracle
phase (as every peer's phase does) and a repeated call does not. qsft 0.0.2 needs Python <= 3.10
and numpy < 1.24: it runs in a subprocess with --qsft-python (default
/work/venv-qsft/bin/python; make it with ``python3.10 -m venv /work/venv-qsft &&
/work/venv-qsft/bin/pip install "numpy<1.24" qsft==0.0.2``), timed inside the subprocess (its
own threads: OMP and OpenBLAS environment variables set to the row's count).

Accuracy: recall = fraction of the true nonzero-frequency coefficients (k != 0) found; NMSE =
sum |F_hat - F|^2 / sum |F|^2 over k != 0 (the mean is left out: it would dominate); K =
coefficients returned.

Then a sample-efficiency table: plmscope's R^2 on the real GB1 test set for b in {3, 4},
C in {2, 3}, repeats in {1, 2}, and whether R^2 >= 0.71 (the paper's) is reached with at
most half the paper's 7,040,000 queries.

Run: python bench/bench_qsft.py [--trials 5] [--paper-trials 3] [--peer-trials 3]
         [--paper-peer-trials 1] [--threads N] [--skip-peers] [--qsft-python PATH]
         [--cases small,paper,efficiency]   (~10 minutes on 2 cores with sparse-transform)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import (machine_line, paired_median_times, pinned_threads,  # noqa: E402
                    print_table, thread_counts)

from plmscope.fourier import SparseFourier, SurrogateOracle, qary_fft, qsft  # noqa: E402
from plmscope.fourier.qsft import design  # noqa: E402
from plmscope.fourier.qsft.recover import design_bins  # noqa: E402

# The published files (tests/reproduction/README.md): PLMSCOPE_DATA, or the workspace's copy.
DATA = os.path.join(os.environ.get("PLMSCOPE_DATA")
                    or os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"),
                    "gb1-q20-n10", "randomcoils.npz")
PAPER_QUERIES = 7_040_000
PAPER_R2 = 0.71
NUM_SUBSAMPLE, NUM_REPEAT, B = 2, 2, 4


# -- cases ---------------------------------------------------------------------------------

class Case:
    """A truth, the oracle that answers from it, and a held-out set for R^2."""

    def __init__(self, name, q, n, truth, noise_sd, test_x, test_y, test_label):
        self.name, self.q, self.n = name, q, n
        self.truth, self.noise_sd = truth, noise_sd
        self.test_x, self.test_y, self.test_label = test_x, test_y, test_label
        self.oracle = SurrogateOracle(truth, noise_sd, seed=0)


def paper_case() -> Case:
    data = np.load(DATA)
    truth = SparseFourier.load(DATA, q=20)
    residual = data["test_y"] - truth.evaluate(data["test_x"])
    return Case("paper q=20 n=10", 20, 10, truth, float(residual.std()), data["test_x"],
                data["test_y"], "real GB1 test set")


def small_case(seed: int = 0) -> Case:
    q, n, pairs = 4, 10, 20
    rng = np.random.default_rng(seed)
    chosen: dict[bytes, complex] = {}
    freqs, values = [], []
    while len(freqs) < 2 * pairs:
        k = np.zeros(n, dtype=np.uint8)
        sites = rng.choice(n, size=rng.integers(1, 4), replace=False)
        k[sites] = rng.integers(1, q, size=sites.size)
        neg = ((q - k.astype(int)) % q).astype(np.uint8)
        if k.tobytes() in chosen or neg.tobytes() in chosen or k.tobytes() == neg.tobytes():
            continue  # self-conjugate k (entries all 0 or q/2) would need a real value
        v = rng.uniform(0.5, 1.0) * np.exp(2j * np.pi * rng.uniform())
        for row, val in ((k, v), (neg, np.conj(v))):
            chosen[row.tobytes()] = val
            freqs.append(row)
            values.append(val)
    truth = SparseFourier(np.array(freqs), np.array(values), q)
    signal_var = float(np.sum(np.abs(truth.values) ** 2))  # E f^2 for real f (pairs)
    noise_sd = float(np.sqrt(signal_var / 10.0))
    test_x = rng.integers(0, q, size=(10_000, n)).astype(np.uint8)
    test_y = SurrogateOracle(truth, noise_sd, seed=1)(test_x)  # other noise than the oracle
    return Case("small q=4 n=10", q, n, truth, noise_sd, test_x, test_y,
                "10k random variants, noisy")


# -- an oracle answering from a table (identical answers for every method) ------------------

class TableOracle:
    """Answers variants from (sorted codes, answers); ``reflect`` answers g(x) = f(-x)."""

    def __init__(self, codes: np.ndarray, answers: np.ndarray, q: int, reflect: bool = False):
        order = np.argsort(codes, kind="stable")
        self.codes, self.answers, self.q, self.reflect = codes[order], answers[order], q, reflect

    def __call__(self, variants) -> np.ndarray:
        x = np.asarray(variants, dtype=np.int64)
        if self.reflect:
            x = (-x) % self.q
        codes = design.variant_codes(x, self.q)
        pos = np.minimum(np.searchsorted(self.codes, codes), self.codes.size - 1)
        if not np.array_equal(self.codes[pos], codes):
            raise RuntimeError("a peer asked a point outside plmscope's design: inputs differ")
        return self.answers[pos]


class Recorder:
    """Passes queries to an oracle and keeps (codes, answers) for a TableOracle."""

    def __init__(self, oracle, q: int):
        self.oracle, self.q, self.codes, self.answers = oracle, q, [], []

    def __call__(self, variants):
        y = self.oracle(variants)
        self.codes.append(design.variant_codes(variants, self.q))
        self.answers.append(np.asarray(y, dtype=np.float64))
        return y

    def table(self) -> TableOracle:
        return TableOracle(np.concatenate(self.codes), np.concatenate(self.answers), self.q)


def plmscope_design(q: int, n: int, b: int, seed: int = 0):
    """The matrices and delays ``recover(..., seed=seed)`` draws (same calls, same order)."""
    rng = np.random.default_rng(seed)
    matrices = design.subsampling_matrices(rng, q, n, b, NUM_SUBSAMPLE)
    delays = design.delay_rows(rng, q, n, "nso", NUM_REPEAT)
    return matrices, delays


# -- accuracy ------------------------------------------------------------------------------

def accuracy(found: SparseFourier, case: Case) -> dict:
    truth = case.truth
    t_codes = truth.flat_indices()
    f_codes = found.flat_indices()
    t_map = {int(c): v for c, v in zip(t_codes, truth.values) if c != 0}
    f_map: dict[int, complex] = {}
    for c, v in zip(f_codes, found.values):
        if c != 0:
            f_map[int(c)] = f_map.get(int(c), 0) + v
    err = sum(abs(f_map.get(c, 0) - t_map.get(c, 0)) ** 2 for c in set(t_map) | set(f_map))
    y = case.test_y
    yhat = found.evaluate(case.test_x) if len(found) else np.zeros_like(y)
    return {
        "K": len(found), "recall": len(set(t_map) & set(f_map)) / len(t_map),
        "NMSE": err / sum(abs(v) ** 2 for v in t_map.values()),
        "R2": 1.0 - float(np.sum((y - yhat) ** 2) / np.sum((y - y.mean()) ** 2)),
    }


def from_peer(freqs, values, q: int, n: int) -> SparseFourier:
    """A peer's result on g(x) = f(-x) as F: F[k] = G[-k]."""
    freqs = np.asarray(freqs, dtype=np.int64).reshape(-1, n)
    return SparseFourier(((-freqs) % q).astype(np.uint8), np.asarray(values, complex), q)


# -- plmscope ------------------------------------------------------------------------------

def run_plmscope(case: Case, trials: int, counts: list[int]):
    """Median timings per thread count, accuracy (with and without refine), the table of
    answers for the peers, and the first recovery."""
    q, n = case.q, case.n
    # the peeling decoder, as the peers: decoder "auto" would regress at the small case
    # (bench/bench_efficiency.py measures that decoder)
    kwargs = dict(num_subsample=NUM_SUBSAMPLE, delays="nso", num_repeat=NUM_REPEAT, seed=0,
                  batch_size=1_000_000, progress=False, decoder="peel")
    recorder = Recorder(case.oracle, q)
    first = qsft.recover(recorder, q, n, B, **kwargs)  # the warm-up asks the surrogate
    table = recorder.table()
    timings, accs = {}, {}
    for threads in counts:
        with pinned_threads(threads) as pin:
            runs = [qsft.recover(table, q, n, B, nthreads=pin.threads, **kwargs)
                    for _ in range(trials)]
            timings[pin.threads] = {k: statistics.median(r.timings[k] for r in runs)
                                    for k in first.timings}
            timings[pin.threads]["transform_warm"], timings[pin.threads]["bare_fft"] = \
                warm_transform_and_bare_fft(runs[0], table, pin.threads, trials)
        accs[pin.threads] = accuracy(runs[0].transform, case)
    if len({json.dumps(a, sort_keys=True) for a in accs.values()}) > 1:
        raise RuntimeError(f"plmscope differs between thread counts: {accs}")
    peel_only = qsft.recover(table, q, n, B, refine=False, **kwargs)
    return timings, next(iter(accs.values())), accuracy(peel_only.transform, case), table, first


def warm_transform_and_bare_fft(run, table: TableOracle, nthreads: int, trials: int):
    """Median times of the transform phase (recover's design_bins: gather, mean, FFTs)
    repeated on one run's answers, and of the bare FFT (qary_fft of the (C P, q^b) samples
    alone, in design order), timed in turns after a warm-up each. In a run the phase
    follows seconds of oracle calls, and this VM hands memory freed that long ago back to
    its host: a fresh 112 MB array then costs ~0.3 s to touch (np.copy of 128 MB measured
    310-380 ms at that point of a run, 10-15 ms when repeated), which the warm figure
    leaves out and the run's own figure (and every peer's) includes."""
    d = run.design
    answers = table(d.variants)
    samples = answers[d.inverse].reshape(-1, d.plan.num_bins)
    return paired_median_times(lambda: design_bins(d, answers, nthreads),
                               lambda: qary_fft(samples, d.plan.q, nthreads=nthreads), trials)


def peer_median(run, trials: int):
    """(median timings, accuracy) of `trials` warm runs of a peer after one warm-up, or
    (None, reason) when it cannot run."""
    first = run()
    if first[0] is None:
        return first
    runs = [run() for _ in range(trials)]
    return {k: statistics.median(r[0][k] for r in runs) for k in first[0]}, runs[0][1]


# -- sparse-transform 0.2.1 (in this process) ----------------------------------------------

def run_sparse_transform(case: Case, table: TableOracle, matrices, delays,
                         peeling_method: str = "multi-detect"):
    from sparse_transform.qsft import qsft as st
    from sparse_transform.qsft.signals.input_signal_subsampled import SubsampledSignal
    from sparse_transform.qsft.utils.query import get_Ms_and_Ds

    q, n = case.q, case.n
    peer_delays = ((-delays.astype(np.int64)) % q).reshape(NUM_REPEAT, n + 1, n)
    query_args = {"query_method": "complex", "num_subsample": NUM_SUBSAMPLE,
                  "delays_method_source": "identity", "subsampling_method": "qsft",
                  "delays_method_channel": "nso", "num_repeat": NUM_REPEAT, "b": B}
    np.random.seed(0)
    t0 = time.perf_counter()
    get_Ms_and_Ds(n, q, **query_args)  # its own draw of M and D: timed, then replaced
    draw = time.perf_counter() - t0
    spent = {"points": 0.0}
    oracle = TableOracle(table.codes, table.answers, q, reflect=True)

    class Injected(SubsampledSignal):
        def _set_Ms_and_Ds_qsft(self):
            self.Ms = [m.astype(np.int64) for m in matrices]
            self.Ds = [[peer_delays[r] for r in range(NUM_REPEAT)] for _ in matrices]

        def _get_qsft_query_indices(self, M, D_sub, dec=True):
            t = time.perf_counter()
            out = super()._get_qsft_query_indices(M, D_sub, dec=dec)
            spent["points"] += time.perf_counter() - t
            return out

    signal = Injected(func=oracle, n=n, q=q, noise_sd=case.noise_sd, query_args=query_args)
    fft_seconds = float(sum(t[B] for row in signal.transformTimes for t in row))
    t0 = time.perf_counter()
    result = st.transform(signal, reconstruct_method_source="identity",
                          reconstruct_method_channel="nso-soft", b=B,
                          num_subsample=NUM_SUBSAMPLE, num_repeat=NUM_REPEAT,
                          noise_sd=case.noise_sd, peeling_method=peeling_method)
    decode = time.perf_counter() - t0
    freqs = np.array([k for k in result], dtype=np.int64).reshape(-1, n)
    values = np.array([result[k] for k in result], dtype=complex)
    timings = {"design": draw + spent["points"], "transform": fft_seconds, "decode": decode}
    return timings, accuracy(from_peer(freqs, values, q, n), case)


# -- qsft 0.0.2 (a Python 3.10 venv, in a subprocess) --------------------------------------

QSFT_PEER_SCRIPT = r'''
import json, sys, time
import numpy as np
from qsft.input_signal_subsampled import SubsampledSignal
from qsft.peel import QSFT
from qsft.query import get_Ms_and_Ds

inp = np.load(sys.argv[1])
q, n, b, C, R = (int(inp[k]) for k in ("q", "n", "b", "C", "R"))
noise_sd = float(inp["noise_sd"])
codes, answers = inp["codes"], inp["answers"]
Ms = [m.astype(np.int64) for m in inp["matrices"]]
D = inp["peer_delays"].astype(np.int64).reshape(R, n + 1, n)
weights = q ** np.arange(n - 1, -1, -1, dtype=np.int64)
spent = {"points": 0.0, "oracle": 0.0}

def oracle(indices):  # decimal indices of g's points; g(x) = f(-x) from the table
    t = time.perf_counter()
    y = np.asarray(indices, dtype=np.int64)
    x = (-((y[:, None] // weights) % q)) % q
    c = x @ weights
    pos = np.minimum(np.searchsorted(codes, c), codes.size - 1)
    if not np.array_equal(codes[pos], c):
        raise RuntimeError("asked a point outside plmscope's design")
    spent["oracle"] += time.perf_counter() - t
    return answers[pos]

class Injected(SubsampledSignal):
    def _set_Ms_and_Ds_qsft(self):
        self.Ms = Ms
        self.Ds = [[D[r] for r in range(R)] for _ in Ms]

    def _get_qsft_query_indices(self, M, D_sub):
        t = time.perf_counter()
        out = super()._get_qsft_query_indices(M, D_sub)
        spent["points"] += time.perf_counter() - t
        return out

query_args = {"query_method": "complex", "num_subsample": C, "delays_method_source": "identity",
              "subsampling_method": "qsft", "delays_method_channel": "nso", "num_repeat": R,
              "b": b}
np.random.seed(0)
t0 = time.perf_counter()
get_Ms_and_Ds(n, q, **query_args)  # its own draw of M and D: timed, then replaced
draw = time.perf_counter() - t0
signal = Injected(func=oracle, n=n, q=q, noise_sd=noise_sd, query_args=query_args)
fft_seconds = float(sum(t[b] for row in signal.transformTimes for t in row))
sft = QSFT(reconstruct_method_source="identity", reconstruct_method_channel="nso",
           num_subsample=C, num_repeat=R, b=b)
t0 = time.perf_counter()
result = sft.transform(signal, verbosity=0, report=False)
decode = time.perf_counter() - t0
freqs = np.array([[int(v) for v in k] for k in result], dtype=np.int64).reshape(-1, n)
values = np.array([complex(result[k]) for k in result], dtype=complex)
np.savez(sys.argv[2], freqs=freqs, values=values, timings=json.dumps(
    {"design": draw + spent["points"], "transform": fft_seconds, "decode": decode}))
'''


def run_qsft_peer(case: Case, table: TableOracle, matrices, delays, python: str,
                  threads: int = 1):
    """(timings, accuracy) or (None, reason) when the peer cannot run."""
    if not os.path.exists(python):
        return None, f"no Python at {python} (make a Python 3.10 venv with numpy<1.24 qsft==0.0.2)"
    probe = subprocess.run([python, "-c", "import qsft.peel, numpy; print(numpy.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode:
        return None, "cannot import qsft 0.0.2: " + probe.stderr.strip().splitlines()[-1]
    q, n = case.q, case.n
    with tempfile.TemporaryDirectory(prefix="bench_qsft_") as tmp:
        inp, out, script = (os.path.join(tmp, f) for f in ("in.npz", "out.npz", "peer.py"))
        with open(script, "w") as fh:
            fh.write(QSFT_PEER_SCRIPT)
        np.savez(inp, q=q, n=n, b=B, C=NUM_SUBSAMPLE, R=NUM_REPEAT, noise_sd=case.noise_sd,
                 codes=table.codes, answers=table.answers, matrices=matrices,
                 peer_delays=(-delays.astype(np.int64)) % q)
        env = {**os.environ, **{k: str(threads) for k in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
        run = subprocess.run([python, script, inp, out], capture_output=True, text=True,
                             env=env)
        if run.returncode:
            return None, "qsft 0.0.2 failed: " + run.stderr.strip()[-500:]
        res = np.load(out)
        timings = json.loads(str(res["timings"]))
        return timings, accuracy(from_peer(res["freqs"], res["values"], q, n), case)


# -- the report ----------------------------------------------------------------------------

def compare(case: Case, args, trials: int, peer_trials: int):
    q, n = case.q, case.n
    counts = thread_counts(args.threads)
    plan = qsft.plan(q, n, B, NUM_SUBSAMPLE, "nso", NUM_REPEAT)
    print(f"\n== {case.name}: b={B}, C={NUM_SUBSAMPLE}, NSO x{NUM_REPEAT} (P={plan.num_delays}), "
          f"{plan.num_samples:,} queries; |truth|={len(case.truth)}, noise sd "
          f"{case.noise_sd:.4g}; R2 on the {case.test_label} ==")
    print(plan)
    timings, acc, acc_peel, table, first = run_plmscope(case, trials, counts)
    matrices, delays = plmscope_design(q, n, B)
    ours = {f"plmscope {t} thread(s)": timings[t] for t in timings}
    peers, peer_acc = {}, {}
    if not args.skip_peers:
        for threads in counts:
            with pinned_threads(threads) as pin:
                t, a = peer_median(lambda: run_sparse_transform(case, table, matrices, delays),
                                   peer_trials)
                peers[f"sparse-transform 0.2.1 nso-soft {pin.threads} thread(s)"] = t
                peer_acc["sparse-transform"] = a
                t, a = peer_median(lambda: run_qsft_peer(case, table, matrices, delays,
                                                         args.qsft_python, pin.threads),
                                   peer_trials)
                if t is None:
                    print(f"qsft 0.0.2: not run: {a}")
                else:
                    peers[f"qsft 0.0.2 nso {pin.threads} thread(s)"], peer_acc["qsft 0.0.2"] = t, a
    print(f"times (s), medians of warm runs: plmscope {trials}, peers {peer_trials}; "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores:")
    print_table([{"method": m, **{k: t.get(k, "") for k in
                                  ("design", "dedup", "transform", "transform_warm",
                                   "bare_fft", "decode", "refine")}}
                 for m, t in {**ours, **peers}.items()],
                ["method", "design", "dedup", "transform", "transform_warm", "bare_fft",
                 "decode", "refine"])
    for label, t in ours.items():
        print(f"{label}: transform phase warm {t['transform_warm']:.4f} s = "
              f"{t['transform_warm'] / t['bare_fft']:.2f}x the bare FFT ({t['bare_fft']:.4f} s, "
              f"timed the same way; target <= 1.5x); in the run {t['transform']:.4f} s "
              "(fresh memory after the oracle phase: see warm_transform_and_bare_fft)")
    if peers:
        print("ratios (peer time / plmscope time, same thread count; design_x includes "
              "de-duplication, decode_x includes refine):")
        rows = []
        for pm, pt in peers.items():
            count = pm.rsplit(" ", 2)[-2]
            ot = ours[f"plmscope {count} thread(s)"]
            rows.append({"peer": pm.rsplit(" ", 2)[0], "threads": count,
                         "design_x": pt["design"] / (ot["design"] + ot["dedup"]),
                         "design_x_no_dedup": pt["design"] / ot["design"],
                         "transform_x": pt["transform"] / ot["transform"],
                         "decode_x": pt["decode"] / (ot["decode"] + ot["refine"]),
                         "decode_x_no_refine": pt["decode"] / ot["decode"]})
        print_table(rows, ["peer", "threads", "design_x", "design_x_no_dedup", "transform_x",
                           "decode_x", "decode_x_no_refine"])
    print("accuracy (recall and NMSE over k != 0):")
    print_table([{"method": m, **a} for m, a in
                 {"plmscope (refine, default)": acc, "plmscope peel only (refine=False)": acc_peel,
                  **peer_acc}.items()], ["method", "K", "recall", "NMSE", "R2"])
    print(f"plmscope: {first.num_queries:,} distinct oracle calls for {first.num_samples:,} "
          f"design points (duplicates found by {getattr(first, 'dedup', 'sort')}); noise sd estimated "
          f"{first.noise_sd:.4g} (true {case.noise_sd:.4g}); singletons per round "
          f"{first.singletons_per_round}; bins left {first.bins_left}")
    missed_report(case, first, matrices)
    if peers:
        better = all(acc["recall"] >= a["recall"] and acc["NMSE"] <= a["NMSE"]
                     for a in peer_acc.values())
        for label, t in ours.items():
            count = label.split(" ")[1]
            same = [p for m, p in peers.items() if m.endswith(f" {count} thread(s)")]
            d_x = min(p["decode"] for p in same) / (t["decode"] + t["refine"])
            g_x = min(p["design"] for p in same) / (t["design"] + t["dedup"])
            print(f"targets, {label} vs the faster peer at {count} thread(s): decode+refine "
                  f"{d_x:.1f}x (>= 100x: {'met' if d_x >= 100 else 'NOT met'}); design+dedup "
                  f"{g_x:.1f}x (>= 10x: {'met' if g_x >= 10 else 'NOT met'})")
        print(f"target: recall and NMSE equal or better than every peer: "
              f"{'met' if better else 'NOT met'}")
    return first


def missed_report(case: Case, recovery, matrices) -> None:
    """Why true coefficients were missed: alone in their bins (noise) or colliding."""
    from plmscope.fourier.qsft.refine import bin_ids

    truth, q = case.truth, case.q
    found = set(recovery.transform.flat_indices().tolist())
    missed = [i for i, c in enumerate(truth.flat_indices()) if c != 0 and int(c) not in found]
    if not missed:
        return
    ids = bin_ids(truth.frequencies, matrices, q)                 # (K, C)
    load = [np.bincount(ids[:, c] - c * q**B) for c in range(ids.shape[1])]
    alone = sum(all(load[c][ids[i, c] - c * q**B] == 1 for c in range(ids.shape[1]))
                for i in missed)
    mags = np.abs(truth.values[missed])
    print(f"missed {len(missed)} true coefficients (|F| {mags.min():.3g}..{mags.max():.3g}; "
          f"noise per bin entry {case.noise_sd / np.sqrt(q**B):.3g}); {alone} of them are alone "
          f"in their bin in every group, so the singleton's k was not decoded (soft NSO phase "
          f"errors at q={q}: the decision half-width is pi/q = {np.pi / q:.3g} rad)")


def sample_efficiency(case: Case, paper_run) -> None:
    ceiling = accuracy(case.truth, case)["R2"]
    print(f"\n== sample efficiency: plmscope on the {case.name} surrogate, R2 on the "
          f"{case.test_label}; paper: R2 {PAPER_R2} with {PAPER_QUERIES:,} queries; the "
          f"surrogate's own transform scores {ceiling:.4f} ==")
    rows = []
    for b in (3, 4):
        for C in (2, 3):
            for R in (1, 2):
                if (b, C, R) == (B, NUM_SUBSAMPLE, NUM_REPEAT) and paper_run is not None:
                    res = paper_run
                else:
                    res = qsft.recover(case.oracle, case.q, case.n, b, num_subsample=C,
                                       delays="nso", num_repeat=R, seed=0,
                                       batch_size=1_000_000, progress=False)
                acc = accuracy(res.transform, case)
                rows.append({"b": b, "C": C, "repeats": R, "queries": res.num_samples,
                             "oracle_calls": res.num_queries,
                             "vs_paper": res.num_samples / PAPER_QUERIES, **acc})
    print_table(rows, ["b", "C", "repeats", "queries", "oracle_calls", "vs_paper", "K",
                       "recall", "NMSE", "R2"])
    half = [r for r in rows if r["queries"] <= PAPER_QUERIES / 2]
    best = max(half, key=lambda r: r["R2"])
    verdict = "reached" if best["R2"] >= PAPER_R2 else (
        f"NOT reached (short by {PAPER_R2 - best['R2']:.4f}; it rounds to "
        f"{best['R2']:.2f} at the paper's 2 digits)")
    print(f"paper R2 {PAPER_R2} with <= half the paper's queries: {verdict} (best: b={best['b']}, "
          f"C={best['C']}, repeats={best['repeats']}, {best['queries']:,} queries, "
          f"R2 {best['R2']:.4f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=5, help="plmscope runs, small case (median)")
    ap.add_argument("--paper-trials", type=int, default=3,
                    help="plmscope runs per thread setting, paper case (median)")
    ap.add_argument("--peer-trials", type=int, default=3,
                    help="warm runs of each peer, small case (median)")
    ap.add_argument("--paper-peer-trials", type=int, default=1,
                    help="warm runs of each peer, paper case (median; after a warm-up)")
    ap.add_argument("--threads", type=int, default=0,
                    help="one thread count for every side (default: 1 and all cores)")
    ap.add_argument("--skip-peers", action="store_true", help="only plmscope")
    ap.add_argument("--qsft-python", default=os.environ.get("PLMSCOPE_QSFT_PYTHON",
                                                            "/work/venv-qsft/bin/python"))
    ap.add_argument("--cases", default="small,paper,efficiency",
                    help="comma-separated subset of small, paper, efficiency")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    print(machine_line(args.threads) + " (a shared machine: wall times are noisy)")
    if "small" in cases:
        compare(small_case(), args, args.trials, args.peer_trials)
    if cases & {"paper", "efficiency"}:
        paper = paper_case()
        paper_run = (compare(paper, args, args.paper_trials, args.paper_peer_trials)
                     if "paper" in cases else None)
        if "efficiency" in cases:
            sample_efficiency(paper, paper_run)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
